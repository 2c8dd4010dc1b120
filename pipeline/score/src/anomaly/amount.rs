//! `amount_outlier`: is this total far from what the vendor usually bills?
//!
//! **Statistic.** Per vendor and currency we keep a bounded window of the most
//! recent totals, as `ln(total)`, and score a new total by its robust z-score
//! `z = (ln x − median) / (1.4826 · max(MAD, floor))`. Log scale because
//! amounts are multiplicative (ten times the usual is equally odd at 12 € and
//! at 12,000 €); median/MAD because one earlier outlier must not widen the
//! band (a mean/σ would be dragged by the very anomalies we look for);
//! 1.4826 makes MAD a σ estimate for normal data.
//!
//! **Online and bounded.** The window is a ring of the last `amount_window`
//! (default 64) values: O(1) to update, exact median/MAD over the window, and
//! it follows drift (a vendor raising prices is the new normal after a few
//! dozen invoices). Streaming quantile sketches (P²) estimate a median well,
//! but the MAD needs the median of deviations from a *moving* median, which
//! they cannot give; at 64 values per vendor the exact window is cheap
//! (≈ 260 bytes serialised). The number of vendors is capped too; the vendor
//! not seen for the longest time is evicted first.
//!
//! Only totals the learner considered normal are added (see `learn`), so a
//! burst of outliers does not become the vendor's profile.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::calibrate::AnomalyParams;
use super::registry::normalize_vendor;
use crate::stats::{mad, median};

/// Recent ln(total)s of one vendor in one currency: a ring buffer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AmountWindow {
    pub ln_amounts: Vec<f32>,
    /// Next slot to overwrite once the ring is full.
    pub next: u32,
    /// Totals folded in over all time.
    pub seen: u64,
    /// Learner sequence number of the last update (for eviction).
    pub last_seq: u64,
}

impl AmountWindow {
    fn push(&mut self, ln: f32, cap: usize, seq: u64) {
        let cap = cap.max(1);
        if self.ln_amounts.len() < cap {
            self.ln_amounts.push(ln);
        } else {
            let i = (self.next as usize) % self.ln_amounts.len();
            self.ln_amounts[i] = ln;
            self.next = ((i + 1) % self.ln_amounts.len()) as u32;
        }
        self.seen += 1;
        self.last_seq = seq;
    }
}

/// All vendor windows (serialised in the model).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VendorProfiles {
    pub windows: BTreeMap<String, AmountWindow>,
    /// Most vendor/currency pairs kept.
    pub max_vendors: usize,
    seq: u64,
}

/// The key of a vendor + currency pair.
pub fn vendor_key(vendor: &str, currency: Option<&str>) -> String {
    let cur = currency.map(|c| c.trim().to_ascii_uppercase()).unwrap_or_default();
    format!("{}\u{1f}{}", normalize_vendor(vendor), cur)
}

/// ln of a positive, finite total; None for zero, negative (credit notes) or huge values.
pub fn ln_amount(total: &Decimal) -> Option<f64> {
    let x = total.to_f64()?;
    (x > 0.0 && x.is_finite()).then(|| x.ln())
}

impl VendorProfiles {
    pub fn new(max_vendors: usize) -> Self {
        Self { windows: BTreeMap::new(), max_vendors, seq: 0 }
    }

    /// Folds one normal total into the vendor's window.
    pub fn observe(&mut self, vendor: &str, currency: Option<&str>, total: &Decimal, window: usize) {
        let Some(ln) = ln_amount(total) else { return };
        if normalize_vendor(vendor).is_empty() {
            return;
        }
        self.seq += 1;
        let seq = self.seq;
        self.windows.entry(vendor_key(vendor, currency)).or_default().push(ln as f32, window, seq);
        if self.max_vendors > 0 && self.windows.len() > self.max_vendors {
            if let Some(stalest) = self.windows.iter().min_by_key(|(_, w)| w.last_seq).map(|(k, _)| k.clone()) {
                self.windows.remove(&stalest);
            }
        }
    }
}

/// Median and MAD of one window, computed once per model version.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VendorStat {
    pub median: f64,
    pub mad: f64,
    pub n: usize,
}

/// Read-only vendor statistics for the scoring path.
#[derive(Debug, Clone, Default)]
pub struct CompiledVendors {
    stats: HashMap<String, VendorStat>,
}

impl CompiledVendors {
    pub fn new(profiles: &VendorProfiles) -> Self {
        let stats = profiles
            .windows
            .iter()
            .filter_map(|(k, w)| {
                let values: Vec<f64> = w.ln_amounts.iter().map(|x| f64::from(*x)).collect();
                let m = median(&values)?;
                let d = mad(&values, m)?;
                Some((k.clone(), VendorStat { median: m, mad: d, n: values.len() }))
            })
            .collect();
        Self { stats }
    }

    pub fn get(&self, vendor: &str, currency: Option<&str>) -> Option<&VendorStat> {
        self.stats.get(&vendor_key(vendor, currency))
    }

    /// Robust z of `total` for the vendor, when the vendor has enough history.
    pub fn robust_z(&self, vendor: &str, currency: Option<&str>, total: &Decimal, p: &AnomalyParams) -> Option<f64> {
        let stat = self.get(vendor, currency)?;
        if stat.n < p.amount_min_history {
            return None;
        }
        let ln = ln_amount(total)?;
        Some((ln - stat.median) / (1.4826 * stat.mad.max(p.amount_mad_floor)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn ring_is_bounded_and_robust() {
        let p = AnomalyParams::default();
        let mut v = VendorProfiles::new(10);
        for i in 0..200 {
            v.observe("ACME  Corp", Some("eur"), &d(&format!("{}.00", 100 + (i % 21) - 10)), p.amount_window);
        }
        let w = &v.windows[&vendor_key("acme corp", Some("EUR"))];
        assert_eq!(w.ln_amounts.len(), p.amount_window);
        assert_eq!(w.seen, 200);
        let c = CompiledVendors::new(&v);
        let normal = c.robust_z("Acme Corp", Some("EUR"), &d("104.50"), &p).unwrap();
        let outlier = c.robust_z("Acme Corp", Some("EUR"), &d("1000"), &p).unwrap();
        assert!(normal.abs() < 2.0, "{normal}");
        assert!(outlier > 10.0, "{outlier}");
        assert!(p.amount.contribution(outlier) > 0.99);
        // Another currency is another profile.
        assert!(c.robust_z("Acme Corp", Some("USD"), &d("100"), &p).is_none());
        // Credit notes are not scored.
        assert!(c.robust_z("Acme Corp", Some("EUR"), &d("-100"), &p).is_none());
    }

    #[test]
    fn short_history_is_not_scored_and_vendors_are_capped() {
        let p = AnomalyParams::default();
        let mut v = VendorProfiles::new(3);
        for i in 0..5 {
            v.observe(&format!("vendor {i}"), None, &d("10"), 64);
        }
        assert_eq!(v.windows.len(), 3);
        assert!(!v.windows.contains_key(&vendor_key("vendor 0", None)));
        let c = CompiledVendors::new(&v);
        assert!(c.robust_z("vendor 4", None, &d("1000"), &p).is_none());
    }
}
