//! Diagnostic (no model needed): the parser's field confidences on the
//! generator's documents, per field: how many pass each evidence gate.
//! `cargo run -p docflow-score --example confidence_diag -- [N] [EXTENDED_PERCENT]`

use std::collections::BTreeMap;

use docflow_corpus::{Corpus, CorpusConfig};
use docflow_score::anomaly::EvidenceGates;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(400);
    let ext: f64 = args.get(2).and_then(|s| s.parse::<f64>().ok()).unwrap_or(100.0) / 100.0;
    let limits = docflow_parse::ParseLimits::default();
    let gates = EvidenceGates::default();
    let mut seen: BTreeMap<(String, &str), (usize, usize)> = BTreeMap::new();
    for d in Corpus::new(CorpusConfig { seed: 3, extended_notations: ext, ..Default::default() }).take(n) {
        let f = docflow_parse::parse_document(&d.raw, &limits).unwrap().fields;
        *seen.entry((d.class.clone(), "hint")).or_default() = {
            let e = seen.get(&(d.class.clone(), "hint")).copied().unwrap_or_default();
            (e.0 + usize::from(f.doc_type_hint.as_deref() == Some(d.class.as_str())), e.1)
        };
        if std::env::var_os("DIAG_HINTS").is_some() && f.doc_type_hint.as_deref() != Some(d.class.as_str()) {
            let first: Vec<&str> = std::str::from_utf8(&d.raw.body).unwrap_or("").lines().take(3).collect();
            println!("hint {} -> {:?} ({:?}) {:?}", d.class, f.doc_type_hint, d.format, first);
        }
        if !matches!(d.class.as_str(), "invoice" | "receipt") {
            continue;
        }
        for (field, ok, right) in [
            ("vendor", gates.vendor_ok(&f), f.vendor == d.truth.vendor),
            ("total", gates.total_ok(&f), f.total == d.truth.total),
            ("invoice_number", gates.invoice_number_ok(&f), f.invoice_number == d.truth.invoice_number),
            ("year", gates.year(&f).is_some(), f.date == d.truth.date),
        ] {
            let e = seen.entry((d.class.clone(), field)).or_default();
            e.0 += usize::from(ok);
            e.1 += usize::from(ok && !right);
        }
        if std::env::var_os("DIAG_VERBOSE").is_some() && d.class == "invoice" {
            println!(
                "{} number {:?} conf {:.3} src {:?} right {} | vendor conf {:.3} right {}",
                d.raw.id,
                f.invoice_number,
                f.confidence("invoice_number"),
                f.field_source.get("invoice_number"),
                f.invoice_number == d.truth.invoice_number,
                f.confidence("vendor"),
                f.vendor == d.truth.vendor
            );
        }
        let parsed_text = docflow_parse::parse_document(&d.raw, &limits).unwrap().text;
        let check = docflow_score::anomaly::totals::check(&f, &parsed_text);
        let outcome = match &check {
            Ok(_) => "totals: mismatch",
            Err(s) => match s {
                docflow_score::anomaly::totals::Silence::Explained => "totals: explained",
                docflow_score::anomaly::totals::Silence::NoItems => "totals: no items",
                docflow_score::anomaly::totals::Silence::NoTotal => "totals: no total",
                docflow_score::anomaly::totals::Silence::IncompleteItems => "totals: incomplete items",
                docflow_score::anomaly::totals::Silence::InconsistentItems => "totals: inconsistent items",
                docflow_score::anomaly::totals::Silence::ItemsDisagreeWithNet => "totals: items disagree with net",
            },
        };
        let e = seen.entry((d.class.clone(), outcome)).or_default();
        e.0 += 1;
        if check.is_ok() && std::env::var_os("DIAG_MISMATCH").is_some() {
            println!("MISMATCH {} {:?} {:?}\n{}", d.raw.id, d.format, check.as_ref().ok().map(|m| (m.items_sum, m.stated, m.expected)), parsed_text);
        }
        let e = seen.entry((d.class.clone(), "documents")).or_default();
        e.0 += 1;
    }
    for ((class, field), (pass, wrong)) in &seen {
        println!("{class:<8} {field:<15} passes the gate: {pass:>4}  of which wrong: {wrong}");
    }
}
