//! `text/html`: visible text only, through html5gum, a WHATWG-conformant
//! HTML tokenizer (its callback API: no token allocations).
//!
//! Visible text needs no DOM, only the token stream in document order, so
//! there is no tree construction (a third of the cost of the whole parse
//! stage with html5ever + scraper). Scripts, styles, titles and the other
//! raw-text elements are switched into their tokenizer states by the tag
//! name (`naively_switch_states`, as the tree builder would) and dropped,
//! with templates, SVG and objects; comments are dropped; entities are
//! decoded by the tokenizer; block elements become line breaks; table cells
//! of a row are joined with ` | ` so line items stay one row per line.
//! What a tree builder would add is not rendered here: mis-nested tags and
//! implied end tags (`<p>a<p>b`) still give the same text, in source order,
//! with fewer blank lines. Nothing recurses, so deep nesting is harmless.

use super::{normalize, text::decode, Extracted};
use html5gum::emitters::callback::{CallbackEmitter, CallbackEvent};
use html5gum::{Emitter, ForwardingEmitter, Span, Tokenizer};

/// Elements whose content is never visible. (`head` is not among them:
/// its only text lives in `title`, `style` and `script`.)
#[cfg_attr(not(test), allow(dead_code))] // the lists behind `is_hidden` and `is_block`
const HIDDEN: [&[u8]; 8] = [b"script", b"style", b"noscript", b"template", b"title", b"svg", b"iframe", b"object"];

/// Whether `name` is in [`HIDDEN`] (a `match`: one length test and a
/// comparison or two, where `contains` compared with every entry).
#[inline]
fn is_hidden(name: &[u8]) -> bool {
    matches!(name, b"script" | b"style" | b"noscript" | b"template" | b"title" | b"svg" | b"iframe" | b"object")
}

/// Whether `name` is in [`BLOCKS`] (see [`is_hidden`]).
#[inline]
fn is_block(name: &[u8]) -> bool {
    matches!(
        name,
        b"address" | b"article" | b"aside" | b"blockquote" | b"body" | b"caption" | b"center" | b"dd" | b"details"
            | b"dialog" | b"div" | b"dl" | b"dt" | b"fieldset" | b"figcaption" | b"figure" | b"footer" | b"form"
            | b"h1" | b"h2" | b"h3" | b"h4" | b"h5" | b"h6" | b"header" | b"hr" | b"li" | b"main" | b"nav" | b"ol"
            | b"p" | b"pre" | b"section" | b"table" | b"ul"
    )
}

/// Elements that start and end a line.
#[cfg_attr(not(test), allow(dead_code))]
const BLOCKS: [&[u8]; 35] = [
    b"address", b"article", b"aside", b"blockquote", b"body", b"caption", b"center", b"dd", b"details", b"dialog",
    b"div", b"dl", b"dt", b"fieldset", b"figcaption", b"figure", b"footer", b"form", b"h1", b"h2", b"h3", b"h4", b"h5",
    b"h6", b"header", b"hr", b"li", b"main", b"nav", b"ol", b"p", b"pre", b"section", b"table", b"ul",
];

/// The text being rendered and where in the token stream we are.
#[derive(Default)]
struct Render {
    out: String,
    /// Depth inside hidden elements.
    hidden: usize,
    /// Depth inside `<pre>`.
    pre: usize,
    /// Cells already written in the current `<tr>`.
    cell_in_row: usize,
    /// Name of the start tag being read (attributes follow before it closes).
    tag: Vec<u8>,
    /// A line feed right after `<pre>`, `<listing>` or `<textarea>` is not content.
    skip_lf: bool,
}

impl Render {
    fn event(&mut self, ev: CallbackEvent<'_>) {
        let skip_lf = std::mem::take(&mut self.skip_lf);
        match ev {
            CallbackEvent::OpenStartTag { name } => {
                self.tag.clear();
                self.tag.extend_from_slice(name);
            }
            CallbackEvent::AttributeName { .. } | CallbackEvent::AttributeValue { .. } => self.skip_lf = skip_lf,
            CallbackEvent::CloseStartTag { self_closing } => self.start_tag(self_closing),
            CallbackEvent::EndTag { name } => self.end_tag(name),
            CallbackEvent::String { value } if self.hidden == 0 => {
                let value = if skip_lf { value.strip_prefix(b"\n").unwrap_or(value) } else { value };
                match std::str::from_utf8(value) {
                    Ok(t) => push_text(&mut self.out, t, self.pre > 0),
                    Err(_) => push_text(&mut self.out, &String::from_utf8_lossy(value), self.pre > 0),
                }
            }
            _ => {}
        }
    }

