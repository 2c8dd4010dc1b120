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
//! **Two windows per vendor: totals and line prices.** A total mixes the
//! basket size (how many lines, what quantities) with the price level, so a
//! vendor's totals easily spread over two orders of magnitude and a price
//! that is 20× too high can hide among big orders. Unit prices (a line's
//! `unit_price`, else `amount / quantity`) carry the price level alone and
//! are far tighter. The second window holds the vendor's *line* prices, one
//! value per line item: that is the distribution a single-line document is
//! drawn from. (An earlier version kept one median per document; medians of
//! many-line documents are much tighter than single lines, so every honest
//! single-line document at the edge of the vendor's range looked like an
//! outlier.) A document's value is the robust z of the median of its own
//! line prices against that window — a median over several lines only sits
//! closer to the centre — and the total's z only when the document has no
//! line prices (a big basket is not an anomaly; a 20× price is).
//!
//! **Skew: a MAD per side.** Prices are usually drawn from a range in linear
//! terms (say 0.4× to 2.2× a level), which in log space has a long lower
//! tail: the lower half of the window spreads about 1.4× wider than the upper
//! half. A single symmetric MAD then under-estimates the spread below the
//! median and flags cheap-but-normal lines. So each side of the median gets
//! its own MAD (the "double MAD" for skewed data): a value below the median
//! is measured against the lower half's MAD, one above against the upper
//! half's. For symmetric data both equal the usual MAD.
//!
//! **Few values.** A MAD from a dozen values can be half the true one by
//! chance; until a vendor has `amount_min_history` line prices (or totals)
//! it is not scored, and the spread is widened by `1 + amount_small_sample / n`
//! so that the first scored documents are not judged against a lucky tight window.
//!
//! **One-sided.** The scorer turns only z > 0 into a contribution: an
//! amount far *above* the history is the payment risk worth an audit, a
//! small bill is not (z < 0 is still computed and reported in diagnostics).
//!
//! **Evidence.** Only fields the parser is sure of enter a window or get
//! scored: a vendor below its confidence gate has no profile to compare
//! with (two vendors mixed up would make each other's prices look odd), a
//! total below its gate is not used, and unit prices come only from lines
//! whose quantity × unit price = amount where all three are printed.
//!
//! **Class level.** A vendor without enough history (or not confidently
//! read) is compared with its document class instead: one window of line
//! prices per class and currency. Classes mix many vendors, so the spread is
//! wide and the check coarse; its contribution is scaled by
//! `AnomalyParams::amount_class_weight` (below the audit threshold on its
//! own: it can only add to other evidence).
//!
use std::collections::{BTreeMap, HashMap};

use rust_decimal::prelude::ToPrimitive;
use docflow_schemas::BusinessFields;
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

/// One vendor in one currency: its totals and its line prices.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VendorProfile {
    pub totals: AmountWindow,
    /// ln of each line's unit price, one value per line item.
    #[serde(default)]
    pub line_prices: AmountWindow,
}

impl VendorProfile {
    fn last_seq(&self) -> u64 {
        self.totals.last_seq.max(self.line_prices.last_seq)
    }
}

/// All vendor windows (serialised in the model).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VendorProfiles {
    pub windows: BTreeMap<String, VendorProfile>,
    /// Most vendor/currency pairs kept.
    pub max_vendors: usize,
    seq: u64,
}

/// The key of a vendor + currency pair.
pub fn vendor_key(vendor: &str, currency: Option<&str>) -> String {
    let cur = currency.map(|c| c.trim().to_ascii_uppercase()).unwrap_or_default();
    format!("{}\u{1f}{}", normalize_vendor(vendor), cur)
}

/// ln of a positive, finite amount; None for zero, negative (credit notes) or huge values.
pub fn ln_amount(total: &Decimal) -> Option<f64> {
    let x = total.to_f64()?;
    (x > 0.0 && x.is_finite()).then(|| x.ln())
}

/// The key of a document class + currency pair (never a vendor key: vendor keys hold no `\u{1e}`).
pub fn class_key(class: &str, currency: Option<&str>) -> String {
    let cur = currency.map(|c| c.trim().to_ascii_uppercase()).unwrap_or_default();
    format!("\u{1e}{}\u{1f}{}", class.trim().to_lowercase(), cur)
}

/// Whether a line's printed numbers agree (quantity × unit price = amount where all three are printed).
fn consistent_line(i: &docflow_schemas::LineItem) -> bool {
    match (i.quantity, i.unit_price, i.amount) {
        (Some(q), Some(u), Some(a)) => q.checked_mul(u).is_some_and(|qu| (qu - a).abs() <= Decimal::new(1, 2)),
        _ => true,
    }
}

