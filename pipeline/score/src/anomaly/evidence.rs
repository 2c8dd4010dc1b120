//! Evidence gates: a reason acts only on fields the parser is sure of.
//!
//! The parse stage reports a confidence in [0, 1] for every field it found
//! (`BusinessFields::field_confidence`): 1.0 for e-invoice XML, the ranker's
//! probability for ranked fields, fixed values for label rules. A reason
//! that compares a misread field with anything produces a confident-looking
//! false alarm (a unit price read as a line amount, a coupon line read as the
//! total), so each reason names the fields it reads and is silent unless
//! every one of them reaches its gate.
//!
//! Producers that predate confidences send none at all; their fields count
//! as [`EvidenceGates::unstated`] (1.0 by default: trusted as before; 0
//! makes confidences mandatory).

use std::collections::BTreeMap;

use docflow_schemas::BusinessFields;
use serde::{Deserialize, Serialize};

/// The confidence a field needs before a reason may act on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvidenceGates {
    /// `total` for `total_mismatch` and the total-based `amount_outlier`.
    pub total: f64,
    /// `vendor` for `amount_outlier` (vendor history) and `duplicate_invoice_number`.
    pub vendor: f64,
    /// `invoice_number` for `duplicate_invoice_number`.
    pub invoice_number: f64,
    /// `date` for the year of an invoice-number claim.
    #[serde(default = "default_date_gate")]
    pub date: f64,
    /// The confidence of every field of a document whose producer states none.
    pub unstated: f64,
}

fn default_date_gate() -> f64 {
    0.8
}

impl Default for EvidenceGates {
    fn default() -> Self {
        Self { total: 0.8, vendor: 0.7, invoice_number: 0.45, date: default_date_gate(), unstated: 1.0 }
    }
}

impl EvidenceGates {
    /// The confidence of `field` in `fields`: the parser's, or
    /// [`Self::unstated`] when the producer states no confidence at all.
    pub fn confidence(&self, fields: &BusinessFields, field: &str) -> f64 {
        if fields.field_confidence.is_empty() {
            self.unstated
        } else {
            fields.confidence(field)
        }
    }

    /// Whether `field` is present with at least `gate` confidence.
    fn passes(&self, fields: &BusinessFields, field: &str, gate: f64) -> bool {
        self.confidence(fields, field) >= gate
    }

    pub fn total_ok(&self, fields: &BusinessFields) -> bool {
        fields.total.is_some() && self.passes(fields, "total", self.total)
    }

    pub fn vendor_ok(&self, fields: &BusinessFields) -> bool {
        fields.vendor.as_deref().is_some_and(|v| !v.trim().is_empty()) && self.passes(fields, "vendor", self.vendor)
    }

    pub fn invoice_number_ok(&self, fields: &BusinessFields) -> bool {
        fields.invoice_number.as_deref().is_some_and(|v| !v.trim().is_empty())
            && self.passes(fields, "invoice_number", self.invoice_number)
    }

    /// The year of a confidently read ISO date (`YYYY-MM-DD`).
    pub fn year(&self, fields: &BusinessFields) -> Option<i32> {
        let date = fields.date.as_deref()?;
        if !self.passes(fields, "date", self.date) {
            return None;
        }
        date.get(..4)?.parse().ok()
    }

    /// Field → confidence for the evidence record of a reason that read `names`.
    pub fn read(&self, fields: &BusinessFields, names: &[&str]) -> BTreeMap<String, f64> {
        names.iter().map(|n| (n.to_string(), self.confidence(fields, n))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(conf: &[(&str, f64)]) -> BusinessFields {
        let mut f = BusinessFields {
            vendor: Some("ACME".into()),
            invoice_number: Some("INV-1".into()),
            total: Some("10".parse().unwrap()),
            ..Default::default()
        };
        for (k, c) in conf {
            f.set_provenance(k, *c, "ranker");
        }
        f
    }

    #[test]
    fn gates_follow_the_parser_confidence() {
        let g = EvidenceGates::default();
        let sure = fields(&[("vendor", 0.9), ("invoice_number", 0.95), ("total", 0.99)]);
        assert!(g.vendor_ok(&sure) && g.invoice_number_ok(&sure) && g.total_ok(&sure));
        let unsure = fields(&[("vendor", 0.4), ("invoice_number", 0.4), ("total", 0.6)]);
        assert!(!g.vendor_ok(&unsure) && !g.invoice_number_ok(&unsure) && !g.total_ok(&unsure));
        // A field found without a confidence while others carry one: not trusted.
        let partial = fields(&[("vendor", 0.9)]);
        assert!(g.vendor_ok(&partial) && !g.total_ok(&partial));
    }

    #[test]
    fn producers_without_confidences_follow_the_unstated_setting() {
        let f = fields(&[]);
        assert!(EvidenceGates::default().total_ok(&f));
        let strict = EvidenceGates { unstated: 0.0, ..Default::default() };
        assert!(!strict.total_ok(&f) && !strict.vendor_ok(&f));
        assert!(!EvidenceGates::default().total_ok(&BusinessFields::default()));
    }
}
