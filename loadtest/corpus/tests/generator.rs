//! The generator is deterministic per seed, covers every class × format,
//! and records each planted anomaly in a way that can be checked.

use docflow_corpus::{AnomalyPlan, Corpus, CorpusConfig, DocFormat};
use rust_decimal::Decimal;
use std::collections::HashSet;

#[test]
fn deterministic_and_covers_all_combinations() {
    let a = Corpus::generate(9, 40);
    let b = Corpus::generate(9, 40);
    assert_eq!(a, b, "same seed, same documents");
    assert_ne!(a, Corpus::generate(10, 40));
    let combos: HashSet<(String, DocFormat)> = a.iter().map(|d| (d.class.clone(), d.format)).collect();
    assert_eq!(combos.len(), 20, "4 classes × 5 formats");
    assert!(a.iter().all(|d| d.planted.is_empty()), "no anomalies by default");
    let pdf = a.iter().find(|d| d.format == DocFormat::Pdf).unwrap();
    assert!(pdf.raw.body.starts_with(b"%PDF-"));
}

#[test]
fn planted_anomalies_are_recorded_and_real() {
    let cfg = CorpusConfig { seed: 5, anomalies: AnomalyPlan::uniform(0.2), ..Default::default() };
    let docs: Vec<_> = Corpus::new(cfg).take(800).collect();
    let mut seen = HashSet::new();
    for (i, d) in docs.iter().enumerate() {
        for p in &d.planted {
            seen.insert(p.clone());
            match p.as_str() {
                "duplicate_content" => assert!(docs[..i].iter().any(|e| e.raw.body == d.raw.body && e.raw.id != d.raw.id)),
                "duplicate_invoice_number" => assert!(docs[..i]
                    .iter()
                    .any(|e| e.truth.invoice_number == d.truth.invoice_number && e.truth.vendor == d.truth.vendor)),
                "total_mismatch" => {
                    let sum: Decimal = d.truth.line_items.iter().filter_map(|l| l.amount).sum();
                    // Stated total above items + the highest tax rate used (21 %).
                    assert!(d.truth.total.unwrap() > sum * Decimal::new(121, 2) || d.truth.total.unwrap() != sum);
                }
                "amount_outlier" => assert!(d.truth.total.is_some()),
                other => panic!("unknown anomaly {other}"),
            }
        }
    }
    assert_eq!(seen.len(), 4, "every kind planted: {seen:?}");
}