/// The document's positive unit prices (`unit_price`, else `amount / quantity`), one per
/// line, or none when any line contradicts itself (the columns were misread).
/// A credit note prints every price negative: its prices are the sizes of
/// what it refunds, money going out like a bill's, so their magnitudes
/// count (a negative line among positive ones is a discount and does not).
pub fn unit_prices(fields: &BusinessFields) -> Vec<f64> {
    if !fields.line_items.iter().all(consistent_line) {
        return Vec::new();
    }
    let prices: Vec<f64> = fields
        .line_items
        .iter()
        .filter_map(|i| match (i.unit_price, i.amount, i.quantity) {
            (Some(p), _, _) => p.to_f64(),
            (None, Some(a), Some(q)) if q > Decimal::ZERO => (a / q).to_f64(),
            _ => None,
        })
        .filter(|p| p.is_finite())
        .collect();
    let refund = !prices.is_empty() && prices.iter().all(|p| *p < 0.0);
    prices.into_iter().map(|p| if refund { -p } else { p }).filter(|p| *p > 0.0).collect()
}

/// Median of the document's positive unit prices.
pub fn median_unit_price(fields: &BusinessFields) -> Option<f64> {
    median(&unit_prices(fields))
}

impl VendorProfiles {
    pub fn new(max_vendors: usize) -> Self {
        Self { windows: BTreeMap::new(), max_vendors, seq: 0 }
    }

    /// Folds one normal document's amounts into its vendor's windows
    /// (when the vendor is confidently read) and into its class's.
    pub fn observe(&mut self, fields: &BusinessFields, class: Option<&str>, p: &AnomalyParams) {
        let gates = &p.evidence;
        let ln_total = fields.total.as_ref().filter(|_| gates.total_ok(fields)).and_then(ln_amount);
        let ln_lines: Vec<f64> = unit_prices(fields).into_iter().map(f64::ln).collect();
        if ln_total.is_none() && ln_lines.is_empty() {
            return;
        }
        let currency = fields.currency.as_deref();
        let mut keys = Vec::with_capacity(2);
        if let Some(vendor) = fields.vendor.as_deref().filter(|v| !normalize_vendor(v).is_empty() && gates.vendor_ok(fields)) {
            keys.push(vendor_key(vendor, currency));
        }
        if let Some(class) = class.filter(|c| !c.trim().is_empty()) {
            keys.push(class_key(class, currency));
        }
        for key in keys {
            self.seq += 1;
            let seq = self.seq;
            let profile = self.windows.entry(key).or_default();
            if let Some(t) = ln_total {
                profile.totals.push(t as f32, p.amount_window, seq);
            }
            for u in &ln_lines {
                profile.line_prices.push(*u as f32, p.amount_line_window, seq);
            }
        }
        while self.max_vendors > 0 && self.windows.len() > self.max_vendors {
            let Some(stalest) = self.windows.iter().min_by_key(|(_, w)| w.last_seq()).map(|(k, _)| k.clone()) else { break };
            self.windows.remove(&stalest);
        }
    }
}

/// Median and the two one-sided MADs of one window, computed once per model version.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VendorStat {
    pub median: f64,
    /// Median distance to the median of the values at or below it.
    pub mad_low: f64,
    /// Median distance to the median of the values at or above it.
    pub mad_high: f64,
    pub n: usize,
}

impl VendorStat {
    fn of(w: &AmountWindow) -> Option<Self> {
        let values: Vec<f64> = w.ln_amounts.iter().map(|x| f64::from(*x)).collect();
        let m = median(&values)?;
        let side = |keep: fn(f64, f64) -> bool| {
            let half: Vec<f64> = values.iter().copied().filter(|x| keep(*x, m)).collect();
            mad(&half, m)
        };
        let mad_low = side(|x, m| x <= m)?;
        let mad_high = side(|x, m| x >= m)?;
        Some(VendorStat { median: m, mad_low, mad_high, n: values.len() })
    }

    fn scale(&self, ln: f64, p: &AnomalyParams) -> f64 {
        let mad = if ln < self.median { self.mad_low } else { self.mad_high };
        let widen = 1.0 + p.amount_small_sample / self.n as f64;
        1.4826 * mad.max(p.amount_mad_floor) * widen
    }

    fn z(&self, ln: f64, p: &AnomalyParams) -> Option<f64> {
        if self.n < p.amount_min_history.max(1) {
            return None;
        }
        Some((ln - self.median) / self.scale(ln, p))
    }

