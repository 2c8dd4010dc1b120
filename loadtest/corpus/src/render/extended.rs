//! The extended notations: invoices and receipts written the way real ones
//! from elsewhere are, so that extraction is trained and tested on more
//! than the classic layout. Per language (EN, DE, FR, ES, IT, NL): the
//! title, number, date, net, tax and total labels and a seller label; an
//! English number printed after the title with no label; credit notes with
//! negative amounts; `1 234,56` amounts; discount and shipping lines
//! ([`charges`](crate::charges)); receipts with rounding, cash and
//! change lines. Drawn only when the corpus asks for them
//! (`CorpusConfig::extended_notations`), so the classic stream is unchanged.

use super::{address, fmt_date, fmt_money, iban_printed, items_table, needs_currency_line, separate_currency, Lines};
use crate::model::{Class, DocModel, NumberStyle};
use rand::rngs::StdRng;
use rand::Rng;
use rust_decimal::Decimal;

/// Labels, one language each.
pub struct Notation {
    pub title: &'static str,
    /// The title of a credit note.
    pub credit_title: &'static str,
    /// Empty: the number follows the title on its line.
    pub number: &'static str,
    pub date: &'static str,
    pub net: &'static str,
    pub tax: &'static str,
    pub total: &'static str,
    pub seller: &'static str,
}

const fn n(
    title: &'static str,
    credit_title: &'static str,
    number: &'static str,
    date: &'static str,
    net: &'static str,
    tax: &'static str,
    total: &'static str,
    seller: &'static str,
) -> Notation {
    Notation { title, credit_title, number, date, net, tax, total, seller }
}

/// ISO 639-1 codes of [`NOTATIONS`], in order.
pub const LANGUAGES: [&str; 6] = ["en", "de", "fr", "es", "it", "nl"];

pub const NOTATIONS: [Notation; 6] = [
    n("INVOICE", "CREDIT NOTE", "", "Issued:", "Net amount", "VAT", "Amount payable", "From:"),
    n("RECHNUNG", "GUTSCHRIFT", "Rechnungsnummer:", "Rechnungsdatum:", "Nettobetrag", "MwSt.", "Zahlbetrag", "Verkäufer:"),
    n("FACTURE", "AVOIR", "N° de facture :", "Date de facture :", "Total HT", "TVA", "Net à payer", "Vendeur :"),
    n("FACTURA", "NOTA DE CRÉDITO", "Nº factura:", "Fecha de emisión:", "Base imponible", "IVA", "Importe total", "Proveedor:"),
    n("FATTURA", "NOTA DI CREDITO", "Numero fattura:", "Data fattura:", "Imponibile", "IVA", "Totale documento", "Fornitore:"),
    n("FACTUUR", "CREDITNOTA", "Factuurnummer:", "Factuurdatum:", "Subtotaal", "BTW", "Totaal te betalen", "Leverancier:"),
];

/// Draws the extended variations of `m` (already in notation `lang`): a
/// fifth of the invoices become credit notes (every amount negative, as
/// they are printed), and comma-decimal amounts are grouped by spaces in a
/// third of the documents (`1 234,56`).
pub fn vary(rng: &mut StdRng, m: &mut DocModel) {
    // (Discount and shipping lines, `corpus::charges`, stay on invoices.)
    let charged = m.charges != crate::charges::Charges::default();
    if m.class == Class::Invoice && !charged && rng.random_bool(0.2) {
        m.style.credit_note = true;
        for i in &mut m.items {
            i.unit_price = -i.unit_price;
            i.amount = -i.amount;
        }
        m.subtotal = -m.subtotal;
        m.tax = -m.tax;
        m.total = -m.total;
    }
    if matches!(m.style.number, NumberStyle::Eu | NumberStyle::PlainComma) && rng.random_bool(0.33) {
        m.style.number = NumberStyle::Spaced;
    }
}

/// An invoice (or credit note) in the notation of language `lang`.
pub fn invoice_lines(m: &DocModel, lang: usize, l: &mut Lines) {
    let n = &NOTATIONS[lang % NOTATIONS.len()];
    let title = if m.style.credit_note { n.credit_title } else { n.title };
    let one = |s: String| vec![s];
    let two = |a: &str, b: String| vec![a.to_string(), b];
    l.push(two(n.seller, m.vendor.name.to_string()));
    l.push(one(address(m).to_string()));
    if let Some((p, _)) = &m.phone {
        l.push(two("Tel:", p.clone()));
    }
    l.push(two("Email:", m.vendor_email.clone()));
    l.push(vec![]);
    if n.number.is_empty() {
        l.push(one(format!("{title} {}", m.number)));
    } else {
        l.push(one(title.to_string()));
        l.push(two(n.number, m.number.clone()));
    }
    l.push(two(n.date, fmt_date(m.date, m.style.date)));
    l.push(vec![]);
    l.push(one("Bill To:".to_string()));
    l.push(one(m.customer.to_string()));
    l.push(vec![]);
    items_table(m, l, ["Description", "Qty", "Unit Price", "Amount"]);
    l.push(vec![]);
    l.push(two(&format!("{}:", n.net), fmt_money(m.subtotal, m)));
    l.extend(crate::charges::lines(m, lang, |v| fmt_money(v, m)));
    if m.tax_rate > 0 {
        l.push(two(&format!("{} {}%:", n.tax, m.tax_rate), fmt_money(m.tax, m)));
    }
    l.push(two(&format!("{}:", n.total), fmt_money(m.total, m)));
    if needs_currency_line(m) || separate_currency(m) {
        l.push(two("Currency:", m.vendor.currency.to_string()));
    }
    if let Some(i) = &m.iban {
        l.push(two("IBAN:", iban_printed(m, i)));
    }
}

/// The tail of a receipt in the extended notations: rounding, cash
/// tendered and change.
pub fn receipt_tail(m: &DocModel, l: &mut Lines) {
    let two = |a: &str, b: String| vec![a.to_string(), b];
    let tendered = (m.total / Decimal::from(10)).floor() * Decimal::from(10) + Decimal::from(10);
    l.push(two("ROUNDING", fmt_money(Decimal::ZERO, m)));
    l.push(two("CASH", fmt_money(tendered, m)));
    l.push(two("CHANGE", fmt_money(tendered - m.total, m)));
}
