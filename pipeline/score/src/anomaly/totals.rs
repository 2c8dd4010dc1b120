//! `total_mismatch`: the stated total against the sum of the line items.
//!
//! A line without an `amount` counts as `quantity × unit_price` when both are
//! known; if any line has neither, the sum is unknown and nothing is claimed.
//! Rounding: each line amount and the total are rounded to the cent, so honest
//! documents differ by at most half a cent per line plus one cent; only a
//! difference beyond that tolerance is a mismatch. Its size is then judged
//! relative to the total (see `AnomalyParams::total_mismatch`).

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
    if difference <= tolerance(fields.line_items.len()) {
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
