//! Discount and shipping lines of invoices in the extended notations, so
//! that the totals block reads like real invoices: net − discount +
//! shipping, tax on that, gross. Classic documents carry none, and
//! [`recompute`] then gives exactly the classic total (net + tax), so the
//! classic corpus stays byte for byte the same.
//!
//! Planted anomalies go through [`recompute`] too (an outlier's total
//! follows its new prices, discount and shipping included), so an anomaly
//! is planted the same way in every notation the generator writes.

use super::model::{cents, Class, DocModel};
use super::render::Lines;
use rand::rngs::StdRng;
use rand::Rng;
use rust_decimal::Decimal;

/// The extra lines of one invoice (zero: not printed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Charges {
    /// Deducted from the net before tax.
    pub discount: Decimal,
    /// Added to the net before tax.
    pub shipping: Decimal,
}

/// (discount, shipping) labels, in the order of `render::extended::NOTATIONS`.
const LABELS: [(&str, &str); 6] = [
    ("Discount", "Shipping"),
    ("Rabatt", "Versandkosten"),
    ("Remise", "Frais de port"),
    ("Descuento", "Gastos de envío"),
    ("Sconto", "Spese di spedizione"),
    ("Korting", "Verzendkosten"),
];

/// Draws a discount and/or shipping for an invoice in the extended
/// notations (about half get one or both) and recomputes its totals.
pub fn draw(rng: &mut StdRng, m: &mut DocModel) {
    if m.class != Class::Invoice || m.style.notation.is_none() {
        return;
    }
    if rng.random_bool(0.3) {
        // 2–10 % off the net.
        let pct = Decimal::from(rng.random_range(2..=10u32));
        m.charges.discount = cents(m.subtotal * pct / Decimal::ONE_HUNDRED);
    }
    if rng.random_bool(0.3) {
        m.charges.shipping = Decimal::new(*[490i64, 995, 1500, 2450].get(rng.random_range(0..4)).unwrap_or(&490), 2);
    }
    recompute(m);
}

/// Tax and total from the items, the discount and the shipping:
/// net = Σ items − discount + shipping; tax = net × rate; total = net + tax.
pub fn recompute(m: &mut DocModel) {
    m.subtotal = m.items.iter().map(|i| i.amount).sum();
    let base = m.subtotal - m.charges.discount + m.charges.shipping;
    m.tax = cents(base * Decimal::from(m.tax_rate) / Decimal::ONE_HUNDRED);
    m.total = base + m.tax;
}

/// The printed discount and shipping lines (after the subtotal) in language `lang`.
pub fn lines(m: &DocModel, lang: usize, money: impl Fn(Decimal) -> String) -> Lines {
    let (discount, shipping) = LABELS[lang % LABELS.len()];
    let mut out: Lines = Vec::new();
    if m.charges.discount > Decimal::ZERO {
        out.push(vec![format!("{discount}:"), money(-m.charges.discount)]);
    }
    if m.charges.shipping > Decimal::ZERO {
        out.push(vec![format!("{shipping}:"), money(m.charges.shipping)]);
    }
    out
}

/// The discount (negative) and shipping as named amounts, for structured
/// renderings (JSON); empty for documents without them.
pub fn amounts(m: &DocModel) -> Vec<(&'static str, Decimal)> {
    let mut out = Vec::new();
    if m.charges.discount > Decimal::ZERO {
        out.push(("discount", -m.charges.discount));
    }
    if m.charges.shipping > Decimal::ZERO {
        out.push(("shipping", m.charges.shipping));
    }
    out
}
