//! One module per input format; each turns bytes into normalised text plus
//! [`Hints`] for the field extractor. No format parser is written by hand:
//! html5gum, serde_json, mail-parser and pdf-extract do the work.

pub mod einvoice;
pub mod email;
pub mod html;
pub mod json;
pub mod pdf;
pub mod pdf_attachments;
pub mod pdf_guard;
pub mod pdf_layout;
pub mod text;

/// What a format knows beyond its text (e-mail headers), passed to the extractor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hints {
    /// `Subject` header.
    pub subject: Option<String>,
    /// Addresses from `From`, `To`, `Cc`, in that order.
    pub addresses: Vec<String>,
    /// The display name of `From` (`Acme Billing` in `Acme Billing <a@b>`).
    pub sender_name: Option<String>,
    /// `Date` header as ISO `YYYY-MM-DD`; used only when the body states no date.
    pub header_date: Option<String>,
    /// Byte offset in the text where the body starts (after rendered headers).
    pub body_offset: usize,
}

/// A format parser's result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    pub text: String,
    pub warnings: Vec<String>,
    pub hints: Hints,
    /// The fields of an e-invoice XML: the document itself, embedded in a
    /// PDF (Factur-X/ZUGFeRD) or attached to an e-mail.
    pub einvoice: Option<einvoice::EInvoice>,
}

/// Normalises line endings and whitespace the same way for every format:
/// `\r\n`/`\r` → `\n`, NBSP → space, trailing spaces removed, runs of blank
/// lines collapsed to one, leading/trailing blank lines dropped. Interior
/// runs of spaces are kept: they separate table columns in plain text.
pub fn normalize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut blank_run = 0usize;
    let raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
    // A byte scan first (`\r`, `\t` and the lead bytes of U+00A0 and
    // U+200B): most documents have none of the odd characters, and looking
    // for them char by char in every line costs more than the rest. Lead
    // bytes alone are common (`€`, `£` start with them), so the whole text
    // is then searched for the characters themselves (memchr on their last
    // byte), which spares the per-line checks in most documents.
    let any_odd = may_have_odd(raw) && has_odd(raw);
    let mut cleaned = String::new(); // one buffer for every line that needs it
    let mut each_line = |line: &str| {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if any_odd && may_have_odd(line) && clean_odd(line, &mut cleaned) {
            for sub in cleaned.split('\n') {
                push_line(&mut out, &mut blank_run, sub); // `\r` became a line break
            }
        } else {
            push_line(&mut out, &mut blank_run, line); // no line break inside
        }
    };
    // The lines of `raw.split('\n')`, from the line feeds found 16 bytes at
    // a time (a search per line cost more: lines are short).
    if let Ok(len) = u32::try_from(raw.len()) {
        let mut feeds = Vec::with_capacity(len as usize / 16 + 1); // (short lines overran one per 32)
        crate::bytes::positions(raw.as_bytes(), b'\n', 0, &mut feeds);
        let mut start = 0;
        for p in feeds {
            each_line(&raw[start..p as usize]);
            start = p as usize + 1;
        }
        each_line(&raw[start..]);
    } else {
        raw.split('\n').for_each(each_line);
    }
    out
}

/// Appends one line to `normalize`'s output: trailing blanks go, a blank
/// line only counts towards the run of blank lines before the next line.
fn push_line(out: &mut String, blank_run: &mut usize, sub: &str) {
    // `trim_end` by byte tests, `str::trim_end` only before a non-ASCII end.
    let b = sub.as_bytes();
    let mut end = b.len();
    while end > 0 && matches!(b[end - 1], b' ' | b'\t'..=b'\r') {
        end -= 1;
    }
    let sub = &sub[..end];
    let sub = if b[..end].last().is_some_and(|&c| c >= 0x80) { sub.trim_end() } else { sub };
    // (After `trim_end`, a blank line is an empty one.)
    if sub.is_empty() {
        *blank_run += 1;
        return;
    }
    if !out.is_empty() {
        out.push('\n');
        if *blank_run > 0 {
            out.push('\n');
        }
    }
    *blank_run = 0;
    out.push_str(sub);
}

/// Writes `line` to `buf` with `\r` → `\n`, U+00A0 → space, U+200B
/// dropped and a tab → two spaces, in one pass (no replacement holds
/// another's target, so this is the four `replace` calls in a row).
/// `false`, and `buf` unspecified, when `line` holds none of them.
fn clean_odd(line: &str, buf: &mut String) -> bool {
    buf.clear();
    let (mut copied, mut any) = (0, false);
    for (i, c) in line.char_indices() {
        let with = match c {
            '\r' => "\n",
            '\u{a0}' => " ",
            '\u{200b}' => "",
            '\t' => "  ",
            _ => continue,
        };
        buf.push_str(&line[copied..i]);
        buf.push_str(with);
        copied = i + c.len_utf8();
        any = true;
    }
    buf.push_str(&line[copied..]);
    any
}

/// Whether `s` holds `\r`, `\t`, U+00A0 or U+200B.
fn has_odd(s: &str) -> bool {
    crate::bytes::has_byte(s.as_bytes(), [b'\r', b'\t', b'\r', b'\t']) || s.contains('\u{a0}') || s.contains('\u{200b}')
}

/// Whether `s` may hold `\r`, `\t`, U+00A0 or U+200B: a vectorised byte
/// scan for them and their lead bytes.
fn may_have_odd(s: &str) -> bool {
    crate::bytes::has_byte(s.as_bytes(), [b'\r', b'\t', 0xC2, 0xE2])
}

#[cfg(test)]
mod tests {
    /// `normalize` as it was: four `replace` calls per odd line.
    fn normalize_old(raw: &str) -> String {
        let mut out = String::with_capacity(raw.len());
        let mut blank_run = 0usize;
        let raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
        for line in raw.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let cleaned = line.replace('\r', "\n").replace(['\u{a0}'], " ").replace('\u{200b}', "").replace('\t', "  ");
            for sub in cleaned.split('\n') {
                let sub = sub.trim_end();
                if sub.trim_start().is_empty() {
                    blank_run += 1;
                    continue;
                }
                if !out.is_empty() {
                    out.push('\n');
                    if blank_run > 0 {
                        out.push('\n');
                    }
                }
                blank_run = 0;
                out.push_str(sub);
            }
        }
        out
    }

    #[test]
    fn normalize_equals_the_replace_chain() {
        let pieces = ["a", " ", "\n", "\r", "\r\n", "\t", "\u{a0}", "\u{200b}", "\u{feff}", "€", "£", "\u{2003}", "b c"];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        let t = format!("{a}{b}{c}{d}");
                        assert_eq!(super::normalize(&t), normalize_old(&t), "{t:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn normalize_collapses_blank_lines_and_trailing_space() {
        assert_eq!(super::normalize("\r\n\n a  b \r\n\r\n\r\n\tc\u{a0}d\n\n"), " a  b\n\n  c d");
    }
}
