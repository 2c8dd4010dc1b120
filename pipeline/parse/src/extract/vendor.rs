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

/// The vendor of `body` (e-mail headers excluded by the caller).
pub fn vendor(body: Folded) -> Option<String> {
    if body.has(*LABEL_WORDS) {
        // The first match, searched only at the starts of lines that hold a
        // label word. A match may start earlier, on blank lines before its
        // label (`^\s*` crosses them), but its `v` is the one found from the
        // label's own line, and no other match can start in between.
        let lines = body.starts(*LABEL_WORDS).map(|p| body.line_start(p));
        if let Some(c) = keywords::anchored_iter(&LABEL_RE, body.lower, lines).next() {
            return clean(&body.text[keywords::group(&c, "v").expect("v is not optional")]);
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
        let first_cell = t.split(" | ").next().unwrap_or(t);
        let first_cell = first_cell.split("  ").next().unwrap_or(first_cell);
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
    fn labelled_then_suffix() {
        assert_eq!(vendor("Vendor: Nordwind Handel GmbH\nBill to: X Ltd").as_deref(), Some("Nordwind Handel GmbH"));
        assert_eq!(vendor("INVOICE\nBill to:\nBeta Ltd\n\nAcme Supplies Inc.\n").as_deref(), Some("Acme Supplies Inc."));
        assert_eq!(vendor("Hello there\nnothing here"), None);
    }
}
