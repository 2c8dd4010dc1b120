//! `total_mismatch`: the stated total against the sum of the line items.
//!
//! A line without an `amount` counts as `quantity × unit_price` when both are
//! known; if any line has neither, the sum is unknown and nothing is claimed.
//! Rounding: each line amount and the total are rounded to the cent, so honest
//! documents differ by at most half a cent per line plus one cent; only a
//! difference beyond that tolerance is a mismatch. Its size is then judged
//! relative to the total (see `AnomalyParams::total_mismatch`).
//!
//! **Tax.** Parsed line items exclude tax lines, and a total usually
//! includes tax. A difference that equals a standard VAT/sales-tax rate
//! applied to the line sum (rounded to the cent, within the rounding
//! tolerance) is read as tax, not a mismatch. The rates are the standard and
//! reduced rates in use in Europe and North America; a random error lands
//! exactly on one of them (to the cent) only by rare chance. When the parser
//! gains stated subtotal/tax fields this becomes an exact check.

use docflow_schemas::{BusinessFields, LineItem};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

/// A stated total that does not match its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// |stated − Σ lines|.
    pub difference: Decimal,
    /// `difference / max(|stated|, 1)`.
    pub relative: f64,
}

fn line_amount(item: &LineItem) -> Option<Decimal> {
    item.amount.or_else(|| item.quantity?.checked_mul(item.unit_price?))
}

/// Rounding tolerance for `lines` line items: ½ cent per line + 1 cent.
pub fn tolerance(lines: usize) -> Decimal {
    Decimal::new(1, 2) + Decimal::new(5, 3) * Decimal::from(lines as u64)
}

/// Tax rates (percent) a difference between total and line sum may be.
pub const TAX_RATES_PERCENT: [&str; 30] = [
    "2.1", "2.5", "3", "4", "5", "5.5", "6", "7", "7.7", "8", "8.1", "8.875", "9", "10", "12", "13", "13.5", "14", "15",
    "16", "17", "18", "19", "20", "21", "22", "23", "24", "25", "27",
];

fn explained_by_tax(total: Decimal, sum: Decimal, tolerance: Decimal) -> bool {
    TAX_RATES_PERCENT.iter().any(|r| {
        let rate: Decimal = r.parse().unwrap_or_default();
        let tax = (sum * rate / Decimal::ONE_HUNDRED).round_dp(2);
        (total - sum - tax).abs() <= tolerance
    })
}

/// The mismatch, if the document states a total and itemises it, and they differ beyond rounding.
pub fn check(fields: &BusinessFields) -> Option<Mismatch> {
    let total = fields.total?;
    if fields.line_items.is_empty() {
        return None;
    }
    let mut sum = Decimal::ZERO;
    for item in &fields.line_items {
        sum = sum.checked_add(line_amount(item)?)?;
    }
    let difference = (total - sum).abs();
    let tol = tolerance(fields.line_items.len());
    if difference <= tol || explained_by_tax(total, sum, tol) {
        return None;
    }
    let denom = total.abs().max(Decimal::ONE);
    let relative = (difference / denom).to_f64()?;
    Some(Mismatch { difference, relative })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn fields(total: &str, lines: &[(&str, Option<&str>, Option<&str>)]) -> BusinessFields {
        BusinessFields {
            total: Some(d(total)),
            line_items: lines
                .iter()
                .map(|(amount, q, p)| LineItem {
                    description: "x".into(),
                    amount: (!amount.is_empty()).then(|| d(amount)),
                    quantity: q.map(d),
                    unit_price: p.map(d),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn matching_and_rounding_are_not_mismatches() {
        assert!(check(&fields("30.00", &[("10.00", None, None), ("20.00", None, None)])).is_none());
        assert!(check(&fields("30.01", &[("10.00", None, None), ("20.00", None, None)])).is_none());
        assert!(check(&fields("30.00", &[("", Some("3"), Some("10.00"))])).is_none());
    }

    #[test]
    fn tax_on_top_is_not_a_mismatch() {
        // 19 % VAT on 100.00 + 33.33 = 133.33 → 25.33 tax.
        assert!(check(&fields("158.66", &[("100.00", None, None), ("33.33", None, None)])).is_none());
        assert!(check(&fields("120.00", &[("100.00", None, None)])).is_none());
        // Not a tax rate: 11 % on top.
        assert!(check(&fields("111.00", &[("100.00", None, None)])).is_some());
    }

    #[test]
    fn real_difference_is_reported() {
        let m = check(&fields("35.00", &[("10.00", None, None), ("20.00", None, None)])).unwrap();
        assert_eq!(m.difference, d("5.00"));
        assert!((m.relative - 5.0 / 35.0).abs() < 1e-9);
    }

    #[test]
    fn unknown_sums_claim_nothing() {
        assert!(check(&fields("35.00", &[("", Some("3"), None)])).is_none());
        assert!(check(&fields("35.00", &[])).is_none());
        assert!(check(&BusinessFields::default()).is_none());
    }
}
