//! `text/html`: visible text only, through html5gum, a WHATWG-conformant
//! HTML tokenizer; the renderer is its emitter (no events, no tokens, no
//! attribute copies).
//!
//! Visible text needs no DOM, only the token stream in document order, so
//! there is no tree construction (a third of the cost of the whole parse
//! stage with html5ever + scraper). Scripts, styles, titles and the other
//! raw-text elements are switched into their tokenizer states by the tag
//! name (html5gum's `naive_next_state`, as the tree builder would) and dropped,
//! with templates, SVG and objects; comments are dropped; entities are
//! decoded by the tokenizer; block elements become line breaks; table cells
//! of a row are joined with ` | ` so line items stay one row per line.
//! What a tree builder would add is not rendered here: mis-nested tags and
//! implied end tags (`<p>a<p>b`) still give the same text, in source order,
//! with fewer blank lines. Nothing recurses, so deep nesting is harmless.

use super::{normalize, text::decode, Extracted};
use html5gum::{naive_next_state, Emitter, State, Tokenizer};

/// Elements whose content is never visible. (`head` is not among them:
/// its only text lives in `title`, `style` and `script`.)
#[cfg_attr(not(test), allow(dead_code))] // the lists behind `class` (tested against them)
const HIDDEN: [&[u8]; 8] = [b"script", b"style", b"noscript", b"template", b"title", b"svg", b"iframe", b"object"];

/// What a tag name does to the text: one `match` per tag (a length test
/// and a comparison or two), where separate tests for hidden, block and
/// table names each compared again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    /// In [`HIDDEN`], not `svg` / `object`.
    Hidden,
    /// `svg`, `object`: hidden, but `<svg/>` ends at once.
    HiddenUnlessSelfClosing,
    Br,
    Tr,
    /// `td`, `th`.
    Cell,
    /// `pre`: a block whose text keeps its whitespace.
    Pre,
    /// `p`, `h1`–`h6`: blocks followed by a blank line.
    Para,
    /// The other [`BLOCKS`].
    Block,
    /// `listing`, `textarea`: a line feed right after the start tag is dropped.
    SkipLf,
    Other,
}

#[inline]
fn class(name: &[u8]) -> Class {
    match name {
        b"td" | b"th" => Class::Cell,
        b"tr" => Class::Tr,
        b"p" | b"h1" | b"h2" | b"h3" | b"h4" | b"h5" | b"h6" => Class::Para,
        b"br" => Class::Br,
        b"pre" => Class::Pre,
        b"script" | b"style" | b"noscript" | b"template" | b"title" | b"iframe" => Class::Hidden,
        b"svg" | b"object" => Class::HiddenUnlessSelfClosing,
        b"address" | b"article" | b"aside" | b"blockquote" | b"body" | b"caption" | b"center" | b"dd" | b"details"
        | b"dialog" | b"div" | b"dl" | b"dt" | b"fieldset" | b"figcaption" | b"figure" | b"footer" | b"form"
        | b"header" | b"hr" | b"li" | b"main" | b"nav" | b"ol" | b"section" | b"table" | b"ul" => Class::Block,
        b"listing" | b"textarea" => Class::SkipLf,
        _ => Class::Other,
    }
}

/// Whether `name` is in [`HIDDEN`].
#[cfg(test)]
fn is_hidden(name: &[u8]) -> bool {
    matches!(class(name), Class::Hidden | Class::HiddenUnlessSelfClosing)
}

/// Whether `name` is in [`BLOCKS`].
#[cfg(test)]
fn is_block(name: &[u8]) -> bool {
    matches!(class(name), Class::Block | Class::Para | Class::Pre)
}

/// Elements that start and end a line.
#[cfg_attr(not(test), allow(dead_code))]
const BLOCKS: [&[u8]; 35] = [
    b"address", b"article", b"aside", b"blockquote", b"body", b"caption", b"center", b"dd", b"details", b"dialog",
    b"div", b"dl", b"dt", b"fieldset", b"figcaption", b"figure", b"footer", b"form", b"h1", b"h2", b"h3", b"h4", b"h5",
    b"h6", b"header", b"hr", b"li", b"main", b"nav", b"ol", b"p", b"pre", b"section", b"table", b"ul",
];

