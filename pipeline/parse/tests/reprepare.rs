//! A parsed document read again from its parse output alone
//! ([`prepare_parsed`]) has the lines, candidates and layout fingerprint
//! the parser saw: the learner, which holds only `docs.scored`, learns a
//! correction exactly where the parse stage will apply it.
//!
//! Checked on 2,000 generated documents of every format (half in the
//! extended notations) and, when it is present beside the repository, on
//! every real document of `shared/realdocs` (read, not copied).

use docflow_corpus::{Corpus, CorpusConfig};
use docflow_parse::extract::corrections::layout_of;
use docflow_parse::extract::rank::Weights;
use docflow_parse::{prepare, prepare_parsed, ParseLimits, Prepared};
use std::path::Path;

/// Where `again` differs from `first`, in words (`None`: it does not).
fn difference(first: &Prepared, again: &Prepared) -> Option<String> {
    if layout_of(first) != layout_of(again) {
        return Some(format!("layout {:?} != {:?}", layout_of(first), layout_of(again)));
    }
    for ((field, a), (_, b)) in first.candidates.by_field.iter().zip(&again.candidates.by_field) {
        if a != b {
            let show = |c: &[docflow_parse::extract::rank::Candidate]| c.iter().map(|c| format!("{}@{}", c.value, c.line)).collect::<Vec<_>>();
            return Some(format!("{} candidates {:?} != {:?}", field.name(), show(a), show(b)));
        }
    }
    None
}

fn check(name: &str, first: Prepared, locale: Option<&str>, failures: &mut Vec<String>) {
    let out = first.clone().output(Weights::shipped());
    let again = prepare_parsed(&out.content_type, &out.text, locale);
    if let Some(d) = difference(&first, &again) {
        failures.push(format!("{name} ({}): {d}", out.content_type));
    }
}

#[test]
fn generated_documents_read_again_from_their_text_are_the_same() {
    let limits = ParseLimits::default();
    let mut failures = Vec::new();
    let mut n = 0;
    for doc in Corpus::new(CorpusConfig { seed: 20261207, extended_notations: 0.5, ..Default::default() }).take(2_000) {
        let Ok(first) = prepare(&doc.raw, &limits) else { continue };
        check(&doc.raw.id, first, doc.raw.metadata.get("locale").map(String::as_str), &mut failures);
        n += 1;
    }
    assert!(n > 1_900, "only {n} documents parsed");
    assert!(failures.is_empty(), "{} of {n} differ, e.g. {:#?}", failures.len(), &failures[..failures.len().min(5)]);
}

#[test]
fn real_documents_read_again_from_their_text_are_the_same() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realdocs");
    if !dir.join("truth.jsonl").is_file() {
        println!("SKIPPED: {} is absent (the labelled real documents live beside the repository, not in it)", dir.display());
        return;
    }
    let rows = docflow_parse::eval::read_truth(&dir.join("truth.jsonl")).unwrap();
    let mut failures = Vec::new();
    let mut n = 0;
    for doc in docflow_parse::eval::load(&dir.join("docs"), rows, &ParseLimits::default(), |_| {}) {
        let Ok(first) = doc.prepared else { continue };
        check(&doc.row.file, first, None, &mut failures);
        n += 1;
    }
    assert!(n > 200, "only {n} real documents parsed");
    assert!(failures.is_empty(), "{} of {n} differ, e.g. {:#?}", failures.len(), &failures[..failures.len().min(5)]);
}
