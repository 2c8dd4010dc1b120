//! E-invoice XML: UN/CEFACT CII (Factur-X, ZUGFeRD 2.x and its 1.0
//! `CrossIndustryDocument`, XRechnung CII) and UBL 2.1 `Invoice` /
//! `CreditNote` (XRechnung UBL, Peppol BIS). The fields an e-invoice
//! states are exact, so they are taken as they are (source `einvoice`,
//! confidence 1.0): seller name, invoice id, issue date, grand total,
//! currency, payee IBAN, tax total and line items.
//!
//! Read with quick-xml as a stream of events, matched on the path of local
//! element names (namespace prefixes differ between producers). Hostile
//! XML is bounded: a DOCTYPE is refused (no entity is ever expanded, so a
//! billion-laughs document stops at its declaration), nesting deeper than
//! [`MAX_DEPTH`] and more than [`MAX_ELEMENTS`] elements are refused, and
//! the body is already bounded by the document size limit.

use super::{normalize, Extracted};
use crate::error::ParseError;
use docflow_schemas::LineItem;
use quick_xml::events::Event;
use rust_decimal::Decimal;

/// Deepest element nesting accepted (e-invoices nest about 10 levels).
pub const MAX_DEPTH: usize = 100;
/// Most elements accepted in one document.
pub const MAX_ELEMENTS: usize = 500_000;

/// The two e-invoice syntaxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Cii,
    Ubl,
}

/// The fields of one e-invoice.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EInvoice {
    pub syntax: Option<Syntax>,
    pub vendor: Option<String>,
    pub invoice_number: Option<String>,
    /// ISO `YYYY-MM-DD`.
    pub date: Option<String>,
    /// Grand total with tax (CII `GrandTotalAmount`, UBL `TaxInclusiveAmount`).
    pub total: Option<Decimal>,
    /// What is still due (CII `DuePayableAmount`, UBL `PayableAmount`).
    pub due: Option<Decimal>,
    pub tax_total: Option<Decimal>,
    pub currency: Option<String>,
    pub iban: Option<String>,
    pub line_items: Vec<LineItem>,
    /// A credit note (CII type code 381, UBL `CreditNote`).
    pub credit_note: bool,
}

/// Whether `body` looks like an e-invoice XML (checked on its first 64 KiB).
pub fn looks_like_einvoice(body: &[u8]) -> bool {
    // (Producers put long licence comments before the root element.)
    let head = &body[..body.len().min(64 * 1024)];
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    has(b"CrossIndustryInvoice")
        || has(b"CrossIndustryDocument")
        || has(b"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2")
        || has(b"urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2")
}

/// Parses an XML document: its text (every text node, one per line, for
/// the encoder) and, when it is an e-invoice, its fields.
pub fn parse(body: &[u8]) -> Result<(Extracted, Option<EInvoice>), ParseError> {
    let (text, inv) = read(body)?;
    let inv = inv.filter(|i| i.syntax.is_some());
    Ok((Extracted { text: normalize(&text), ..Default::default() }, inv))
}

/// Reads an e-invoice's fields only (an XML attached to a PDF or an e-mail).
pub fn fields(body: &[u8]) -> Result<Option<EInvoice>, ParseError> {
    Ok(read(body)?.1.filter(|i| i.syntax.is_some()))
}

fn bad(e: impl std::fmt::Display) -> ParseError {
    ParseError::Xml(e.to_string())
}

/// The state of a line item being read.
#[derive(Default)]
struct Item {
    description: Option<String>,
    quantity: Option<Decimal>,
    unit_price: Option<Decimal>,
    amount: Option<Decimal>,
}