/// Which kind of tag html5gum is reading.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum TagKind {
    #[default]
    None,
    Start,
    End,
}

/// The renderer, written as html5gum's [`Emitter`]: the tokenizer calls it
/// directly, with no event layer, no token queue and no copies of attribute
/// names and values (attributes are never read). It renders what the
/// callback emitter (`CallbackEmitter` with `naively_switch_states`) fed to
/// the renderer before, event for event: the characters of a text run are
/// collected and rendered when the run ends (at the next tag, comment,
/// doctype or the end of input), a start tag is seen when its name is
/// complete (the first attribute or the `>`) and again at its `>`, and any
/// tag, comment or doctype ends the "line feed after `<pre>`" window.
#[derive(Default)]
struct Render {
    out: String,
    /// Depth inside hidden elements.
    hidden: usize,
    /// Depth inside `<pre>`.
    pre: usize,
    /// Cells already written in the current `<tr>`.
    cell_in_row: usize,
    /// A line feed right after `<pre>`, `<listing>` or `<textarea>` is not content.
    skip_lf: bool,
    /// Characters of the current text run not yet rendered (only while no
    /// hidden element is open): see [`Render::emit_string`].
    chars: Vec<u8>,
    /// While a text run is being rendered piece by piece: whether what it
    /// wrote so far leaves a collapsible space (`push_text`'s state, which
    /// the text written does not always tell: a no-break space is written
    /// as a space that does not collapse the next one). `None` between runs.
    run_last_space: Option<bool>,
    /// Collect every text run and render it at its end (the reference the
    /// piecewise rendering is tested against).
    buffer_runs: bool,
    /// Name of the tag being read, until a start tag's name is complete.
    name: Vec<u8>,
    /// The last start tag's name (for the end of raw-text elements); empty after an end tag.
    last_start_tag: Vec<u8>,
    kind: TagKind,
    self_closing: bool,
    /// The rendered text, once the input has ended: the one token.
    done: Option<String>,
}

impl Render {
    /// Ends the text run: renders what is left of it (most calls find
    /// nothing: inlined test).
    #[inline]
    fn flush_chars(&mut self) {
        if !self.chars.is_empty() {
            self.render_chars();
        }
        self.run_last_space = None;
    }

    /// Renders the collected characters of the text run.
    fn render_chars(&mut self) {
        let skip_lf = std::mem::take(&mut self.skip_lf);
        let value = if skip_lf { self.chars.strip_prefix(b"\n").unwrap_or(&self.chars) } else { &self.chars[..] };
        let last_space = self.run_last_space.unwrap_or_else(|| ends_in_space(&self.out));
        self.run_last_space = Some(if value.is_ascii() {
            // SAFETY: ASCII is UTF-8. (Most runs are; `from_utf8` per run cost more.)
            push_text(&mut self.out, unsafe { std::str::from_utf8_unchecked(value) }, self.pre > 0, last_space)
        } else {
            match std::str::from_utf8(value) {
                Ok(t) => push_text(&mut self.out, t, self.pre > 0, last_space),
                Err(_) => push_text(&mut self.out, &String::from_utf8_lossy(value), self.pre > 0, last_space),
            }
        });
        self.chars.clear();
    }

    /// Renders one piece of a text run as html5gum reads it, where
    /// collecting the run first cost a copy per piece (a `memcpy` call for
    /// a few bytes, ≈ 100 pieces a document) and a growing buffer.
    /// Rendering is a left-to-right pass whose only state is
    /// `run_last_space`, so piece by piece it writes what the whole run
    /// would. Pieces end at ASCII bytes (`<`, `&`, `\r`, NUL) or are
    /// decoded characters, so each is UTF-8; one that is not (not seen)
    /// goes to the buffer with the rest of its run.
    fn render_piece(&mut self, c: &[u8]) {
        let t = if c.is_ascii() {
            // SAFETY: ASCII is UTF-8.
            unsafe { std::str::from_utf8_unchecked(c) }
        } else {
            match std::str::from_utf8(c) {
                Ok(t) => t,
                Err(_) => return self.chars.extend_from_slice(c),
            }
        };
        let last_space = self.run_last_space.unwrap_or_else(|| ends_in_space(&self.out));
        self.run_last_space = Some(push_text(&mut self.out, t, self.pre > 0, last_space));
    }