    /// The amounts whose |z| stays below the curve's midpoint (contribution < ½).
    fn normal_range(&self, p: &AnomalyParams) -> (f64, f64) {
        let m = p.amount.midpoint;
        let low = self.median - m * self.scale(self.median - 1e-9, p);
        let high = self.median + m * self.scale(self.median + 1e-9, p);
        (low.exp(), high.exp())
    }
}

/// Whose history an amount was compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The document's vendor (confidently read, enough history).
    Vendor,
    /// The document's class (the vendor is unknown, unsure or new).
    Class,
}

/// What is being compared: the document's median unit price, or its total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    UnitPrice,
    Total,
}

/// An amount compared with a history.
#[derive(Debug, Clone, PartialEq)]
pub struct AmountCheck {
    pub scope: Scope,
    pub measure: Measure,
    /// Robust z (signed).
    pub z: f64,
    /// The document's value (median unit price, or total).
    pub observed: f64,
    /// The history's median, and the normal range (contribution < ½).
    pub median: f64,
    pub low: f64,
    pub high: f64,
    /// Values in the history.
    pub history: usize,
}

/// Read-only vendor statistics for the scoring path: (totals, line prices).
#[derive(Debug, Clone, Default)]
pub struct CompiledVendors {
    stats: HashMap<String, (Option<VendorStat>, Option<VendorStat>)>,
}

impl CompiledVendors {
    pub fn new(profiles: &VendorProfiles) -> Self {
        let stats = profiles
            .windows
            .iter()
            .map(|(k, w)| (k.clone(), (VendorStat::of(&w.totals), VendorStat::of(&w.line_prices))))
            .collect();
        Self { stats }
    }

    /// The document's price level against its vendor's history when the
    /// vendor is confidently read and has enough of it, else against its
    /// class's. None when neither has enough history or the document
    /// states no usable amount.
    pub fn check(&self, fields: &BusinessFields, class: &str, p: &AnomalyParams) -> Option<AmountCheck> {
        let currency = fields.currency.as_deref();
        let vendor = fields.vendor.as_deref().filter(|_| p.evidence.vendor_ok(fields)).map(|v| vendor_key(v, currency));
        let by_vendor = vendor.and_then(|k| self.against(&k, fields, p)).map(|c| AmountCheck { scope: Scope::Vendor, ..c });
        by_vendor.or_else(|| self.against(&class_key(class, currency), fields, p).map(|c| AmountCheck { scope: Scope::Class, ..c }))
    }

    fn against(&self, key: &str, fields: &BusinessFields, p: &AnomalyParams) -> Option<AmountCheck> {
        let (totals, lines) = self.stats.get(key)?;
        let unit = median_unit_price(fields);
        let total = fields.total.as_ref().filter(|_| p.evidence.total_ok(fields)).and_then(|t| t.to_f64()).filter(|t| *t > 0.0);
        let (stat, measure, observed) = match (lines, unit, totals, total) {
            (Some(s), Some(u), _, _) if s.n >= p.amount_min_history => (s, Measure::UnitPrice, u),
            (_, _, Some(s), Some(t)) if s.n >= p.amount_min_history => (s, Measure::Total, t),
            _ => return None,
        };
        let z = stat.z(observed.ln(), p)?;
        let (low, high) = stat.normal_range(p);
        Some(AmountCheck { scope: Scope::Vendor, measure, z, observed, median: stat.median.exp(), low, high, history: stat.n })
    }

