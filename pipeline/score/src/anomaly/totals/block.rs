//! The totals block of a document: the labelled lines that lead from the
//! line items to the amount payable (net, tax, shipping, discount, rounding,
//! gross), read from the text in six languages.
//!
//! Only lines of the form `<label> … <amount>` count; the label is the text
//! before the line's first digit. A line is read for its last amount (the
//! rightmost column is the money column on invoices and till receipts).
//! Identifier lines (`GST No: 0003422`, `VAT reg …`), quantities and payment
//! lines (cash tendered, change, card) are left out: they do not compose the
//! total.
//!
//! The reader is generous on purpose: every value it returns can only add a
//! way for the stated total to be explained ([`super::check`] searches the
//! combinations), so a line read by mistake costs at most a missed
//! mismatch, never a false alarm.

use docflow_parse::extract::money::amounts;
use rust_decimal::Decimal;

/// What a line of the totals block contributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The sum before tax (`Subtotal`, `Net amount`, `Zwischensumme`, `Total HT`).
    Net,
    /// A tax line (`VAT 19%`, `GST`, `MwSt`, `TVA`, `IVA`, `BTW`).
    Tax,
    /// An addition (`Shipping`, `Delivery`, `Service charge`, `Versand`, `Frais de port`).
    Addition,
    /// A deduction (`Discount`, `Coupon`, `Rabatt`, `Remise`, `Descuento`, `Sconto`, `Korting`).
    Discount,
    /// A rounding adjustment (`Rounding`, `Rundung`, `Arrondi`).
    Rounding,
    /// The amount payable (`Total`, `Amount due`, `Zahlbetrag`, `Net à payer`, `Totaal te betalen`).
    Gross,
}

/// One labelled amount of the totals block.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub role: Role,
    /// As printed (signed); discounts are used by magnitude.
    pub value: Decimal,
}

/// Lines naming one of these are identifiers, counts or payments, not totals.
const SKIP: &[&str] = &[
    " no", "no.", "nr", "number", "reg", " id", "id:", "#", "qty", "quantity", "items", "count", "summary", "cash",
    "change", "tender", "paid", "card", "visa", "master", "amex", "debit", "credit", "payment", "bezahlt", "bar",
    "rendu", "espèces", "efectivo", "cambio", "contanti", "resto", "wisselgeld", "contant", "points", "saved",
];

/// The amount payable: checked first, since some of these hold a net or tax word.
const GROSS_FIRST: &[&str] = &[
    "net à payer", "net a payer", "incl", "inclusive", "ttc", "zahlbetrag", "gesamtbetrag", "endbetrag",
    "rechnungsbetrag", "amount payable", "amount due", "total due", "balance due", "grand total", "total a pagar",
    "importe total", "totale documento", "totale da pagare", "totaal te betalen", "te betalen",
];
const NET: &[&str] = &[
    "subtotal", "sub total", "sub-total", "excl", "exclusive", "before tax", "net", "netto", "ohne", "zwischensumme",
    "sous-total", "sous total", "hors taxe", " ht", "base imponible", "imponibile", "subtotaal",
];
const TAX: &[&str] = &[
    "vat", "tax", "gst", "sst", "hst", "pst", "mwst", "ust", "steuer", "tva", "iva", "btw", "igic",
];
const DISCOUNT: &[&str] = &[
    "discount", "disc", "coupon", "rebate", "promo", "voucher", "saving", "less", "rabatt", "nachlass", "skonto",
    "remise", "réduction", "reduction", "descuento", "sconto", "korting",
];
const ROUNDING: &[&str] = &["round", "rundung", "arrondi", "redondeo", "arrotondamento", "afronding", "adj"];
const ADDITION: &[&str] = &[
    "shipping", "delivery", "freight", "postage", "handling", "carriage", "service charge", "surcharge", "tip",
    "gratuity", "versand", "porto", "fracht", "frais de port", "livraison", "envío", "envio", "spedizione",
    "trasporto", "verzend", "bezorg",
];
const GROSS: &[&str] = &["total", "totale", "totaal", "summe", "gesamt", "betrag", "montant", "importe", "amount"];

/// Short words that also stand for longer ones (`incl.`, `including`).
const PREFIXES: &[&str] = &["excl", "incl", "disc", "adj"];

/// Whether `label` holds `word` as a word: starting at a word boundary, and,
/// for short words (acronyms such as `vat`, `tax`, `gst`), ending at one
/// too (`taxi` is no tax); longer words match as prefixes (`rounding adj`,
/// `verzendkosten`).
fn has(label: &str, word: &str) -> bool {
    let word = word.trim_start();
    let short = word.chars().count() <= 4 && !PREFIXES.contains(&word);
    label.match_indices(word).any(|(i, w)| {
        let starts = !label[..i].chars().next_back().is_some_and(char::is_alphanumeric);
        let ends = !short || !label[i + w.len()..].chars().next().is_some_and(char::is_alphanumeric);
        starts && ends
    })
}

