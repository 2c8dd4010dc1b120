//! Extraction on real documents from other projects (`shared/realdocs`,
//! next to the repository; not copied into it, since some sources allow
//! research use only), and a guard that docflow never encodes their values.
//!
//! Both tests say so and pass without checking when the set is absent.
//! The figures themselves: `docflow eval extract --docs ../shared/realdocs/docs --held-out`.

use docflow_parse::eval;
use docflow_parse::extract::rank::Weights;
use docflow_parse::ParseLimits;
use std::path::{Path, PathBuf};

fn realdocs() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realdocs");
    if dir.join("truth.jsonl").is_file() {
        Some(dir)
    } else {
        println!("SKIPPED: {} is absent (the labelled real documents live beside the repository, not in it)", dir.display());
        None
    }
}

#[test]
fn every_labelled_field_meets_its_floor_on_real_documents() {
    let Some(dir) = realdocs() else { return };
    let rows = eval::read_truth(&dir.join("truth.jsonl")).unwrap();
    let docs = eval::load(&dir.join("docs"), rows, &ParseLimits::default(), |_| {});
    let report = eval::score(&docs, Weights::shipped());
    println!("{}", report.table("shared/realdocs, in sample", false));
    let mut below = Vec::new();
    for (field, c) in &report.fields {
        let rate = c.rate().unwrap_or(1.0);
        if field != "vendor_exact" && rate < 0.90 {
            below.push(format!("{field}: {rate:.3} < 0.90"));
        }
    }
    let overall = report.overall.rate().unwrap_or(1.0);
    if overall < 0.93 {
        below.push(format!("overall: {overall:.3} < 0.93"));
    }
    assert!(below.is_empty(), "below the floor: {below:?}");
    assert!(report.failed_files.is_empty(), "files that did not parse: {:?}", report.failed_files);
}

/// Label values of the dev set (names, numbers, IBANs, subjects) must not
/// appear in the extraction code or its data: the extractor learns features,
/// never the answers.
#[test]
fn extraction_code_and_data_hold_no_dev_set_values() {
    let Some(dir) = realdocs() else { return };
    let rows = eval::read_truth(&dir.join("truth.jsonl")).unwrap();
    let mut values: Vec<String> = Vec::new();
    for row in &rows {
        for (field, v) in &row.truth {
            if matches!(field.as_str(), "vendor" | "invoice_number" | "iban" | "subject" | "email_from") {
                if let Some(s) = v.as_str() {
                    let s = s.trim().to_lowercase();
                    // Short or generic values (`Test`, `Apple`, addresses at
                    // the reserved example domains) occur in any code.
                    let reserved = ["@example.com", "@example.org", "@example.net"].iter().any(|d| s.ends_with(d));
                    if s.len() >= 8 && s.chars().any(|c| c.is_alphanumeric()) && !reserved {
                        values.push(s);
                    }
                }
            }
        }
    }
    values.sort();
    values.dedup();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for sub in ["src", "ranker", "tests", "examples", "../../loadtest/corpus/src"] {
        collect(&root.join(sub), &mut files);
    }
    let mut found = Vec::new();
    for f in &files {
        if f.file_name().is_some_and(|n| n == "realdocs.rs") {
            continue; // this test reads the values; it holds none
        }
        let Ok(text) = std::fs::read_to_string(f) else { continue };
        let text = text.to_lowercase();
        for v in &values {
            if text.contains(v.as_str()) {
                found.push(format!("{}: {v:?}", f.display()));
            }
        }
    }
    assert!(found.is_empty(), "dev-set label values in code or data: {found:?}");
    assert!(files.len() > 20, "the scan found the sources ({} files)", files.len());
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// One correction per vendor (the first document of every vendor with
/// several): the vendor's later documents are read right (≥ 0.98 on the
/// corrected fields) and no document of another vendor changes.
#[test]
fn one_correction_per_vendor_holds_and_touches_no_other_vendor() {
    let Some(dir) = realdocs() else { return };
    let rows = eval::read_truth(&dir.join("truth.jsonl")).unwrap();
    let docs = eval::load(&dir.join("docs"), rows, &ParseLimits::default(), |_| {});
    let report = eval::corrections(&docs, Weights::shipped());
    println!("{}", report.table());
    let pooled = report.with.values().fold((0, 0), |a, c| (a.0 + c.correct, a.1 + c.labelled));
    assert!(pooled.1 > 50, "several vendors repeat in the set");
    assert!(pooled.0 as f64 >= 0.98 * pooled.1 as f64, "with the corrections: {pooled:?}");
    assert!(report.broken.is_empty(), "corrections made fields wrong: {:?}", report.broken);
    assert!(report.others_changed.is_empty(), "other vendors' documents changed: {:?}", report.others_changed);
}

/// A reviewer's 20 corrections spread over vendors (the first misread
/// document of each): on the other documents, held out by source group,
/// the layouts they teach lower no field. (Fitted without generated
/// documents, to stay quick; `docflow eval corrections --budget 20`
/// reports the figure with them.)
#[test]
fn twenty_corrections_spread_over_vendors_lower_no_held_out_field() {
    let Some(dir) = realdocs() else { return };
    let rows = eval::read_truth(&dir.join("truth.jsonl")).unwrap();
    let docs = eval::load(&dir.join("docs"), rows, &ParseLimits::default(), |_| {});
    let report = eval::corrections_budget(&docs, &[], 20);
    println!("{}", report.table());
    // As many corrections as vendors with a misread document, up to the budget.
    assert!((1..=20).contains(&report.corrected.len()), "{} corrections", report.corrected.len());
    let (without, with) = (report.without.overall, report.with_layouts.overall);
    assert!(with.correct >= without.correct, "held out, without {without:?}, with the layouts {with:?}");
    // (`vendor_exact` is left out: the source spells one vendor's name
    // differently on its documents, `SDN. BHD.` here and `SDN BHD` there,
    // so a learned name cannot match every label letter for letter; the
    // scorer reports it beside the fields, not in them.)
    for (field, before) in report.without.fields.iter().filter(|(f, _)| f.as_str() != "vendor_exact") {
        let after = report.with_layouts.fields.get(field).copied().unwrap_or_default();
        assert!(after.correct >= before.correct, "{field}: {before:?} -> {after:?}");
    }
}

/// Test then train (each document read held out by source group before
/// its own correction, in file order and in random orders): the layouts
/// of 20 corrections never lower the overall figure, and updating the
/// ranker from them too loses at most one field in any order and nothing
/// on average. (On this set its gains are as small: its misread senders
/// come once each. Fitted without generated documents, to stay quick;
/// `docflow eval corrections --budget 20` reports the figures with them.)
#[test]
fn corrections_read_as_they_arrive_lower_nothing() {
    let Some(dir) = realdocs() else { return };
    let rows = eval::read_truth(&dir.join("truth.jsonl")).unwrap();
    let docs = eval::load(&dir.join("docs"), rows, &ParseLimits::default(), |_| {});
    let report = eval::corrections_stream(&docs, &[], 20, 10);
    println!("{}", report.table());
    let without = report.without.overall.correct;
    assert!(report.with_layouts.report.overall.correct >= without, "{}", report.table());
    assert!(report.with_layouts_and_update.report.overall.correct + 1 >= without, "{}", report.table());
    for r in &report.shuffled {
        assert!(r.with_layouts.correct >= without && r.with_layouts_and_update.correct + 1 >= without, "{}", report.table());
    }
    let (_, ranker) = report.mean_gain();
    assert!(ranker >= 0.0, "mean gain of the ranker update {ranker:+.1}\n{}", report.table());
}
