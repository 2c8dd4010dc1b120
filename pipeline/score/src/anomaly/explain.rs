//! The evidence record of each reason: which values it compared, the range
//! a normal document stays in, the fields it read with the parser's
//! confidence, and one sentence for the auditor. An auditor should be able
//! to check a flag against the document without knowing the model.

use std::collections::BTreeMap;

use docflow_schemas::{BusinessFields, ReasonEvidence};
use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;

use super::amount::{AmountCheck, Measure, Scope};
use super::evidence::EvidenceGates;
use super::totals::block::Role;
use super::totals::Mismatch;

/// A float as a decimal with `dp` places (0 for values that are not finite).
fn dec(x: f64, dp: u32) -> Decimal {
    Decimal::from_f64(x).map(|d| d.round_dp(dp)).unwrap_or_default()
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Net => "net",
        Role::Tax => "tax",
        Role::Addition => "addition",
        Role::Discount => "discount",
        Role::Rounding => "rounding",
        Role::Gross => "gross",
    }
}

/// `total_mismatch`: the item sum and each block line against the stated total.
pub fn total_mismatch(m: &Mismatch, fields: &BusinessFields, gates: &EvidenceGates) -> ReasonEvidence {
    let mut compared = BTreeMap::new();
    match m.items_sum {
        Some(sum) => compared.insert("items_sum".to_string(), sum),
        None => compared.insert("block_base_net".to_string(), m.base),
    };
    compared.insert("stated_total".to_string(), m.stated);
    compared.insert("expected_total".to_string(), m.expected);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &m.block {
        let name = role_name(c.role);
        let n = seen.entry(name).or_default();
        *n += 1;
        let key = if *n == 1 { format!("block_{name}") } else { format!("block_{name}_{n}") };
        compared.insert(key, c.value);
    }
    ReasonEvidence {
        compared,
        observed: Some("stated_total".into()),
        expected_low: Some(m.expected - m.tolerance),
        expected_high: Some(m.expected + m.tolerance),
        fields: gates.read(fields, &["total"]),
        explanation: match m.items_sum {
            Some(sum) => format!(
                "stated total {} is {} away from {} ({} line items summing to {}, with the printed tax, shipping, discount and rounding lines applied)",
                m.stated,
                m.difference,
                m.expected,
                fields.line_items.len(),
                sum
            ),
            None => format!(
                "stated total {} is {} away from {} (the printed net {} with the printed tax, shipping, discount and rounding lines applied; line items not readable)",
                m.stated, m.difference, m.expected, m.base
            ),
        },
    }
}

/// `amount_outlier`: the document's price level against the vendor's or the class's history.
pub fn amount(c: &AmountCheck, fields: &BusinessFields, gates: &EvidenceGates) -> ReasonEvidence {
    let (what, observed) = match c.measure {
        Measure::UnitPrice => ("median unit price", "median_unit_price"),
        Measure::Total => ("total", "total"),
    };
    let whose = match c.scope {
        Scope::Vendor => "the vendor's",
        Scope::Class => "the document class's (vendor unknown, unsure or new)",
    };
    let mut compared = BTreeMap::new();
    compared.insert(observed.to_string(), dec(c.observed, 2));
    compared.insert("history_median".to_string(), dec(c.median, 2));
    compared.insert("history_size".to_string(), Decimal::from(c.history as u64));
    let read: &[&str] = match c.measure {
        Measure::UnitPrice => &["vendor"],
        Measure::Total => &["vendor", "total"],
    };
    ReasonEvidence {
        compared,
        observed: Some(observed.into()),
        expected_low: Some(dec(c.low, 2)),
        expected_high: Some(dec(c.high, 2)),
        fields: gates.read(fields, read),
        explanation: format!(
            "{what} {:.2} against {whose} median {:.2} over {} amounts: robust z {:.1} (normal {:.2} to {:.2})",
            c.observed, c.median, c.history, c.z, c.low, c.high
        ),
    }
}

/// `duplicate_invoice_number`: the normalised (vendor, number) already claimed.
pub fn duplicate_invoice(vendor: &str, number: &str, first: &str, fields: &BusinessFields, gates: &EvidenceGates) -> ReasonEvidence {
    ReasonEvidence {
        fields: gates.read(fields, &["vendor", "invoice_number"]),
        explanation: format!("invoice number {number} of vendor {vendor} was already issued on document {first}"),
        ..Default::default()
    }
}

/// `duplicate_content`: the same normalised text under another id.
pub fn duplicate_content(first: &str) -> ReasonEvidence {
    ReasonEvidence { explanation: format!("same content as document {first}"), ..Default::default() }
}

/// `unusual_for_class`: cosine distance to the class prototype against the class's member distances.
pub fn unusual_for_class(class: &str, distance: f64, mean: f64, std: f64, midpoint: f64) -> ReasonEvidence {
    let mut compared = BTreeMap::new();
    compared.insert("distance".to_string(), dec(distance, 4));
    compared.insert("class_mean_distance".to_string(), dec(mean, 4));
    compared.insert("class_distance_std".to_string(), dec(std, 4));
    let high = mean + midpoint * std;
    ReasonEvidence {
        compared,
        observed: Some("distance".into()),
        expected_low: Some(Decimal::ZERO),
        expected_high: Some(dec(high, 4)),
        explanation: format!("distance {distance:.3} from the {class} prototype; its members lie at {mean:.3} ± {std:.3}"),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::totals::block::Component;

    #[test]
    fn total_mismatch_names_every_value_and_the_range() {
        let m = Mismatch {
            difference: "5.00".parse().unwrap(),
            relative: 0.12,
            items_sum: Some("30.00".parse().unwrap()),
            base: "30.00".parse().unwrap(),
            stated: "41.00".parse().unwrap(),
            expected: "36.00".parse().unwrap(),
            tolerance: "0.05".parse().unwrap(),
            block: vec![
                Component { role: Role::Net, value: "30.00".parse().unwrap() },
                Component { role: Role::Tax, value: "6.00".parse().unwrap() },
                Component { role: Role::Gross, value: "41.00".parse().unwrap() },
            ],
        };
        let mut f = BusinessFields::default();
        f.set_provenance("total", 0.93, "label");
        let e = total_mismatch(&m, &f, &EvidenceGates::default());
        assert_eq!(e.compared["items_sum"].to_string(), "30.00");
        assert_eq!(e.compared["block_tax"].to_string(), "6.00");
        assert_eq!((e.expected_low.unwrap().to_string(), e.expected_high.unwrap().to_string()), ("35.95".into(), "36.05".into()));
        assert_eq!(e.fields["total"], 0.93);
        assert!(e.explanation.contains("41.00") && e.explanation.contains("36.00"), "{}", e.explanation);
    }
}
