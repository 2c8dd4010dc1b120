//! Field extraction from normalised text: [`extract_fields`] fills
//! [`BusinessFields`]; every field is absent unless stated in the document.
//! Regexes are compiled once (`LazyLock`), never per document.

pub mod date;
pub mod doctype;
pub mod ident;
pub mod items;
pub mod money;
pub mod parties;
pub mod vendor;

use crate::formats::Hints;
use docflow_schemas::BusinessFields;
use regex::Regex;
use rust_decimal::Decimal;
use std::sync::LazyLock;

/// Total labels, strongest first. Subtotals, tax totals and net totals are excluded.
static TOTAL_RES: LazyLock<[Regex; 2]> = LazyLock::new(|| {
    [
        Regex::new(r"(?im)(?:^|\|[\t\n\x0B\x0C\r\x20]*)[ \t]*(?:[a-z_]+\.)*(?:total[[\t\n\x0B\x0C\r\x20]_.]*(?:amount[[\t\n\x0B\x0C\r\x20]_.]*)?(?:due|payable|to[[\t\n\x0B\x0C\r\x20]_]pay)|amount[[\t\n\x0B\x0C\r\x20]_.]*(?:due|payable)|balance[[\t\n\x0B\x0C\r\x20]_.]*due|grand[[\t\n\x0B\x0C\r\x20]_.]*total|please[[\t\n\x0B\x0C\r\x20]_]pay|gesamtbetrag|totals?[[\t\n\x0B\x0C\r\x20]_.]*grand[[\t\n\x0B\x0C\r\x20]_.]*total|totalDue|amountDue|grandTotal)(?-u:\b)").unwrap(),
        Regex::new(r"(?im)(?:^|\|[\t\n\x0B\x0C\r\x20]*)[ \t]*(?:[a-z_]+\.)*(?:(?:invoice|order|receipt)[[\t\n\x0B\x0C\r\x20]_.]*)?total(?:[[\t\n\x0B\x0C\r\x20]_.]*(?:amount|sum|incl\.?(?:uding)?[[\t\n\x0B\x0C\r\x20]_.]*(?:vat|tax)|\(incl[^)]*\)))?(?-u:\b)(?:[[\t\n\x0B\x0C\r\x20]_.]*(?:\((?P<c1>[A-Za-z€$£]{1,3})\)|(?P<c2>[A-Z]{3})(?-u:\b)))?").unwrap(),
    ]
});

/// Printed or mapped mail headers (`From:`, `from.email:` and `Subject:`) near the top.
static MAIL_FROM_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?im)^[\t\n\x0B\x0C\r\x20]*(?:from|sender)(?:[._][a-z_]+)?[\t\n\x0B\x0C\r\x20]*[:|]").unwrap());
static MAIL_TO_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?im)^[\t\n\x0B\x0C\r\x20]*to(?:[._][a-z_]+)?[\t\n\x0B\x0C\r\x20]*[:|]").unwrap());
static MAIL_SUBJECT_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?im)^[\t\n\x0B\x0C\r\x20]*subject[\t\n\x0B\x0C\r\x20]*[:|]").unwrap());

/// Words after `total` that make it some other total.
const NOT_TOTAL: [&str; 12] =
    ["tax", "vat", "net", "excl", "before", "items", "qty", "quantity", "paid", "discount", "savings", "weight"];

static CURRENCY_LABEL_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?im)^[\t\n\x0B\x0C\r\x20]*(?:[a-z_.]*[[\t\n\x0B\x0C\r\x20]_.])?currency(?:[[\t\n\x0B\x0C\r\x20]_]code)?[\t\n\x0B\x0C\r\x20]*[:|][\t\n\x0B\x0C\r\x20]*(?P<c>[A-Za-z€$£¥]{1,16})[\t\n\x0B\x0C\r\x20]*$").unwrap());

/// The stated total due and the currency written next to it.
pub fn total(text: &str) -> Option<(Decimal, Option<&'static str>)> {
    for re in TOTAL_RES.iter() {
        let mut found = None;
        for c in re.captures_iter(text) {
            let m = c.get(0).unwrap();
            let after = text[m.end()..].trim_start_matches([' ', '\t', '_', '.']).to_ascii_lowercase();
            if NOT_TOTAL.iter().any(|w| after.starts_with(w)) {
                continue; // `Total tax`, `Total paid`: not the total due
            }
            let label_ccy = c.name("c1").or(c.name("c2")).and_then(|x| money::currency_of(x.as_str()));
            // The amount follows on the same line, or alone on the next one.
            let rest = &text[m.end()..];
            let line_end = rest.find('\n').unwrap_or(rest.len());
            let same_line = &rest[..line_end];
            let mut amounts = money::amounts(same_line);
            if amounts.is_empty() && same_line.trim().trim_matches([':', '|']).trim().is_empty() {
                let next = rest[line_end..].trim_start_matches('\n');
                let next = &next[..next.find('\n').unwrap_or(next.len())];
                amounts = money::amounts(next);
            }
            // The last amount on a total line is the total (`Total  3 items  12.50`).
            if let Some(a) = amounts.last() {
                found = Some((a.value, a.currency.or(label_ccy)));
            }
        }
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The document currency: an explicit `currency:` field, else the marker on
/// the total, else the only currency the document mentions.
pub fn currency(text: &str, on_total: Option<&'static str>) -> Option<String> {
    if let Some(c) = CURRENCY_LABEL_RE.captures(text) {
        if let Some(code) = money::currency_of(&c["c"]) {
            return Some(code.to_string());
        }
    }
    if let Some(c) = on_total {
        return Some(c.to_string());
    }
    let mut seen: Vec<&'static str> = Vec::new();
    for m in money::CURRENCY_RE.find_iter(text) {
        if let Some(c) = money::currency_of(m.as_str()) {
            if !seen.contains(&c) {
                seen.push(c);
            }
        }
    }
    (seen.len() == 1).then(|| seen[0].to_string())
}

/// Extracts business fields from normalised text. `hints` carries e-mail
/// headers; `locale` (e.g. `en-US`) resolves `03/04/2026`.
pub fn extract_fields(text: &str, hints: &Hints, locale: Option<&str>) -> BusinessFields {
    let body = text.get(hints.body_offset..).unwrap_or(text);
    let mail = hints.body_offset > 0 || hints.subject.is_some() || (MAIL_FROM_RE.is_match(text) && MAIL_TO_RE.is_match(text) && MAIL_SUBJECT_RE.is_match(text));
    let invoice_number = ident::invoice_number(text);
    let kind = doctype::classify(body, mail, invoice_number.is_some());
    let mut f = BusinessFields { doc_type_hint: Some(kind.to_string()), ..Default::default() };

    f.date = date::document_date(body, locale)
        .or_else(|| hints.header_date.clone())
        .or_else(|| date::document_date(text.get(..hints.body_offset).unwrap_or(""), locale));
    let tot = total(body);
    f.total = tot.map(|t| t.0);
    f.currency = currency(body, tot.and_then(|t| t.1));
    f.invoice_number = invoice_number;
    if matches!(kind, "invoice" | "receipt") {
        f.vendor = vendor::vendor(body);
        f.line_items = items::line_items(body);
    }
    if kind == "contract" {
        f.parties = parties::parties(body);
    }
    let (valid, invalid) = ident::ibans(body);
    f.iban = valid.into_iter().next();
    f.invalid_ibans = invalid;
    f.emails = hints.addresses.clone();
    ident::emails(body, &mut f.emails);
    f.phones = ident::phones(body);
    f.subject = hints.subject.clone().or_else(|| ident::subject(text));
    f
}