fn read(body: &[u8]) -> Result<(String, Option<EInvoice>), ParseError> {
    let mut reader = quick_xml::Reader::from_reader(body);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut inv = EInvoice::default();
    let mut item: Option<Item> = None;
    let mut elements = 0usize;
    loop {
        let ev = reader.read_event_into(&mut buf).map_err(|e| bad(format!("at byte {}: {e}", reader.buffer_position())))?;
        match ev {
            Event::DocType(_) => return Err(ParseError::XmlDoctype),
            Event::Start(e) => {
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(ParseError::XmlTooLarge { limit: MAX_ELEMENTS });
                }
                if path.len() >= MAX_DEPTH {
                    return Err(ParseError::XmlTooDeep { limit: MAX_DEPTH });
                }
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    inv.syntax = match name.as_str() {
                        "CrossIndustryInvoice" | "CrossIndustryDocument" => Some(Syntax::Cii),
                        "Invoice" => Some(Syntax::Ubl),
                        "CreditNote" => {
                            inv.credit_note = true;
                            Some(Syntax::Ubl)
                        }
                        _ => None,
                    };
                }
                if matches!(name.as_str(), "IncludedSupplyChainTradeLineItem" | "InvoiceLine" | "CreditNoteLine") {
                    item = Some(Item::default());
                }
                path.push(name);
            }
            Event::Empty(_) => {
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(ParseError::XmlTooLarge { limit: MAX_ELEMENTS });
                }
            }
            Event::End(_) => {
                if let Some(name) = path.pop() {
                    if matches!(name.as_str(), "IncludedSupplyChainTradeLineItem" | "InvoiceLine" | "CreditNoteLine") {
                        if let Some(it) = item.take() {
                            inv.line_items.push(LineItem {
                                description: it.description.unwrap_or_default(),
                                quantity: it.quantity,
                                unit_price: it.unit_price,
                                amount: it.amount,
                            });
                        }
                    }
                }
            }
            Event::Text(t) => {
                let value = t.unescape().map_err(bad)?;
                let value = value.trim();
                if !value.is_empty() {
                    if text.len() < 1 << 20 {
                        text.push_str(value);
                        text.push('\n');
                    }
                    take_value(&mut inv, item.as_mut(), &path, value);
                }
            }
            Event::CData(t) => {
                let value = String::from_utf8_lossy(&t).trim().to_string();
                if !value.is_empty() {
                    text.push_str(&value);
                    text.push('\n');
                    take_value(&mut inv, item.as_mut(), &path, &value);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !path.is_empty() {
        return Err(bad(format!("unexpected end of document inside <{}>", path.join("/"))));
    }
    Ok((text, Some(inv)))
}

fn ends_with(path: &[String], tail: &[&str]) -> bool {
    path.len() >= tail.len() && path[path.len() - tail.len()..].iter().zip(tail).all(|(a, b)| a == b)
}

fn set_once<T>(slot: &mut Option<T>, v: Option<T>) {
    if slot.is_none() {
        *slot = v;
    }
}

fn amount(s: &str) -> Option<Decimal> {
    s.trim().parse::<Decimal>().ok()
}

/// CII dates are `YYYYMMDD` (format 102); UBL dates are ISO already.
fn iso_date(s: &str) -> Option<String> {
    let s = s.trim();
    let d = if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        chrono::NaiveDate::parse_from_str(s, "%Y%m%d").ok()?
    } else {
        chrono::NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?
    };
    Some(d.format("%Y-%m-%d").to_string())
}