    /// The text run ends; a start tag's name, once complete, becomes the last start tag.
    fn flush_open_start_tag(&mut self) {
        self.flush_chars();
        if self.kind == TagKind::Start && !self.name.is_empty() {
            self.skip_lf = false;
            std::mem::swap(&mut self.last_start_tag, &mut self.name);
            self.name.clear();
        }
    }

    fn start_tag(&mut self) {
        self.skip_lf = false;
        let c = class(&self.last_start_tag);
        match c {
            Class::Hidden => self.hidden += 1,
            // `<svg/>` and `<object/>` end at once; `<script/>` does not (HTML ignores the slash).
            Class::HiddenUnlessSelfClosing if !self.self_closing => self.hidden += 1,
            Class::HiddenUnlessSelfClosing => {}
            _ if self.hidden > 0 => {}
            Class::Br => self.out.push('\n'),
            Class::Tr => {
                newline(&mut self.out);
                self.cell_in_row = 0;
            }
            Class::Cell => {
                if self.cell_in_row > 0 {
                    trim_trailing_spaces(&mut self.out);
                    self.out.push_str(" | ");
                }
                self.cell_in_row += 1;
            }
            Class::Pre => {
                newline(&mut self.out);
                self.pre += 1;
            }
            Class::Para | Class::Block => newline(&mut self.out),
            Class::SkipLf | Class::Other => {}
        }
        self.skip_lf = self.hidden == 0 && matches!(c, Class::Pre | Class::SkipLf);
    }

    fn end_tag(&mut self) {
        self.skip_lf = false;
        match class(&self.name) {
            Class::Hidden | Class::HiddenUnlessSelfClosing => self.hidden = self.hidden.saturating_sub(1),
            _ if self.hidden > 0 => {}
            Class::Br => self.out.push('\n'), // `</br>` is read as `<br>`
            Class::Tr | Class::Block => newline(&mut self.out),
            Class::Pre => {
                newline(&mut self.out);
                self.pre = self.pre.saturating_sub(1);
            }
            Class::Para => {
                newline(&mut self.out);
                self.out.push('\n'); // paragraphs and headings stand apart
            }
            Class::Cell | Class::SkipLf | Class::Other => {}
        }
    }
}

impl Emitter for Render {
    /// The rendered text (not yet normalised), made once at the end of input.
    type Token = String;

    fn set_last_start_tag(&mut self, last_start_tag: Option<&[u8]>) {
        self.last_start_tag.clear();
        self.last_start_tag.extend_from_slice(last_start_tag.unwrap_or_default());
    }

    fn emit_eof(&mut self) {
        self.flush_chars();
        self.done = Some(std::mem::take(&mut self.out));
    }

    fn emit_error(&mut self, _: html5gum::Error) {}

    /// No parse errors: the renderer ignores them, and html5gum validates
    /// every input character only to report them.
    #[inline]
    fn should_emit_errors(&mut self) -> bool {
        false
    }

    fn pop_token(&mut self) -> Option<Self::Token> {
        self.done.take() // the whole input is read in one call
    }

    /// Text is rendered as it comes, but a run that may start with the
    /// line feed dropped after `<pre>` (`skip_lf`) is collected and
    /// rendered at its end: `</x/>` can still clear `skip_lf` before that
    /// end, which then keeps the line feed.
    #[inline]
    fn emit_string(&mut self, c: &[u8]) {
        if self.hidden == 0 && !c.is_empty() {
            if self.skip_lf || self.buffer_runs || !self.chars.is_empty() {
                self.chars.extend_from_slice(c);
            } else {
                self.render_piece(c);
            }
        }
    }

    fn init_start_tag(&mut self) {
        self.name.clear();
        self.kind = TagKind::Start;
        self.self_closing = false;
    }

    fn init_end_tag(&mut self) {
        self.name.clear();
        self.kind = TagKind::End;
    }

    fn init_comment(&mut self) {
        self.flush_chars();
    }