    fn start_tag(&mut self, self_closing: bool) {
        let tag = std::mem::take(&mut self.tag); // handed back below: one buffer per document
        let name = tag.as_slice();
        if is_hidden(name) {
            // `<svg/>` and `<object/>` end at once; `<script/>` does not (HTML ignores the slash).
            if !(self_closing && matches!(name, b"svg" | b"object")) {
                self.hidden += 1;
            }
        } else if self.hidden > 0 {
        } else if name == b"br" {
            self.out.push('\n');
        } else if name == b"tr" {
            newline(&mut self.out);
            self.cell_in_row = 0;
        } else if name == b"td" || name == b"th" {
            if self.cell_in_row > 0 {
                trim_trailing_spaces(&mut self.out);
                self.out.push_str(" | ");
            }
            self.cell_in_row += 1;
        } else if is_block(name) {
            newline(&mut self.out);
            if name == b"pre" {
                self.pre += 1;
            }
        }
        self.skip_lf = self.hidden == 0 && matches!(name, b"pre" | b"listing" | b"textarea");
        self.tag = tag;
    }

    fn end_tag(&mut self, name: &[u8]) {
        if is_hidden(name) {
            self.hidden = self.hidden.saturating_sub(1);
        } else if self.hidden > 0 {
        } else if name == b"br" {
            self.out.push('\n'); // `</br>` is read as `<br>`
        } else if is_block(name) || name == b"tr" {
            newline(&mut self.out);
            if name == b"pre" {
                self.pre = self.pre.saturating_sub(1);
            }
            if name == b"p" || name.len() == 2 && name[0] == b'h' && name[1].is_ascii_digit() {
                self.out.push('\n'); // paragraphs and headings stand apart
            }
        }
    }
}

/// An emitter that asks for no parse errors: the renderer ignores them, and
/// html5gum validates every input character only to report them (a tenth
/// of the tokenising time). Everything else goes to the inner emitter.
struct NoErrors<E>(E);

impl<E: Emitter> ForwardingEmitter for NoErrors<E> {
    type Token = E::Token;

    fn inner(&mut self) -> &mut impl Emitter<Token = Self::Token> {
        &mut self.0
    }

    fn should_emit_errors(&mut self) -> bool {
        false
    }
}

/// Parses a decoded HTML string to visible text.
pub fn html_to_text(html: &str) -> String {
    let mut r = Render { out: String::with_capacity(html.len() / 2), ..Default::default() };
    let mut emitter = CallbackEmitter::new(|ev: CallbackEvent<'_>, _: Span<()>| -> Option<()> {
        r.event(ev);
        None
    });
    emitter.naively_switch_states(true);
    for token in Tokenizer::new_with_emitter(html, NoErrors(emitter)) {
        let Ok(()) = token; // reading a &str cannot fail
    }
    normalize(&r.out)
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
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

fn trim_trailing_spaces(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
}

/// Appends a text node, collapsing whitespace runs to one space (HTML
/// rendering rules) except inside `<pre>`. What is kept as written (text,
/// single spaces after text) is copied in slices; only the characters that
/// change or go are handled one by one.
fn push_text(out: &mut String, t: &str, pre: bool) {
    if pre {
        out.push_str(t);
        return;
    }
    // (A char's last byte is a space or line feed only if the char is one.)
    let mut last_space = out.as_bytes().last().is_none_or(|&c| c == b' ' || c == b'\n');
    let b = t.as_bytes();
    if b.iter().all(|&c| c == b' ' || (b'\t'..=b'\r').contains(&c)) {
        // Blanks only (the usual text between tags): one space at most.
        if !b.is_empty() && !last_space {
            out.push(' ');
        }
        return;
    }
    let (mut i, mut copied) = (0, 0); // `t[copied..i]` is kept as written
    while i < b.len() {
        let x = b[i];
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
                        super::push_text(&mut got, &t, false);
                        assert_eq!(got, want, "{t:?} after {before:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn text_runs_whitespace_and_nul() {
        let mut out = String::new();
        super::push_text(&mut out, " a\0b \t\u{a0} c\u{2003}\u{2003}d é\x01 ", false);
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