fn take_value(inv: &mut EInvoice, item: Option<&mut Item>, path: &[String], v: &str) {
    let Some(syntax) = inv.syntax else { return };
    if let Some(it) = item {
        let in_line = |tail: &[&str]| ends_with(path, tail);
        match syntax {
            Syntax::Cii => {
                if in_line(&["SpecifiedTradeProduct", "Name"]) {
                    set_once(&mut it.description, Some(v.to_string()));
                } else if in_line(&["BilledQuantity"]) {
                    set_once(&mut it.quantity, amount(v));
                } else if in_line(&["NetPriceProductTradePrice", "ChargeAmount"]) {
                    set_once(&mut it.unit_price, amount(v));
                } else if in_line(&["LineTotalAmount"]) {
                    set_once(&mut it.amount, amount(v));
                }
            }
            Syntax::Ubl => {
                if in_line(&["Item", "Name"]) {
                    set_once(&mut it.description, Some(v.to_string()));
                } else if in_line(&["InvoicedQuantity"]) || in_line(&["CreditedQuantity"]) {
                    set_once(&mut it.quantity, amount(v));
                } else if in_line(&["Price", "PriceAmount"]) {
                    set_once(&mut it.unit_price, amount(v));
                } else if in_line(&["InvoiceLine", "LineExtensionAmount"]) || in_line(&["CreditNoteLine", "LineExtensionAmount"]) {
                    set_once(&mut it.amount, amount(v));
                }
            }
        }
        return;
    }
    let at = |tail: &[&str]| ends_with(path, tail);
    match syntax {
        Syntax::Cii => {
            if at(&["ExchangedDocument", "ID"]) || at(&["HeaderExchangedDocument", "ID"]) {
                set_once(&mut inv.invoice_number, Some(v.to_string()));
            } else if at(&["ExchangedDocument", "TypeCode"]) || at(&["HeaderExchangedDocument", "TypeCode"]) {
                inv.credit_note |= v == "381";
            } else if at(&["ExchangedDocument", "IssueDateTime", "DateTimeString"])
                || at(&["HeaderExchangedDocument", "IssueDateTime", "DateTimeString"])
            {
                set_once(&mut inv.date, iso_date(v));
            } else if at(&["SellerTradeParty", "Name"]) {
                set_once(&mut inv.vendor, Some(v.to_string()));
            } else if at(&["GrandTotalAmount"]) {
                set_once(&mut inv.total, amount(v));
            } else if at(&["DuePayableAmount"]) {
                set_once(&mut inv.due, amount(v));
            } else if at(&["TaxTotalAmount"]) {
                set_once(&mut inv.tax_total, amount(v));
            } else if at(&["InvoiceCurrencyCode"]) {
                set_once(&mut inv.currency, Some(v.to_ascii_uppercase()));
            } else if at(&["PayeePartyCreditorFinancialAccount", "IBANID"]) || at(&["PayeeSpecifiedCreditorFinancialAccount", "IBANID"]) {
                set_once(&mut inv.iban, Some(v.split_whitespace().collect::<String>().to_ascii_uppercase()));
            }
        }
        Syntax::Ubl => {
            let root_child = |name: &str| path.len() == 2 && path[1] == name;
            if root_child("ID") {
                set_once(&mut inv.invoice_number, Some(v.to_string()));
            } else if root_child("IssueDate") {
                set_once(&mut inv.date, iso_date(v));
            } else if root_child("DocumentCurrencyCode") {
                set_once(&mut inv.currency, Some(v.to_ascii_uppercase()));
            } else if at(&["AccountingSupplierParty", "Party", "PartyName", "Name"])
                || at(&["AccountingSupplierParty", "Party", "PartyLegalEntity", "RegistrationName"])
            {
                set_once(&mut inv.vendor, Some(v.to_string()));
            } else if at(&["LegalMonetaryTotal", "TaxInclusiveAmount"]) {
                set_once(&mut inv.total, amount(v));
            } else if at(&["LegalMonetaryTotal", "PayableAmount"]) {
                set_once(&mut inv.due, amount(v));
            } else if path.len() == 3 && at(&["TaxTotal", "TaxAmount"]) {
                set_once(&mut inv.tax_total, amount(v));
            } else if at(&["PaymentMeans", "PayeeFinancialAccount", "ID"]) {
                set_once(&mut inv.iban, Some(v.split_whitespace().collect::<String>().to_ascii_uppercase()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UBL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>R-2024-17</cbc:ID>
  <cbc:IssueDate>2024-05-01</cbc:IssueDate>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cac:AccountingSupplierParty><cac:Party><cac:PartyName><cbc:Name>Nordwind &amp; Söhne GmbH</cbc:Name></cac:PartyName></cac:Party></cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty><cac:Party><cac:PartyName><cbc:Name>Buyer AG</cbc:Name></cac:PartyName></cac:Party></cac:AccountingCustomerParty>
  <cac:PaymentMeans><cac:PayeeFinancialAccount><cbc:ID>DE89 3704 0044 0532 0130 00</cbc:ID></cac:PayeeFinancialAccount></cac:PaymentMeans>
  <cac:TaxTotal><cbc:TaxAmount currencyID="EUR">19.00</cbc:TaxAmount></cac:TaxTotal>
  <cac:LegalMonetaryTotal><cbc:TaxInclusiveAmount currencyID="EUR">119.00</cbc:TaxInclusiveAmount><cbc:PayableAmount currencyID="EUR">119.00</cbc:PayableAmount></cac:LegalMonetaryTotal>
  <cac:InvoiceLine><cbc:ID>1</cbc:ID><cbc:InvoicedQuantity unitCode="C62">2</cbc:InvoicedQuantity><cbc:LineExtensionAmount currencyID="EUR">100.00</cbc:LineExtensionAmount>
    <cac:Item><cbc:Name>Widget</cbc:Name></cac:Item><cac:Price><cbc:PriceAmount currencyID="EUR">50.00</cbc:PriceAmount></cac:Price></cac:InvoiceLine>
</Invoice>"#;

    #[test]
    fn ubl_invoice_fields() {
        assert!(looks_like_einvoice(UBL.as_bytes()));
        let inv = fields(UBL.as_bytes()).unwrap().unwrap();
        assert_eq!(inv.syntax, Some(Syntax::Ubl));
        assert_eq!(inv.invoice_number.as_deref(), Some("R-2024-17"));
        assert_eq!(inv.date.as_deref(), Some("2024-05-01"));
        assert_eq!(inv.vendor.as_deref(), Some("Nordwind & Söhne GmbH"));
        assert_eq!(inv.total, Some(Decimal::new(11900, 2)));
        assert_eq!(inv.tax_total, Some(Decimal::new(1900, 2)));
        assert_eq!(inv.iban.as_deref(), Some("DE89370400440532013000"));
        assert_eq!(inv.line_items.len(), 1);
        assert_eq!(inv.line_items[0].quantity, Some(Decimal::new(2, 0)));
        assert_eq!(inv.line_items[0].unit_price, Some(Decimal::new(5000, 2)));
        assert_eq!(inv.line_items[0].description, "Widget");
    }

    #[test]
    fn cii_invoice_fields() {
        let cii = r#"<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" xmlns:ram="r" xmlns:udt="u">
<rsm:ExchangedDocument><ram:ID>471102</ram:ID><ram:TypeCode>380</ram:TypeCode><ram:IssueDateTime><udt:DateTimeString format="102">20180305</udt:DateTimeString></ram:IssueDateTime></rsm:ExchangedDocument>
<rsm:SupplyChainTradeTransaction>
<ram:IncludedSupplyChainTradeLineItem><ram:SpecifiedTradeProduct><ram:Name>Trennblätter A4</ram:Name></ram:SpecifiedTradeProduct>
<ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice><ram:ChargeAmount>9.90</ram:ChargeAmount></ram:NetPriceProductTradePrice></ram:SpecifiedLineTradeAgreement>
<ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode="H87">20.0000</ram:BilledQuantity></ram:SpecifiedLineTradeDelivery>
<ram:SpecifiedLineTradeSettlement><ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>198.00</ram:LineTotalAmount></ram:SpecifiedTradeSettlementLineMonetarySummation></ram:SpecifiedLineTradeSettlement>
</ram:IncludedSupplyChainTradeLineItem>
<ram:ApplicableHeaderTradeAgreement><ram:SellerTradeParty><ram:Name>Lieferant GmbH</ram:Name></ram:SellerTradeParty><ram:BuyerTradeParty><ram:Name>Kunde</ram:Name></ram:BuyerTradeParty></ram:ApplicableHeaderTradeAgreement>
<ram:ApplicableHeaderTradeSettlement><ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
<ram:SpecifiedTradeSettlementHeaderMonetarySummation><ram:TaxTotalAmount currencyID="EUR">37.62</ram:TaxTotalAmount><ram:GrandTotalAmount>235.62</ram:GrandTotalAmount><ram:DuePayableAmount>235.62</ram:DuePayableAmount></ram:SpecifiedTradeSettlementHeaderMonetarySummation>
</ram:ApplicableHeaderTradeSettlement></rsm:SupplyChainTradeTransaction></rsm:CrossIndustryInvoice>"#;
        let inv = fields(cii.as_bytes()).unwrap().unwrap();
        assert_eq!(inv.syntax, Some(Syntax::Cii));
        assert_eq!(inv.invoice_number.as_deref(), Some("471102"));
        assert_eq!(inv.date.as_deref(), Some("2018-03-05"));
        assert_eq!(inv.vendor.as_deref(), Some("Lieferant GmbH"));
        assert_eq!(inv.total, Some(Decimal::new(23562, 2)));
        assert_eq!(inv.currency.as_deref(), Some("EUR"));
        assert_eq!(inv.line_items[0].amount, Some(Decimal::new(19800, 2)));
    }

    #[test]
    fn hostile_xml_gets_typed_errors() {
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><Invoice>&lol2;</Invoice>"#;
        assert_eq!(parse(laughs.as_bytes()).unwrap_err().kind(), "xml_doctype");
        let deep = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
        assert_eq!(parse(deep.as_bytes()).unwrap_err().kind(), "xml_too_deep");
        assert_eq!(parse(b"<Invoice><ID>1</Invoice>").unwrap_err().kind(), "invalid_xml");
        assert_eq!(parse(b"<Invoice><ID>&undefined;</ID></Invoice>").unwrap_err().kind(), "invalid_xml");
    }

    #[test]
    fn a_50_mib_xml_body_is_refused_by_the_size_limit() {
        let mut body = br#"<?xml version="1.0"?><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"><Note>"#.to_vec();
        body.resize(50 * 1024 * 1024, b'a');
        let raw = docflow_schemas::RawDocument { id: "x".into(), content_type: None, body, metadata: Default::default(), created_at_ms: 0 };
        let e = crate::parse_document(&raw, &crate::ParseLimits::default()).unwrap_err();
        assert_eq!(e.kind(), "too_large");
    }
}