    fn emit_current_tag(&mut self) -> Option<State> {
        self.flush_open_start_tag();
        match self.kind {
            TagKind::Start => {
                self.start_tag();
                naive_next_state(&self.last_start_tag)
            }
            TagKind::End => {
                self.last_start_tag.clear();
                self.end_tag();
                None
            }
            TagKind::None => None,
        }
    }

    fn emit_current_comment(&mut self) {
        self.skip_lf = false;
    }

    fn emit_current_doctype(&mut self) {
        self.skip_lf = false;
    }

    fn set_self_closing(&mut self) {
        if self.kind == TagKind::End {
            self.skip_lf = false; // (the callback emitter reported an error event here)
        } else {
            self.self_closing = true;
        }
    }

    fn set_force_quirks(&mut self) {}

    #[inline]
    fn push_tag_name(&mut self, s: &[u8]) {
        self.name.extend_from_slice(s);
    }

    fn push_comment(&mut self, _: &[u8]) {}

    fn push_doctype_name(&mut self, _: &[u8]) {}

    fn init_doctype(&mut self) {
        self.flush_chars();
    }

    fn init_attribute(&mut self) {
        self.flush_open_start_tag();
    }

    fn push_attribute_name(&mut self, _: &[u8]) {}

    fn push_attribute_value(&mut self, _: &[u8]) {}

    fn set_doctype_public_identifier(&mut self, _: &[u8]) {}

    fn set_doctype_system_identifier(&mut self, _: &[u8]) {}

    fn push_doctype_public_identifier(&mut self, _: &[u8]) {}

    fn push_doctype_system_identifier(&mut self, _: &[u8]) {}

    fn current_is_appropriate_end_tag_token(&mut self) -> bool {
        self.kind == TagKind::End && !self.last_start_tag.is_empty() && self.last_start_tag == self.name
    }
}

/// Parses a decoded HTML string to visible text.
pub fn html_to_text(html: &str) -> String {
    let raw = render(html, false, RAW_TEXT.take());
    let text = normalize(&raw);
    if raw.capacity() <= MAX_KEPT_RAW_TEXT {
        RAW_TEXT.set(raw);
    }
    text
}

