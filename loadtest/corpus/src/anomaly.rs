//! Planted anomalies, so the scorer's detection can be measured against
//! ground truth. Each planted anomaly is named in [`super::LabeledDoc::planted`].

use super::model::{cents, Class, DocModel};
use super::LabeledDoc;
use rand::rngs::StdRng;
use rand::Rng;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// Probability of each anomaly per eligible document (0 = never).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnomalyPlan {
    /// Invoices/receipts whose unit prices are 20–80× the vendor's usual level.
    pub outlier_amount: f64,
    /// Invoices reusing an invoice number the same vendor already issued.
    pub reused_invoice_number: f64,
    /// Invoices (and receipts in the extended notations) whose stated total
    /// differs from the sum of items plus tax.
    pub mismatched_total: f64,
    /// Documents whose body repeats an earlier document under a new id.
    pub duplicated_content: f64,
}

impl AnomalyPlan {
    /// No anomalies.
    pub const fn none() -> Self {
        Self { outlier_amount: 0.0, reused_invoice_number: 0.0, mismatched_total: 0.0, duplicated_content: 0.0 }
    }

    /// Every kind at rate `p`.
    pub const fn uniform(p: f64) -> Self {
        Self { outlier_amount: p, reused_invoice_number: p, mismatched_total: p, duplicated_content: p }
    }
}

/// Generator memory needed to plant anomalies.
#[derive(Debug, Default)]
pub struct State {
    /// Invoice numbers issued per vendor.
    numbers: HashMap<&'static str, Vec<String>>,
    /// Recent documents that may be duplicated.
    recent: Vec<LabeledDoc>,
}

impl State {
    /// With probability `duplicated_content`, a copy of a recent document under a new id.
    pub fn maybe_duplicate(&mut self, rng: &mut StdRng, plan: &AnomalyPlan, id: &str) -> Option<LabeledDoc> {
        if plan.duplicated_content <= 0.0 || self.recent.is_empty() || !rng.random_bool(plan.duplicated_content) {
            return None;
        }
        let mut d = self.recent[rng.random_range(0..self.recent.len())].clone();
        d.raw.id = id.to_string();
        d.planted = vec!["duplicate_content".to_string()];
        Some(d)
    }

    /// Plants anomalies into `m` before rendering; returns their names.
    pub fn plant(&mut self, rng: &mut StdRng, plan: &AnomalyPlan, m: &mut DocModel) -> Vec<String> {
        let mut planted = Vec::new();
        if !matches!(m.class, Class::Invoice | Class::Receipt) {
            return planted;
        }
        if plan.outlier_amount > 0.0 && rng.random_bool(plan.outlier_amount) {
            let factor = Decimal::from(rng.random_range(20..80));
            for i in &mut m.items {
                i.unit_price = cents(i.unit_price * factor);
                i.amount = cents(i.unit_price * i.quantity);
            }
            super::charges::recompute(m);
            planted.push("amount_outlier".to_string());
        }
        if m.class == Class::Invoice {
            if plan.reused_invoice_number > 0.0 && rng.random_bool(plan.reused_invoice_number) {
                if let Some(prev) = self.numbers.get(m.vendor.name).filter(|v| !v.is_empty()) {
                    m.number = prev[rng.random_range(0..prev.len())].clone();
                    planted.push("duplicate_invoice_number".to_string());
                }
            }
            if plan.mismatched_total > 0.0 && rng.random_bool(plan.mismatched_total) {
                m.total += Decimal::new(rng.random_range(100..50_000), 2);
                planted.push("total_mismatch".to_string());
            }
        } else if m.style.notation.is_some() && plan.mismatched_total > 0.0 && rng.random_bool(plan.mismatched_total) {
            // A till receipt whose total is not the sum of its lines, in the
            // extended notations (rounding, cash and change lines follow the
            // wrong total, as a till would print them). Classic receipts
            // draw nothing here, so the classic stream stays as it was.
            m.total += Decimal::new(rng.random_range(100..5_000), 2);
            planted.push("total_mismatch".to_string());
        }
        planted
    }

    /// Records an emitted document for later anomalies.
    pub fn remember(&mut self, d: &LabeledDoc, m: &DocModel) {
        if m.class == Class::Invoice {
            let v = self.numbers.entry(m.vendor.name).or_default();
            if !v.contains(&m.number) {
                v.push(m.number.clone());
            }
        }
        if self.recent.len() >= 64 {
            self.recent.remove(0);
        }
        self.recent.push(d.clone());
    }
}
