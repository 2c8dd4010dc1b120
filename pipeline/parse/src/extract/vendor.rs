//! The vendor (issuing organisation) of an invoice or receipt: a labelled
//! value (`Vendor:`, `Seller:`, `Supplier:`, `vendor.name`), else the first
//! line near the top that carries a company-form suffix and does not sit in
//! a customer block (`Bill to`, `Customer`, `Ship to`).

use regex::Regex;
use std::sync::LazyLock;

static LABEL_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?im)^[\t\n\x0B\x0C\r\x20]*(?:[a-z_]+\.)*(?:vendor|seller|supplier|merchant|issued[[\t\n\x0B\x0C\r\x20]_]+by|bill(?:ed)?[[\t\n\x0B\x0C\r\x20]_]+from|invoice[[\t\n\x0B\x0C\r\x20]_]+from|store|company)(?:[[\t\n\x0B\x0C\r\x20]_.]*name)?[\t\n\x0B\x0C\r\x20]*[:|][\t\n\x0B\x0C\r\x20]*(?P<v>\S.*?)[\t\n\x0B\x0C\r\x20]*$",
    )
    .unwrap()
});

/// Company-form suffixes that mark an organisation name.
static ORG_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?-u:\b)(?:ltd|limited|gmbh|inc|llc|llp|ag|plc|s\.?a\.?s?|s\.?l|sarl|s\.?r\.?l|b\.?v|n\.?v|corp|corporation|co|company|kg|oy|ab|as|pty|group|& sons)\.?$").unwrap()
});

static CUSTOMER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^[\t\n\x0B\x0C\r\x20]*(?:bill(?:ed)?[[\t\n\x0B\x0C\r\x20]_]+to|sold[[\t\n\x0B\x0C\r\x20]_]+to|ship[[\t\n\x0B\x0C\r\x20]_]+to|customer|client|to|recipient|deliver(?:y|ed)?[[\t\n\x0B\x0C\r\x20]_]+to|invoice[[\t\n\x0B\x0C\r\x20]_]+to)(?-u:\b)").unwrap()
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

/// The vendor of `body` (e-mail headers excluded by the caller).
pub fn vendor(body: &str) -> Option<String> {
    if let Some(c) = LABEL_RE.captures(body) {
        return clean(&c["v"]);
    }
    let mut in_customer_block = false;
    for line in body.lines().take(12) {
        let t = line.trim();
        if t.is_empty() {
            in_customer_block = false;
            continue;
        }
        if CUSTOMER_RE.is_match(t) {
            in_customer_block = true;
            continue;
        }
        if in_customer_block {
            continue;
        }
        // The name may share its line with other header cells (`Acme Ltd | Invoice`).
        let first_cell = t.split(" | ").next().unwrap_or(t);
        let first_cell = first_cell.split("  ").next().unwrap_or(first_cell).trim();
        if first_cell.contains(':') || first_cell.contains('@') {
            continue;
        }
        if ORG_RE.is_match(first_cell) {
            return clean(first_cell);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn labelled_then_suffix() {
        assert_eq!(super::vendor("Vendor: Nordwind Handel GmbH\nBill to: X Ltd").as_deref(), Some("Nordwind Handel GmbH"));
        assert_eq!(super::vendor("INVOICE\nBill to:\nBeta Ltd\n\nAcme Supplies Inc.\n").as_deref(), Some("Acme Supplies Inc."));
        assert_eq!(super::vendor("Hello there\nnothing here"), None);
    }
}