thread_local! {
    /// The buffer of [`html_to_text`]'s rendered text, kept for the thread's
    /// next document: the text lives only until it is normalised, and a
    /// new buffer per document (a few KiB: beyond the allocator's
    /// per-thread cache of small blocks) cost a slow allocation and free.
    static RAW_TEXT: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

/// The largest [`RAW_TEXT`] buffer kept (a huge document's is freed).
const MAX_KEPT_RAW_TEXT: usize = 64 * 1024;

/// The visible text of `html`, not yet normalised, written to `buf`
/// (cleared first); `buffer_runs`: see [`Render::buffer_runs`].
fn render(html: &str, buffer_runs: bool, mut buf: String) -> String {
    buf.clear();
    // (Rendered text is rarely longer than its HTML: no regrowing.)
    buf.reserve(html.len());
    let r = Render { out: buf, buffer_runs, ..Default::default() };
    match Tokenizer::new_with_emitter(html, r).next() {
        Some(Ok(text)) => text,
        None => String::new(), // (not reached: the end of input makes the one token)
        Some(Err(e)) => match e {}, // reading a &str cannot fail
    }
}

/// Parses an HTML body (UTF-8, lossy with a warning).
pub fn parse(body: &[u8]) -> Extracted {
    // Valid UTF-8 (the usual case) is read in place, not copied first.
    if let Ok(html) = std::str::from_utf8(body) {
        return Extracted { text: html_to_text(html), ..Default::default() };
    }
    let mut warnings = Vec::new();
    let html = decode(body, &mut warnings);
    Extracted { text: html_to_text(&html), warnings, ..Default::default() }
}

fn newline(out: &mut String) {
    trim_trailing_spaces(out);
    if out.as_bytes().last().is_some_and(|&c| c != b'\n') {
        out.push('\n');
    }
}

fn trim_trailing_spaces(out: &mut String) {
    // (Byte tests: `ends_with(char)` goes through the pattern API.)
    let b = out.as_bytes();
    let mut end = b.len();
    while end > 0 && b[end - 1] == b' ' {
        end -= 1;
    }
    out.truncate(end);
}

/// Whether a text run starting after `out` starts as after a space: `out`
/// is empty or ends with a space or line feed.
fn ends_in_space(out: &str) -> bool {
    // (A char's last byte is a space or line feed only if the char is one.)
    out.as_bytes().last().is_none_or(|&c| c == b' ' || c == b'\n')
}

/// Appends a text node, collapsing whitespace runs to one space (HTML
/// rendering rules) except inside `<pre>`. What is kept as written (text,
/// single spaces after text) is copied in slices; only the characters that
/// change or go are handled one by one. `last_space`: whether a space
/// before `t` collapses a leading one ([`ends_in_space`] at a run's start);
/// returns the same for what follows `t` (anything inside `<pre>`).
fn push_text(out: &mut String, t: &str, pre: bool, mut last_space: bool) -> bool {
    if pre {
        out.push_str(t);
        return last_space;
    }
    let b = t.as_bytes();
    if b.iter().all(|&c| c == b' ' || (b'\t'..=b'\r').contains(&c)) {
        // Blanks only (the usual text between tags): one space at most.
        if !b.is_empty() && !last_space {
            out.push(' ');
        }
        return last_space || !b.is_empty();
    }
    let (mut i, mut copied) = (0, 0); // `t[copied..i]` is kept as written
    while i < b.len() {
        // Eight bytes at a time over what the loop below would keep as
        // written (printable ASCII, a single space after it): most of a run.
        while let Some(w) = b.get(i..i + 8) {
            let k = kept_as_written(u64::from_le_bytes(w.try_into().expect("8 bytes")), last_space);
            if k > 0 {
                last_space = b[i + k - 1] == b' ';
                i += k;
            }
            if k < 8 {
                break;
            }
        }
        let Some(&x) = b.get(i) else { break };
        if x > b' ' && x < 0x80 || x < b' ' && x != 0 && !(b'\t'..=b'\r').contains(&x) {
            last_space = false; // ASCII text, or a control character that is no whitespace
            i += 1;
            continue;
        }
        if x == b' ' && !last_space {
            last_space = true; // a single space after text stays
            i += 1;
            continue;
        }
        let c = if x < 0x80 { x as char } else { t[i..].chars().next().expect("i is a char boundary below the end") };
        if x >= 0x80 && !c.is_whitespace() {
            last_space = false;
            i += c.len_utf8();
            continue;
        }
        out.push_str(&t[copied..i]);
        i += c.len_utf8();
        copied = i;
        if c == '\0' {
            // the tree builder drops NULs in body text
        } else if c == '\u{a0}' {
            out.push(' ');
            last_space = false;
        } else if !last_space {
            out.push(' '); // the first of a whitespace run
            last_space = true;
        }
    }
    out.push_str(&t[copied..]);
    last_space
}

/// How many of the eight bytes of `w` (little-endian: the first byte is the
/// lowest), from the first, `push_text` keeps as written and passes one by
/// one: printable ASCII (`!`..=DEL) and a space right after such a byte
/// (after the byte before `w`, only when `last_space` is false). Other
/// bytes (whitespace runs, controls, non-ASCII) are left to that loop.
#[inline(always)]
fn kept_as_written(w: u64, last_space: bool) -> usize {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HI: u64 = 0x8080_8080_8080_8080;
    // A byte's high bit: 0x21 <= byte < 0x80 (no carry leaves a byte).
    let printable = ((w & LO7) + 0x5f5f_5f5f_5f5f_5f5f) & !w & HI;
    // A byte's high bit: byte == b' ' (exact zero-byte test of w ^ spaces).
    let y = w ^ 0x2020_2020_2020_2020;
    let space = !(((y & LO7) + LO7) | y) & HI;
    let after_printable = printable << 8 | if last_space { 0 } else { 0x80 };
    let kept = printable | space & after_printable;
    ((!kept & HI).trailing_zeros() / 8) as usize
}

#[cfg(test)]
mod tests {
    use super::html_to_text;

    #[test]
    fn tag_sets_match_their_lists() {
        for n in super::HIDDEN {
            assert!(super::is_hidden(n) && !super::is_block(n));
        }
        for n in super::BLOCKS {
            assert!(super::is_block(n) && !super::is_hidden(n));
        }
        for n in [&b"td"[..], b"tr", b"br", b"span", b"b", b"", b"scripts", b"h7", b"P"] {
            assert!(!super::is_block(n) && !super::is_hidden(n));
        }
        use super::{class, Class};
        for (n, c) in [
            (&b"td"[..], Class::Cell),
            (b"th", Class::Cell),
            (b"tr", Class::Tr),
            (b"br", Class::Br),
            (b"pre", Class::Pre),
            (b"listing", Class::SkipLf),
            (b"textarea", Class::SkipLf),
            (b"svg", Class::HiddenUnlessSelfClosing),
            (b"object", Class::HiddenUnlessSelfClosing),
            (b"script", Class::Hidden),
            (b"h0", Class::Other),
            (b"h7", Class::Other),
            (b"TD", Class::Other),
        ] {
            assert!(class(n) == c, "{}", String::from_utf8_lossy(n));
        }
        for n in super::BLOCKS {
            let para = n == b"p" || n.len() == 2 && n[0] == b'h' && n[1].is_ascii_digit();
            let want = if para { Class::Para } else if n == b"pre" { Class::Pre } else { Class::Block };
            assert!(class(n) == want, "{}", String::from_utf8_lossy(n));
        }
    }

    /// `push_text` as it was: one character at a time.
    fn push_text_old(out: &mut String, t: &str) {
        let mut last_space = out.is_empty() || out.ends_with([' ', '\n']);
        for c in t.chars() {
            if c == '\0' {
                continue;
            } else if c.is_whitespace() && c != '\u{a0}' {
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            } else {
                out.push(if c == '\u{a0}' { ' ' } else { c });
                last_space = false;
            }
        }
    }

    #[test]
    fn text_runs_equal_the_char_loop() {
        let mut pieces: Vec<String> = (0u32..0x21).chain([0x7f, 0x85, 0xa0, 0x1680, 0x2003, 0x200b, 0x2028, 0x202f, 0x3000, 0xe9, 0x20ac])
            .map(|c| char::from_u32(c).unwrap().to_string())
            .collect();
        pieces.extend(["ab".to_string(), "  ".to_string(), "x y".to_string()]);
        // Every sequence of three pieces, after every kind of text already written.
        for a in &pieces {
            for b in &pieces {
                for c in &pieces {
                    let t = format!("{a}{b}{c}");
                    for before in ["", "x", "x ", "x\n"] {
                        let (mut want, mut got) = (before.to_string(), before.to_string());
                        push_text_old(&mut want, &t);
                        let ls = super::ends_in_space(&got);
                        super::push_text(&mut got, &t, false, ls);
                        assert_eq!(got, want, "{t:?} after {before:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn eight_byte_steps_equal_the_byte_loop() {
        // Runs long enough for the eight-byte steps, every piece at every offset.
        let pieces = ["a", " ", "  ", "\t", "\n", "\0", "\x01", "\x7f", "\u{a0}", "é", "\u{2003}", "word", "x y z"];
        for a in pieces {
            for b in pieces {
                for pad in 0..9 {
                    let t = format!("{}{a}{}{b}{}", "p".repeat(pad), "q r".repeat(pad % 3 + 1), "s ".repeat(pad));
                    for before in ["", "x", "x "] {
                        let (mut want, mut got) = (before.to_string(), before.to_string());
                        push_text_old(&mut want, &t);
                        let ls = super::ends_in_space(&got);
                        super::push_text(&mut got, &t, false, ls);
                        assert_eq!(got, want, "{t:?} after {before:?}");
                    }
                }
            }
        }
        for w in [*b"abcdefgh", *b"a b c d ", *b" a  b   ", *b"\x7fa\x80bcdef", *b"ab\tcdefg", *b"        "] {
            for last_space in [false, true] {
                let mut want = 0;
                let mut ls = last_space;
                for &x in &w {
                    if x > b' ' && x < 0x80 {
                        ls = false;
                    } else if x == b' ' && !ls {
                        ls = true;
                    } else {
                        break;
                    }
                    want += 1;
                }
                assert_eq!(super::kept_as_written(u64::from_le_bytes(w), last_space), want, "{w:?} {last_space}");
            }
        }
    }

    #[test]
    fn pieces_of_a_run_equal_the_whole_run() {
        let pieces = ["a", " ", "  ", "\t", "\n", "\0", "\u{a0}", "é", "\u{2003}", "x y", "&", "<"];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let t = format!("{a}{b}{c}");
                    for before in ["", "x", "x ", "x\n"] {
                        let mut want = before.to_string();
                        let ls = super::ends_in_space(&want);
                        super::push_text(&mut want, &t, false, ls);
                        for cut in (0..=t.len()).filter(|&i| t.is_char_boundary(i)) {
                            let mut got = before.to_string();
                            let ls = super::ends_in_space(&got);
                            let state = super::push_text(&mut got, &t[..cut], false, ls);
                            super::push_text(&mut got, &t[cut..], false, state);
                            assert_eq!(got, want, "{t:?} cut at {cut} after {before:?}");
                        }
                    }
                }
            }
        }
    }

    /// Rendering text as it comes equals rendering each run at its end
    /// (before normalisation, which would hide a line feed), on
    /// generated HTML documents, the HTML fuzz corpus (when present) and on the cases where they could part: runs
    /// split by entities, carriage returns and NULs, no-break spaces at a
    /// piece's end, the line feed after `<pre>` (with `</x/>` before the
    /// run's end), hidden elements, comments and doctypes inside runs.
    #[test]
    fn piecewise_rendering_equals_run_rendering() {
        let mut inputs: Vec<String> = [
            "a&nbsp; b", "a &nbsp;&nbsp; b&nbsp;", "x&nbsp;<b> y</b>", "&amp;\r\n  &lt;x&gt;\r z", "a\0 \0b",
            "<pre>\nkeep\n  lines</pre>after", "<pre>\n\nx</x/>y</pre>", "<pre>&amp;\nx</pre>", "<textarea>\n t</textarea>",
            "<listing>\r\nl</listing>", "<pre></x/>\nq</pre>", "<p>a <!-- c --> b<!doctype html> c</p>",
            "<td> a </td><td>&nbsp;b </td>", "x<script>s&amp;</script> y <svg/> z <object>o</object>w", "t < u &notanentity; v",
            "a</br>b<br/>c", "&#xa0; &#160;x&#32; y", "<pre>&nbsp; a\n</pre>&nbsp;", "é&eacute;\u{a0}\u{3000}x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let generated = crate::test_inputs::generated(13, 300, &[docflow_corpus::DocFormat::Html]);
        inputs.extend(generated.iter().map(|raw| String::from_utf8_lossy(&raw.body).into_owned()));
        assert!(inputs.len() > 300);
        inputs.extend(crate::test_inputs::fuzz_corpus("parse_html"));
        for html in &inputs {
            let fresh = super::render(html, false, String::new());
            assert_eq!(fresh, super::render(html, true, String::new()), "{html:?}");
            // A buffer kept from an earlier document is cleared first.
            assert_eq!(fresh, super::render(html, false, "stale text ".repeat(50)), "{html:?}");
        }
    }

    #[test]
    fn text_runs_whitespace_and_nul() {
        let mut out = String::new();
        super::push_text(&mut out, " a\0b \t\u{a0} c\u{2003}\u{2003}d é\x01 ", false, true);
        assert_eq!(out, "ab   c d é\x01 "); // the no-break space stays a space
    }

    #[test]
    fn visible_text_blocks_and_tables() {
        let html = "<html><head><title>T</title><style>p{}</style></head><body>\
            <h1>Smith &amp; Sons</h1><!-- Total: 999 --><script>var total=5;</script>\
            <p>Invoice   no:\n INV-1</p><table><tr><th>Item</th><th>Qty</th></tr>\
            <tr><td> Widget </td><td>2</td></tr></table>a<br>b &euro;</body></html>";
        assert_eq!(
            html_to_text(html),
            "Smith & Sons\n\nInvoice no: INV-1\n\nItem | Qty\nWidget | 2\na\nb €"
        );
    }
}