fn any(label: &str, words: &[&str]) -> bool {
    words.iter().any(|w| has(label, w))
}

/// The role of a lower-cased label, if it composes the total.
pub fn role(label: &str) -> Option<Role> {
    let label = format!(" {}", label.trim().trim_end_matches([':', '.', ' ', '(', '@', '-', '=']));
    let l = label.as_str();
    if l.trim().is_empty() || any(l, SKIP) {
        return None;
    }
    if any(l, GROSS_FIRST) {
        Some(Role::Gross)
    } else if any(l, NET) {
        Some(Role::Net)
    } else if any(l, TAX) {
        Some(Role::Tax)
    } else if any(l, DISCOUNT) {
        Some(Role::Discount)
    } else if any(l, ROUNDING) {
        Some(Role::Rounding)
    } else if any(l, ADDITION) {
        Some(Role::Addition)
    } else if any(l, GROSS) {
        Some(Role::Gross)
    } else {
        None
    }
}

/// The labelled amounts of `text` that compose a total, in text order.
pub fn read(text: &str) -> Vec<Component> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(first_digit) = line.find(|c: char| c.is_ascii_digit()) else { continue };
        let label = &line[..first_digit];
        if !label.chars().any(char::is_alphabetic) {
            continue;
        }
        let Some(role) = role(&label.to_lowercase()) else { continue };
        if let Some(a) = amounts(line).last() {
            out.push(Component { role, value: a.value });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(text: &str) -> Vec<(Role, String)> {
        read(text).into_iter().map(|c| (c.role, c.value.to_string())).collect()
    }

    #[test]
    fn labels_in_six_languages() {
        assert_eq!(role("subtotal:"), Some(Role::Net));
        assert_eq!(role("zwischensumme"), Some(Role::Net));
        assert_eq!(role("total ht"), Some(Role::Net));
        assert_eq!(role("vat "), Some(Role::Tax));
        assert_eq!(role("mwst "), Some(Role::Tax));
        assert_eq!(role("iva "), Some(Role::Tax));
        assert_eq!(role("total gst :"), Some(Role::Tax));
        assert_eq!(role("total (including gst)"), Some(Role::Gross));
        assert_eq!(role("total sales (excluding gst) :"), Some(Role::Net));
        assert_eq!(role("net à payer:"), Some(Role::Gross));
        assert_eq!(role("totaal te betalen:"), Some(Role::Gross));
        assert_eq!(role("zahlbetrag:"), Some(Role::Gross));
        assert_eq!(role("coupon "), Some(Role::Discount));
        assert_eq!(role("sconto "), Some(Role::Discount));
        assert_eq!(role("rounding adj "), Some(Role::Rounding));
        assert_eq!(role("frais de port "), Some(Role::Addition));
        assert_eq!(role("shipping & handling "), Some(Role::Addition));
        assert_eq!(role("total "), Some(Role::Gross));
        // Identifiers, counts and payments compose nothing.
        assert_eq!(role("gst no: "), None);
        assert_eq!(role("gst id : "), None);
        assert_eq!(role("total qty: "), None);
        assert_eq!(role("cash "), None);
        assert_eq!(role("change "), None);
        assert_eq!(role("paid by card "), None);
        // Words inside other words do not count ("taxi" is not a tax).
        assert_eq!(role("taxi fare "), None);
    }

    #[test]
    fn reads_the_block_of_a_till_receipt() {
        let r = "SHOP\n2 x Coffee    7.00\nSUBTOTAL    25.60\nCOUPON    -3.90\nTOTAL    21.70\nCASH    50.00\nCHANGE    28.30\nGST NO: 000342237184";
        assert_eq!(
            roles(r),
            vec![(Role::Net, "25.60".into()), (Role::Discount, "-3.90".into()), (Role::Gross, "21.70".into())]
        );
    }

    #[test]
    fn reads_european_numbers() {
        let t = "Zwischensumme: 1.000,00 €\nMwSt 19%: 190,00 €\nVersand: 4,90 €\nZahlbetrag: 1.194,90 €";
        assert_eq!(
            roles(t),
            vec![
                (Role::Net, "1000.00".into()),
                (Role::Tax, "190.00".into()),
                (Role::Addition, "4.90".into()),
                (Role::Gross, "1194.90".into())
            ]
        );
    }
}
