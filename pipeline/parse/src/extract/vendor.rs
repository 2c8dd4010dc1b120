//! The vendor (issuing organisation) of an invoice or receipt: a labelled
//! value (`Vendor:`, `Seller:`, `Supplier:`, `vendor.name`), else the first
//! line near the top that carries a company-form suffix and does not sit in
//! a customer block (`Bill to`, `Customer`, `Ship to`). The patterns are
//! lower case and run on [`Folded::lower`].

use super::{keywords, Folded};
use regex::Regex;
use std::sync::LazyLock;

/// A match starts at a line start; its label word is on the line where the
/// match's blanks end (see [`vendor`]).
static LABEL_RE: LazyLock<keywords::Regex> = LazyLock::new(|| {
    keywords::regex(
        r"(?m)^[\t\n\x0B\x0C\r\x20]*(?:[a-z_]+\.)*(?:vendor|seller|supplier|merchant|issued[[\t\n\x0B\x0C\r\x20]_]+by|bill(?:ed)?[[\t\n\x0B\x0C\r\x20]_]+from|invoice[[\t\n\x0B\x0C\r\x20]_]+from|store|company)(?:[[\t\n\x0B\x0C\r\x20]_.]*name)?[\t\n\x0B\x0C\r\x20]*[:|][\t\n\x0B\x0C\r\x20]*(?P<v>\S.*?)[\t\n\x0B\x0C\r\x20]*$",
    )
});

/// Company-form suffixes that mark an organisation name.
static ORG_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)(?:ltd|limited|gmbh|inc|llc|llp|ag|plc|s\.?a\.?s?|s\.?l|sarl|s\.?r\.?l|b\.?v|n\.?v|corp|corporation|co|company|kg|oy|ab|as|pty|group|& sons)\.?$").unwrap()
});

static CUSTOMER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[\t\n\x0B\x0C\r\x20]*(?:bill(?:ed)?[[\t\n\x0B\x0C\r\x20]_]+to|sold[[\t\n\x0B\x0C\r\x20]_]+to|ship[[\t\n\x0B\x0C\r\x20]_]+to|customer|client|to|recipient|deliver(?:y|ed)?[[\t\n\x0B\x0C\r\x20]_]+to|invoice[[\t\n\x0B\x0C\r\x20]_]+to)(?-u:\b)").unwrap()
});

/// `Inc`, `S.A`, `Co` …: the name may legitimately end with a full stop.
pub fn ends_with_abbreviation(s: &str) -> bool {
    let last = s.rsplit(' ').next().unwrap_or("");
    ["Inc", "Ltd", "Co", "Corp", "S.A", "B.V", "N.V", "L.P", "Bros", "S.p.A", "S.r.l", "S.L"].contains(&last)
}

fn clean(s: &str) -> Option<String> {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let s = s.trim_matches(|c: char| c == ',' || c == ';' || c == '|' || c.is_whitespace()).to_string();
    (s.len() >= 2 && s.len() <= 100 && s.chars().any(char::is_alphabetic)).then_some(s)
}

/// Words one of which [`LABEL_RE`] needs, at the start of its label
/// (after `key.` prefixes).
static LABEL_WORDS: LazyLock<keywords::Mask> = LazyLock::new(|| {
    keywords::mask(&["vendor", "seller", "supplier", "merchant", "issued", "bill", "invoice", "store", "company"])
});

/// The `v` group of a [`LABEL_RE`] match `m` of `lower`, read from its
/// bytes instead of a capture search (the bounded backtracker over the
/// match): nothing before `v` holds a `:` or `|`, so `v` starts at the
/// first byte after the first of them that is no ASCII blank (`\S`, as the
/// match says); after `v` only ASCII blanks follow, so it ends before them.
fn value_of(lower: &[u8], m: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let blank = |x: &u8| matches!(x, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ');
    let b = &lower[m.clone()];
    let colon = b.iter().position(|&x| x == b':' || x == b'|').expect("a label match holds its `:` or `|`");
    let start = colon + 1 + b[colon + 1..].iter().take_while(|x| blank(x)).count();
    let end = b.len() - b.iter().rev().take_while(|x| blank(x)).count();
    m.start + start..m.start + end
}

/// Whether [`LABEL_RE`] can match at `at` (a line start of `lower`), as far
/// as a byte test tells: after the blanks and the `key.` prefixes (a run of
/// `[a-z_]` and a `.`: where each ends is fixed) one of the label words
/// must start, and `invoice`, `bill`/`billed` and `issued` only with
/// `from`/`by` after blanks or `_`. Spares the anchored search at the
/// `Invoice`, `Invoice number` and `Bill to` lines of most invoices.
fn may_be_label(lower: &[u8], at: usize) -> bool {
    let blank = |x: &u8| matches!(x, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ');
    let mut p = at + lower[at..].iter().take_while(|x| blank(x)).count();
    loop {
        let rest = &lower[p..];
        if ["vendor", "seller", "supplier", "merchant", "store", "company"].iter().any(|w| rest.starts_with(w.as_bytes())) {
            return true;
        }
        // `word[\s_]+next`: the `next` after blanks and `_` (at least one).
        let then = |word: &[u8], next: &[u8]| {
            rest.strip_prefix(word).is_some_and(|r| {
                let n = r.iter().take_while(|x| blank(x) || **x == b'_').count();
                n > 0 && r[n..].starts_with(next)
            })
        };
        if then(b"invoice", b"from") || then(b"bill", b"from") || then(b"billed", b"from") || then(b"issued", b"by") {
            return true;
        }
        let n = rest.iter().take_while(|x| x.is_ascii_lowercase() || **x == b'_').count();
        if n == 0 || rest.get(n) != Some(&b'.') {
            return false;
        }
        p += n + 1;
    }
}

/// `s.split(pat).next()` for a short ASCII `pat`: the text before its
/// first occurrence, by a byte loop (`split` sets up a two-way searcher
/// per call, and this runs twice on each of the first lines).
fn before<'a>(s: &'a str, pat: &str) -> &'a str {
    let (b, p) = (s.as_bytes(), pat.as_bytes());
    // (An ASCII `pat` starts at a char boundary.)
    (0..b.len()).find(|&i| b[i] == p[0] && b[i..].starts_with(p)).map_or(s, |i| &s[..i])
}

