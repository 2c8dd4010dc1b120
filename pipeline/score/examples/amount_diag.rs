//! Diagnostic (no model needed): replays the corpus through the vendor
//! profiles the way the learner does and prints amount_outlier false alarms
//! and misses with the parsed vs true fields.
//! `cargo run --release -p docflow-score --example amount_diag -- SEED N`

use docflow_corpus::{AnomalyPlan, Corpus, CorpusConfig};
use docflow_score::anomaly::amount::{CompiledVendors, VendorProfiles};
use docflow_score::anomaly::AnomalyParams;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(7);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2600);
    let plan = AnomalyPlan { outlier_amount: 0.012, reused_invoice_number: 0.012, mismatched_total: 0.012, duplicated_content: 0.006 };
    let corpus: Vec<_> = Corpus::new(CorpusConfig { seed, anomalies: plan, ..Default::default() }).take(n).collect();
    let limits = docflow_parse::ParseLimits::default();
    let p = AnomalyParams::default();
    let mut profiles = VendorProfiles::new(10_000);
    let mut compiled = CompiledVendors::new(&profiles);
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    let mut since = 0;
    let (mut max_normal, mut min_outlier) = (0.0f64, f64::MAX);
    let mut planted: std::collections::BTreeMap<String, usize> = Default::default();
    for (i, d) in corpus.iter().enumerate() {
        let out = docflow_parse::parse_document(&d.raw, &limits).unwrap();
        let f = &out.fields;
        let z = compiled.robust_z(f, &p);
        let c = z.map(|z| p.amount.contribution(z.abs())).unwrap_or(0.0);
        let truth = d.planted.iter().any(|r| r == "amount_outlier");
        let said = c >= 0.7;
        if !said && !d.planted.iter().any(|r| r == "duplicate_content") {
            profiles.observe(f, None, &p);
            since += 1;
            if since >= 100 {
                compiled = CompiledVendors::new(&profiles);
                since = 0;
            }
        }
        if i < std::env::var("WARM").ok().and_then(|v| v.parse().ok()).unwrap_or(600) { continue; }
        for r in &d.planted { *planted.entry(r.clone()).or_default() += 1; }
        if let Some(z) = z { if truth { min_outlier = min_outlier.min(z.abs()) } else if !d.planted.iter().any(|r| r == "duplicate_content") { max_normal = max_normal.max(z.abs()) } }
        match (said, truth) {
            (true, true) => tp += 1,
            (true, false) => {
                fp += 1;
                println!("FP {} {:?} z={z:?} class={} fmt={:?}\n  parsed vendor={:?} cur={:?} total={:?} items={:?}\n  truth  vendor={:?} cur={:?} total={:?} items={:?}",
                    d.raw.id, d.planted, d.class, d.format, f.vendor, f.currency, f.total,
                    f.line_items.iter().map(|l| (l.quantity, l.unit_price, l.amount)).collect::<Vec<_>>(),
                    d.truth.vendor, d.truth.currency, d.truth.total,
                    d.truth.line_items.iter().map(|l| (l.quantity, l.unit_price, l.amount)).collect::<Vec<_>>());
            }
            (false, true) => {
                fn_ += 1;
                println!("FN {} z={z:?} vendor={:?} cur={:?}", d.raw.id, f.vendor, f.currency);
            }
            _ => {}
        }
    }
    println!("seed {seed} n {n}: tp {tp} fp {fp} fn {fn_}; max |z| normal {max_normal:.2}, min |z| outlier {min_outlier:.2}; planted after warm-up {planted:?}");
}
