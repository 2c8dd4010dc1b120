//! Fields from an e-invoice XML ([`crate::formats::einvoice`]) override
//! what the text gave: they are what the seller's system stated, exactly
//! (source `einvoice`, confidence 1.0).

use crate::formats::einvoice::EInvoice;
use docflow_schemas::BusinessFields;

/// Sets every field the e-invoice states.
pub fn apply(f: &mut BusinessFields, inv: &EInvoice) {
    let mut set = |name: &str, present: bool| {
        if present {
            f.set_provenance(name, 1.0, "einvoice");
        }
    };
    set("vendor", inv.vendor.is_some());
    set("invoice_number", inv.invoice_number.is_some());
    set("date", inv.date.is_some());
    set("total", inv.total.or(inv.due).is_some());
    set("currency", inv.currency.is_some());
    set("iban", inv.iban.is_some());
    set("line_items", !inv.line_items.is_empty());
    f.doc_type_hint = Some("invoice".to_string());
    if inv.vendor.is_some() {
        f.vendor = inv.vendor.clone();
    }
    if inv.invoice_number.is_some() {
        f.invoice_number = inv.invoice_number.clone();
    }
    if inv.date.is_some() {
        f.date = inv.date.clone();
    }
    if let Some(t) = inv.total.or(inv.due) {
        f.total = Some(t);
    }
    if inv.currency.is_some() {
        f.currency = inv.currency.clone();
    }
    if let Some(iban) = &inv.iban {
        f.iban = Some(iban.clone());
        f.invalid_ibans.retain(|i| i != iban);
    }
    if !inv.line_items.is_empty() {
        f.line_items = inv.line_items.clone();
    }
    f.line_items_consistent = super::items::consistent(&f.line_items, f.total, inv.tax_total);
}