/// The vendor of `body` (e-mail headers excluded by the caller).
pub fn vendor(body: Folded) -> Option<String> {
    if body.has(*LABEL_WORDS) {
        // The first match, searched only at the starts of lines that hold a
        // label word. A match may start earlier, on blank lines before its
        // label (`^\s*` crosses them), but its `v` is the one found from the
        // label's own line, and no other match can start in between.
        let b = body.lower.as_bytes();
        let lines = body.starts(*LABEL_WORDS).map(|p| body.line_start(p)).filter(|&l| may_be_label(b, l));
        if let Some(m) = keywords::anchored_matches(&LABEL_RE, body.lower, lines).next() {
            return clean(&body.text[value_of(b, m)]);
        }
    }
    let mut in_customer_block = false;
    for (start, end) in body.lines().take(12) {
        let (line, lower) = (&body.text[start..end], &body.lower[start..end]);
        let (t, tl) = (line.trim(), lower.trim());
        if t.is_empty() {
            in_customer_block = false;
            continue;
        }
        if CUSTOMER_RE.is_match(tl) {
            in_customer_block = true;
            continue;
        }
        if in_customer_block {
            continue;
        }
        // The name may share its line with other header cells (`Acme Ltd | Invoice`).
        let first_cell = before(t, " | ");
        let first_cell = before(first_cell, "  ");
        let start = first_cell.trim_start().as_ptr() as usize - t.as_ptr() as usize;
        let first_cell = first_cell.trim();
        if first_cell.contains(':') || first_cell.contains('@') {
            continue;
        }
        if ORG_RE.is_match(&tl[start..start + first_cell.len()]) {
            return clean(first_cell);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    fn vendor(t: &str) -> Option<String> {
        super::super::with_folded(t, super::vendor)
    }

    #[test]
    fn before_equals_split_next() {
        let pieces = ["", " ", "  ", "|", " | ", "a", "é", " |", "| ", "a  b", "x | y | z"];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let s = format!("{a}{b}{c}");
                    for pat in [" | ", "  "] {
                        assert_eq!(super::before(&s, pat), s.split(pat).next().unwrap(), "{s:?} {pat:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn value_equals_the_capture_group() {
        let pieces = [
            "", " ", "\n", "\t", "_", ".", ":", "|", "vendor", "issued by", "bill from", "x.", "company name", "acme", "a: b",
            "é", "\u{a0}", "x | y", "ltd ", "\n\n", "  \t",
        ];
        let re = &*super::LABEL_RE;
        let mut n = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        let t = format!("{a}{b}{c}{d}");
                        let input = regex_automata::Input::new(&t).anchored(regex_automata::Anchored::Yes);
                        let mut caps = re.create_captures();
                        re.search_captures(&input, &mut caps);
                        let Some(m) = caps.get_match() else { continue };
                        let want = super::keywords::group(&caps, "v").unwrap();
                        assert_eq!(super::value_of(t.as_bytes(), m.range()), want, "{t:?}");
                        n += 1;
                    }
                }
            }
        }
        assert!(n > 1000, "{n}");
    }

    #[test]
    fn label_byte_test_is_necessary() {
        let pieces = [
            "", " ", "\n", "\t", "_", ".", ":", "|", "vendor", "seller", "supplier", "merchant", "store", "company", "issued",
            "by", "bill", "billed", "ed", "from", "invoice", "name", "x", "x.", "a_b.", "inv", "é", "number", "to",
        ];
        let re = &*super::LABEL_RE;
        let (mut skipped, mut n) = (0, 0);
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in ["", ": v", " name: v", " | v"] {
                        let t = format!("{a}{b}{c}{d}");
                        let input = regex_automata::Input::new(&t).anchored(regex_automata::Anchored::Yes);
                        let matched = re.search_half(&input).is_some();
                        let may = super::may_be_label(t.as_bytes(), 0);
                        assert!(may || !matched, "{t:?}");
                        skipped += !may as usize;
                        n += 1;
                    }
                }
            }
        }
        assert!(skipped > n / 2, "{skipped} of {n}");
    }

    #[test]
    fn labelled_then_suffix() {
        assert_eq!(vendor("Vendor: Nordwind Handel GmbH\nBill to: X Ltd").as_deref(), Some("Nordwind Handel GmbH"));
        assert_eq!(vendor("INVOICE\nBill to:\nBeta Ltd\n\nAcme Supplies Inc.\n").as_deref(), Some("Acme Supplies Inc."));
        assert_eq!(vendor("Hello there\nnothing here"), None);
    }
}
