//! Hand-written edge cases per format (files under `tests/fixtures/`), and
//! PDFs produced by LibreOffice 7.4 (`soffice --headless --convert-to pdf`
//! from `tests/fixtures/src/`), checked field by field.

use docflow_parse::{parse_document, ParseLimits, ParseOutput};
use docflow_schemas::{LineItem, RawDocument};
use rust_decimal::Decimal;

fn parse(name: &str, content_type: Option<&str>, locale: Option<&str>) -> ParseOutput {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut raw = RawDocument { id: name.into(), content_type: content_type.map(Into::into), body, metadata: Default::default(), created_at_ms: 0 };
    if let Some(l) = locale {
        raw.metadata.insert("locale".into(), l.into());
    }
    parse_document(&raw, &ParseLimits::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn item(desc: &str, q: Option<&str>, u: Option<&str>, a: &str) -> LineItem {
    LineItem { description: desc.into(), quantity: q.map(d), unit_price: u.map(d), amount: Some(d(a)) }
}

#[test]
fn text_invoice_with_european_numbers() {
    let o = parse("invoice_eu.txt", Some("text/plain"), None);
    let f = &o.fields;
    assert_eq!(f.doc_type_hint.as_deref(), Some("invoice"));
    assert_eq!(f.vendor.as_deref(), Some("Müller & Töchter GmbH"));
    assert_eq!(f.invoice_number.as_deref(), Some("2026/0815"));
    assert_eq!(f.date.as_deref(), Some("2026-02-03"), "Datum, not the Fälligkeitsdatum");
    assert_eq!(f.total, Some(d("18421.80")), "Gesamtbetrag, not Zwischensumme");
    assert_eq!(f.currency.as_deref(), Some("EUR"));
    assert_eq!(f.iban.as_deref(), Some("DE89370400440532013000"));
    assert_eq!(f.phones, vec!["+492214455667"], "fax numbers are not phones");
    assert_eq!(
        f.line_items,
        vec![
            item("Beratung Projekt \"Nordlicht\"", Some("12"), Some("1250.00"), "15000.00"),
            item("Reisekosten (pauschal)", Some("1"), Some("480.50"), "480.50"),
        ]
    );
}

#[test]
fn text_receipt_us_dates_and_symbols() {
    let o = parse("receipt_us.txt", None, None);
    assert_eq!(o.content_type, "text/plain");
    let f = &o.fields;
    assert_eq!(f.doc_type_hint.as_deref(), Some("receipt"));
    assert_eq!(f.vendor.as_deref(), Some("BEAN & LEAF CAFE LLC"));
    assert_eq!(f.date.as_deref(), Some("2026-03-25"), "03/25 is unambiguous");
    assert_eq!(f.total, Some(d("20.10")));
    assert_eq!(f.currency.as_deref(), Some("USD"));
    assert_eq!(f.invoice_number, None, "a receipt number is not an invoice number");
    assert_eq!(f.line_items.len(), 3);
    assert_eq!(f.line_items[0], item("Latte", Some("2"), None, "9.50"));
    assert_eq!(f.phones, vec!["2065550142"]);
}

#[test]
fn text_invalid_utf8_is_flagged() {
    let o = parse("latin1_receipt.txt", Some("text/plain; charset=utf-8"), None);
    assert_eq!(o.warnings, vec!["invalid_utf8"]);
    assert_eq!(o.fields.total, Some(d("9.00")));
    assert_eq!(o.fields.currency.as_deref(), Some("EUR"));
    assert_eq!(o.fields.date.as_deref(), Some("2026-03-12"));
}

#[test]
fn text_prose_is_not_a_document_type() {
    let o = parse("email_plain.txt", Some("text/plain"), None);
    let f = &o.fields;
    assert_eq!(f.doc_type_hint.as_deref(), Some("other"), "a mention of 'invoice' in prose is not a title");
    assert_eq!((f.date.as_ref(), f.total, f.currency.as_ref(), f.vendor.as_ref()), (None, None, None, None), "nothing guessed");
    assert_eq!(f.emails, vec!["someone@example.org"]);
    assert_eq!(f.phones, vec!["+442079460958"]);
}

#[test]
fn text_contract_parties_across_lines() {
    let o = parse("contract.txt", Some("text/plain"), None);
    let f = &o.fields;
    assert_eq!(f.doc_type_hint.as_deref(), Some("contract"));
    assert_eq!(f.parties, vec!["Orbital Dynamics Inc.", "Kestrel Analytics B.V."]);
    assert_eq!(f.date.as_deref(), Some("2026-04-01"));
    assert_eq!(f.currency.as_deref(), Some("USD"));
    assert_eq!(f.total, None, "damages are not a total due");
}

#[test]
fn html_visible_text_only() {
    let o = parse("invoice_table.html", Some("text/html"), None);
    for hidden in ["FAKE", "decoy", "COMMENT", "99,999", "content:"] {
        assert!(!o.text.contains(hidden), "{hidden} leaked into text:\n{}", o.text);
    }
    assert!(o.text.contains("Harbour & Crane Ltd"), "entities decoded");
    let f = &o.fields;
    assert_eq!(f.doc_type_hint.as_deref(), Some("invoice"));
    assert_eq!(f.vendor.as_deref(), Some("Harbour & Crane Ltd"));
    assert_eq!(f.invoice_number.as_deref(), Some("HC-2026-0031"));
    assert_eq!(f.date.as_deref(), Some("2026-03-12"));
    assert_eq!(f.total, Some(d("5630.40")));
    assert_eq!(f.currency.as_deref(), Some("GBP"));
    assert_eq!(f.iban.as_deref(), Some("GB33BUKB20201555555555"));
    assert_eq!(f.invalid_ibans, vec!["GB00BUKB20201555555555"]);
    assert_eq!(
        f.line_items,
        vec![
            item("Crane hire – 25 t (per day)", Some("3"), Some("1200.00"), "3600.00"),
            item("Operator hours", Some("24"), Some("45.50"), "1092.00"),
        ]
    );
}

#[test]
fn json_camel_case_export() {
    let o = parse("invoice_camel.json", Some("application/json"), None);
    assert!(o.text.contains("invoiceNumber: A-77-2026"), "documented mapping:\n{}", o.text);
    assert!(o.text.contains("item | qty | price | line_total"), "arrays of objects become tables");
    assert!(!o.text.contains("notes"), "null is skipped");
    let f = &o.fields;
    assert_eq!(f.doc_type_hint.as_deref(), Some("invoice"));
    assert_eq!(f.vendor.as_deref(), Some("Quartz Office Supplies S.A."));
    assert_eq!(f.invoice_number.as_deref(), Some("A-77-2026"));
    assert_eq!(f.date.as_deref(), Some("2026-04-01"), "issueDate, not exportedAt");
    assert_eq!(f.total, Some(d("1037.90")));
    assert_eq!(f.currency.as_deref(), Some("EUR"));
    assert_eq!(f.line_items[1], item("Desk lamp", Some("4"), Some("24.50"), "98.00"));
    assert_eq!(f.phones, vec!["+34911234567"]);
}

#[test]
fn email_multipart_with_quoted_printable_invoice() {
    let o = parse("multipart_invoice.eml", None, None);
    assert_eq!(o.content_type, "message/rfc822");
    assert!(!o.text.contains("HTML alternative"), "text part preferred");
    let f = &o.fields;
    assert_eq!(f.doc_type_hint.as_deref(), Some("invoice"), "an invoice sent by mail is an invoice");
    assert_eq!(f.subject.as_deref(), Some("Your invoice NH-5521 – March"), "RFC 2047 decoded");
    assert_eq!(f.date.as_deref(), Some("2026-03-31"), "the invoice date, not the envelope date");
    assert_eq!(f.total, Some(d("323.00")));
    assert_eq!(f.currency.as_deref(), Some("EUR"));
    assert_eq!(f.vendor.as_deref(), Some("Nimbus Hosting Ltd"));
    assert_eq!(f.iban.as_deref(), Some("NL91ABNA0417164300"));
    assert_eq!(f.emails, vec!["billing@nimbus-hosting.example", "finance@client.example", "ops@client.example"]);
    assert_eq!(f.line_items.len(), 2);
}

#[test]
fn email_html_only_goes_through_html_path() {
    let o = parse("html_only.eml", Some("message/rfc822"), None);
    assert!(o.text.ends_with("Hi Bruno,\n\nFriday works! Call me on +351 21 123 4567."), "{}", o.text);
    let f = &o.fields;
    assert_eq!(f.doc_type_hint.as_deref(), Some("email"));
    assert_eq!(f.subject.as_deref(), Some("Re: Lunch on Friday?"));
    assert_eq!(f.date.as_deref(), Some("2026-03-13"), "from the Date header");
    assert_eq!(f.phones, vec!["+351211234567"]);
}

#[test]
fn libreoffice_pdf_invoice() {
    let o = parse("lo_invoice.pdf", None, None);
    assert_eq!(o.content_type, "application/pdf");
    let f = &o.fields;
    assert_eq!(f.vendor.as_deref(), Some("Fjordline Software AS"));
    assert_eq!(f.invoice_number.as_deref(), Some("FS-2026-118"));
    assert_eq!(f.date.as_deref(), Some("2026-02-27"));
    assert_eq!(f.total, Some(d("25625.00")), "space-grouped NOK amounts");
    assert_eq!(f.currency.as_deref(), Some("NOK"));
    assert_eq!(f.iban.as_deref(), Some("NO9386011117947"));
    assert_eq!(
        f.line_items,
        vec![
            item("Licence seat (annual)", Some("10"), Some("1200.00"), "12000.00"),
            item("Onboarding workshop", Some("1"), Some("8500.00"), "8500.00"),
        ]
    );
}

#[test]
fn libreoffice_pdf_contract_and_multipage_memo() {
    let c = parse("lo_contract.pdf", Some("application/pdf"), None);
    assert_eq!(c.fields.parties, vec!["Orbital Dynamics Inc.", "Kestrel Analytics B.V."]);
    assert_eq!(c.fields.doc_type_hint.as_deref(), Some("contract"));
    let m = parse("lo_memo.pdf", Some("application/pdf"), None);
    assert!(m.text.contains("1. The consolidation") && m.text.contains("40. The consolidation"), "both pages read");
    assert_eq!(m.fields.date.as_deref(), Some("2026-01-14"));
    assert_eq!(m.fields.doc_type_hint.as_deref(), Some("other"), "a memo without To: is not an e-mail");
    assert_eq!(m.fields.subject.as_deref(), Some("Warehouse consolidation"));
}