    /// Robust z of the document's price level against its vendor (tests and diagnostics).
    pub fn robust_z(&self, fields: &BusinessFields, p: &AnomalyParams) -> Option<f64> {
        self.check(fields, "", p).filter(|c| c.scope == Scope::Vendor).map(|c| c.z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use docflow_schemas::LineItem;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn a_credit_note_counts_by_the_size_of_its_prices() {
        let lines = |prices: &[&str]| BusinessFields {
            line_items: prices
                .iter()
                .map(|p| LineItem { description: "x".into(), quantity: Some(d("1")), unit_price: Some(d(p)), amount: Some(d(p)) })
                .collect(),
            ..Default::default()
        };
        assert_eq!(unit_prices(&lines(&["-40.00", "-12.50"])), vec![40.0, 12.5]);
        // A discount line among positive prices is no price.
        assert_eq!(unit_prices(&lines(&["40.00", "-5.00"])), vec![40.0]);
    }

    fn doc(vendor: &str, currency: Option<&str>, total: &str, unit: Option<&str>) -> BusinessFields {
        BusinessFields {
            vendor: Some(vendor.into()),
            currency: currency.map(Into::into),
            total: Some(d(total)),
            line_items: unit
                .map(|u| vec![LineItem { description: "x".into(), quantity: Some(d("1")), unit_price: Some(d(u)), amount: Some(d(u)) }])
                .unwrap_or_default(),
            ..Default::default()
        }
    }

    #[test]
    fn ring_is_bounded_and_robust() {
        let p = AnomalyParams::default();
        let mut v = VendorProfiles::new(10);
        for i in 0..200 {
            v.observe(&doc("ACME  Corp", Some("eur"), &format!("{}.00", 100 + (i % 21) - 10), None), None, &p);
        }
        let w = &v.windows[&vendor_key("acme corp", Some("EUR"))];
        assert_eq!(w.totals.ln_amounts.len(), p.amount_window);
        assert_eq!(w.totals.seen, 200);
        let c = CompiledVendors::new(&v);
        let normal = c.robust_z(&doc("Acme Corp", Some("EUR"), "104.50", None), &p).unwrap();
        let outlier = c.robust_z(&doc("Acme Corp", Some("EUR"), "1000", None), &p).unwrap();
        assert!(normal.abs() < 2.0, "{normal}");
        assert!(outlier > 10.0, "{outlier}");
        assert!(p.amount.contribution(outlier) > 0.99);
        // Another currency is another profile.
        assert!(c.robust_z(&doc("Acme Corp", Some("USD"), "100", None), &p).is_none());
        // Credit notes are not scored.
        assert!(c.robust_z(&doc("Acme Corp", Some("EUR"), "-100", None), &p).is_none());
    }

    #[test]
    fn unit_prices_expose_what_totals_hide() {
        let p = AnomalyParams::default();
        let mut v = VendorProfiles::new(10);
        // Totals spread over 100× (basket sizes), unit prices stay near 10.
        for i in 0..64 {
            let total = format!("{}", 10 * (1 + (i * 37) % 100));
            let unit = format!("{}", 9 + i % 3);
            v.observe(&doc("Shop", None, &total, Some(&unit)), None, &p);
        }
        let c = CompiledVendors::new(&v);
        // A usual total, but every unit price 30× too high.
        let z = c.robust_z(&doc("Shop", None, "300", Some("300")), &p).unwrap();
        assert!(z > 8.0, "{z}");
        assert!(c.robust_z(&doc("Shop", None, "300", Some("10")), &p).unwrap().abs() < 3.0);
    }

    #[test]
    fn unsure_vendors_fall_back_to_the_class_and_misread_lines_are_ignored() {
        let p = AnomalyParams::default();
        let mut v = VendorProfiles::new(100);
        for i in 0..40 {
            let mut f = doc(&format!("shop {}", i % 20), None, "50", Some(&format!("{}", 9 + i % 3)));
            f.set_provenance("vendor", 0.95, "label");
            f.set_provenance("total", 0.95, "label");
            v.observe(&f, Some("receipt"), &p);
        }
        // Twenty vendors with two documents each: no vendor has history, the class has 40 prices.
        let c = CompiledVendors::new(&v);
        let mut odd = doc("shop 3", None, "50", Some("300"));
        odd.set_provenance("vendor", 0.95, "label");
        odd.set_provenance("total", 0.95, "label");
        let check = c.check(&odd, "receipt", &p).expect("class-level check");
        assert_eq!((check.scope, check.measure), (Scope::Class, Measure::UnitPrice));
        assert!(check.z > 5.0 && check.low < 10.0 && check.high > 10.0, "{check:?}");
        assert!(c.check(&odd, "invoice", &p).is_none(), "another class has no history");
        // An unsure vendor is never profiled.
        let mut w = VendorProfiles::new(10);
        let mut unsure = doc("ACME", None, "50", Some("10"));
        unsure.set_provenance("vendor", 0.3, "ranker");
        w.observe(&unsure, None, &p);
        assert!(w.windows.is_empty());
        // A line whose quantity × unit price ≠ amount (columns misread) gives no price.
        let mut misread = doc("ACME", None, "50", Some("10"));
        misread.line_items[0].quantity = Some(d("3"));
        assert!(unit_prices(&misread).is_empty());
    }

    #[test]
    fn short_history_is_not_scored_and_vendors_are_capped() {
        let p = AnomalyParams::default();
        let mut v = VendorProfiles::new(3);
        for i in 0..5 {
            v.observe(&doc(&format!("vendor {i}"), None, "10", None), None, &p);
        }
        assert_eq!(v.windows.len(), 3);
        assert!(!v.windows.contains_key(&vendor_key("vendor 0", None)));
        let c = CompiledVendors::new(&v);
        assert!(c.robust_z(&doc("vendor 4", None, "1000", None), &p).is_none());
    }
}
