//! Learning, versioning and scoring behaviour on synthetic embeddings
//! (no model needed): new classes from a feedback burst, restart from the
//! latest `model.updates` record alone, rollout and rollback, pending
//! feedback, corrections, and exact duplicate claims under concurrency.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use docflow_schemas::{embedding_to_bytes, BusinessFields, EmbeddedDocument, Feedback, LineItem, ParsedDocument};
use docflow_score::anomaly::{reasons, MemoryContentRegistry, MemoryInvoiceRegistry};
use docflow_score::{
    rollback, FeedbackOutcome, Installed, Learner, ModelHandle, PublishPolicy, Scorer, ScoringModel, OTHER,
};
use futures::executor::block_on;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

const DIM: usize = 32;

/// A unit vector near axis `class` (classes are well separated, members vary).
fn near(class: usize, rng: &mut StdRng) -> Vec<f32> {
    let mut v: Vec<f32> = (0..DIM).map(|_| rng.random_range(-0.15..0.15)).collect();
    v[class] += 1.0;
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

fn doc(id: &str, emb: &[f32], fields: BusinessFields, text: &str) -> EmbeddedDocument {
    EmbeddedDocument {
        parsed: ParsedDocument {
            id: id.into(),
            content_type: "text/plain".into(),
            text: text.into(),
            fields,
            warnings: vec![],
            created_at_ms: 0,
            priority: docflow_schemas::Priority::Normal,
            locale: None,
        },
        embedding_f32le: embedding_to_bytes(emb),
        encoder_version: "test".into(),
    }
}

fn scorer(handle: &Arc<ModelHandle>) -> Scorer {
    Scorer::new(handle.clone(), Arc::new(MemoryInvoiceRegistry::default()), Arc::new(MemoryContentRegistry::default()))
}

fn trained(rng: &mut StdRng, classes: &[&str]) -> Learner {
    let mut l = Learner::new(ScoringModel::empty(0), PublishPolicy { max_interval: None, ..Default::default() });
    for (i, c) in classes.iter().enumerate() {
        for _ in 0..5 {
            l.add_label(c, &near(i, rng), Instant::now()).unwrap();
        }
    }
    l
}

#[test]
fn feedback_burst_creates_a_usable_class_and_restart_rebuilds_from_the_update() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut learner = trained(&mut rng, &["invoice", "email"]);
    let handle = Arc::new(ModelHandle::new(&ScoringModel::empty(0)));
    handle.install(&learner.publish(1).unwrap()).unwrap();
    let s = scorer(&handle);
    let before = block_on(s.score(doc("x1", &near(2, &mut rng), Default::default(), ""))).unwrap();
    assert_eq!(before.class, OTHER, "an unknown kind is open-set 'other' before any label");
    assert_eq!(before.model_version, 1);

    // A burst of feedback for a new class "contract" (embeddings carried in the feedback).
    let t = Instant::now();
    let mut published = None;
    for i in 0..10 {
        let fb = Feedback {
            id: format!("fb{i}"),
            label: Some("contract".into()),
            is_anomaly: None,
            embedding_f32le: Some(embedding_to_bytes(&near(2, &mut rng))),
            note: None,
            created_at_ms: 0,
            fields: Default::default(),
        };
        assert_eq!(learner.apply_feedback(&fb, t).unwrap(), FeedbackOutcome::Applied);
        if let Some(u) = learner.maybe_publish(t, 2).unwrap() {
            published = Some(u);
        }
    }
    let update = published.expect("10 labels trigger a publish");
    assert_eq!(handle.install(&update).unwrap(), Installed::Swapped { version: 2 });
    let after = block_on(s.score(doc("x2", &near(2, &mut rng), Default::default(), ""))).unwrap();
    assert_eq!((after.class.as_str(), after.model_version), ("contract", 2));
    assert!(after.class_confidence > 0.9, "{after:?}");

    // A restarted scorer rebuilds everything from the latest record alone.
    let restarted = Arc::new(ModelHandle::new(&ScoringModel::empty(0)));
    restarted.install(&update).unwrap();
    let s2 = scorer(&restarted);
    for i in 0..50 {
        let e = near(i % 3, &mut rng);
        let a = block_on(s.score(doc(&format!("r{i}"), &e, Default::default(), ""))).unwrap();
        let b = block_on(s2.score(doc(&format!("r{i}"), &e, Default::default(), ""))).unwrap();
        assert_eq!((a.class, a.class_confidence, a.anomaly_score, a.model_version), (b.class, b.class_confidence, b.anomaly_score, b.model_version));
    }
    // A restarted learner continues from it too.
    let mut learner2 = Learner::new(ScoringModel::empty(0), PublishPolicy::default());
    assert!(learner2.adopt(&update).unwrap());
    assert_eq!(learner2.model().classifier.classes.len(), 3);
    assert_eq!(learner2.publish(3).unwrap().version, 3);
}

#[test]
fn time_policy_publishes_pending_changes() {
    let mut rng = StdRng::seed_from_u64(2);
    let policy = PublishPolicy { every_labels: 1000, max_interval: Some(Duration::from_millis(50)), ..Default::default() };
    let mut l = Learner::new(ScoringModel::empty(0), policy);
    let t0 = Instant::now();
    assert!(!l.should_publish(t0));
    l.add_label("a", &near(0, &mut rng), t0).unwrap();
    assert!(!l.should_publish(t0));
    assert!(l.should_publish(t0 + Duration::from_millis(60)));
}

#[test]
fn unlabelled_traffic_does_not_publish_a_version_per_burst() {
    let mut rng = StdRng::seed_from_u64(5);
    let l = trained(&mut rng, &["a", "b"]);
    let handle = Arc::new(ModelHandle::new(&ScoringModel::empty(0)));
    let mut l = Learner::new(l.model().clone(), PublishPolicy::default());
    handle.install(&l.publish(0).unwrap()).unwrap();
    let s = scorer(&handle);
    let t0 = Instant::now();
    // A burst of 60 unlabelled documents over a few seconds: history only.
    for i in 0..60 {
        let scored = block_on(s.score(doc(&format!("u{i}"), &near(i % 2, &mut rng), BusinessFields::default(), ""))).unwrap();
        let now = t0 + Duration::from_millis(100 * i as u64);
        l.observe_result(&scored, now).unwrap();
        assert!(l.maybe_publish(now, 0).unwrap().is_none(), "document {i} published a version");
    }
    assert_eq!(l.last_version(), 1);
    // The history goes out on the history interval, and says what changed.
    let later = t0 + PublishPolicy::default().history_interval.unwrap() + Duration::from_secs(1);
    let u = l.maybe_publish(later, 0).unwrap().expect("history published on its interval");
    let blob = docflow_score::decode_update(&u).unwrap();
    assert_eq!(blob.current.provenance.changes.results, 60);
    assert!(blob.current.provenance.changes.labels_by_class.is_empty());
    assert!(docflow_score::describe(&u).unwrap().contains("history +60 results"));
    // A label publishes within the label interval.
    l.add_label("c", &near(2, &mut rng), later).unwrap();
    assert!(!l.should_publish(later));
    let u = l.maybe_publish(later + Duration::from_secs(3), 0).unwrap().expect("labels published");
    assert_eq!(docflow_score::decode_update(&u).unwrap().current.provenance.changes.summary(), "labels c +1");
}

#[test]
fn rollout_by_id_hash_then_rollback() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut learner = trained(&mut rng, &["a", "b"]);
    let handle = Arc::new(ModelHandle::new(&ScoringModel::empty(0)));
    handle.install(&learner.publish(0).unwrap()).unwrap(); // v1, fully out
    // v2 relabels axis 1 as "c", rolled out to 30 % of documents.
    let mut staged = Learner::new(ScoringModel::empty(0), PublishPolicy { rollout_fraction: 0.3, ..Default::default() });
    staged.adopt(&learner.publish(0).unwrap()).unwrap(); // v2 = same as v1, fully out
    for _ in 0..20 {
        staged.add_label("c", &near(1, &mut rng), Instant::now()).unwrap();
    }
    let v3 = staged.publish(0).unwrap();
    assert_eq!((v3.version, v3.previous_version, v3.rollout_fraction), (3, Some(2), 0.3));
    handle.install(&v3).unwrap();
    let s = scorer(&handle);
    let mut on_new = 0;
    for i in 0..1000 {
        let r = block_on(s.score(doc(&format!("d{i}"), &near(1, &mut rng), Default::default(), ""))).unwrap();
        if r.model_version == 3 {
            on_new += 1;
        } else {
            assert_eq!((r.model_version, r.class.as_str()), (2, "b"));
        }
    }
    assert!((240..360).contains(&on_new), "{on_new} of 1000 on the new version");
    // One command: back to v2's state for everyone, under version 4.
    let back = rollback(&v3, 0).unwrap();
    handle.install(&back).unwrap();
    let r = block_on(s.score(doc("d1", &near(1, &mut rng), Default::default(), ""))).unwrap();
    assert_eq!((r.model_version, r.class.as_str()), (4, "b"));
    assert!(staged.adopt(&back).unwrap());
    assert_eq!(staged.publish(0).unwrap().version, 5);
}

fn invoice(vendor: &str, number: &str, total: &str, unit: &str) -> BusinessFields {
    BusinessFields {
        doc_type_hint: Some("invoice".into()),
        vendor: Some(vendor.into()),
        invoice_number: Some(number.into()),
        total: Some(Decimal::from_str(total).unwrap()),
        currency: Some("EUR".into()),
        line_items: vec![LineItem {
            description: "service".into(),
            quantity: Some(Decimal::ONE),
            unit_price: Some(Decimal::from_str(unit).unwrap()),
            amount: Some(Decimal::from_str(unit).unwrap()),
        }],
        ..Default::default()
    }
}

#[test]
fn history_feedback_and_corrections() {
    let mut rng = StdRng::seed_from_u64(4);
    let mut learner = trained(&mut rng, &["invoice", "email"]);
    let handle = Arc::new(ModelHandle::new(&ScoringModel::empty(0)));
    handle.install(&learner.publish(0).unwrap()).unwrap();
    let s = scorer(&handle);
    let t = Instant::now();
    for i in 0..40 {
        let price = format!("{}.00", 95 + i % 11);
        let d = doc(&format!("h{i}"), &near(0, &mut rng), invoice("Acme GmbH", &format!("N{i}"), &price, &price), "");
        let scored = block_on(s.score(d)).unwrap();
        assert!(scored.anomaly_score < 0.7, "{scored:?}");
        learner.observe_result(&scored, t).unwrap();
    }
    handle.install(&learner.publish(0).unwrap()).unwrap();
    // 25× the usual price: amount_outlier, with its value and contribution.
    let big = block_on(s.score(doc("big", &near(0, &mut rng), invoice("ACME  GmbH", "N99", "2500.00", "2500.00"), ""))).unwrap();
    assert!(big.anomaly_score > 0.9, "{big:?}");
    assert_eq!(big.anomaly_reasons[0].reason, reasons::AMOUNT_OUTLIER);
    assert!(big.anomaly_reasons[0].value > 5.0);
    learner.observe_result(&big, t).unwrap();
    // A human says it was fine: the amount midpoint moves up, the amount joins the history.
    let before = learner.model().thresholds.anomaly.amount.midpoint;
    let fb = Feedback { id: "big".into(), label: None, is_anomaly: Some(false), embedding_f32le: None, note: None, created_at_ms: 0, fields: Default::default() };
    assert_eq!(learner.apply_feedback(&fb, t).unwrap(), FeedbackOutcome::Applied);
    assert!(learner.model().thresholds.anomaly.amount.midpoint > before);
    // A label for a document not seen yet waits for it.
    let fb = Feedback { id: "later".into(), label: Some("email".into()), is_anomaly: None, embedding_f32le: None, note: None, created_at_ms: 0, fields: Default::default() };
    assert_eq!(learner.apply_feedback(&fb, t).unwrap(), FeedbackOutcome::Pending);
    let labels = learner.model().provenance.labels;
    let later = block_on(s.score(doc("later", &near(1, &mut rng), Default::default(), ""))).unwrap();
    learner.observe_result(&later, t).unwrap();
    assert_eq!(learner.model().provenance.labels, labels + 1);
}

#[test]
fn duplicates_are_exact_under_concurrency() {
    let mut rng = StdRng::seed_from_u64(5);
    let mut learner = trained(&mut rng, &["invoice"]);
    let handle = Arc::new(ModelHandle::new(&ScoringModel::empty(0)));
    handle.install(&learner.publish(0).unwrap()).unwrap();
    // Two "replicas" share the registry (the database in production).
    let invoices = Arc::new(MemoryInvoiceRegistry::default());
    let contents = Arc::new(MemoryContentRegistry::default());
    let replicas: Vec<Scorer> = (0..2).map(|_| Scorer::new(handle.clone(), invoices.clone(), contents.clone())).collect();
    let e = near(0, &mut rng);
    let mut threads = Vec::new();
    for (i, s) in replicas.into_iter().enumerate() {
        let e = e.clone();
        threads.push(std::thread::spawn(move || {
            (0..100)
                .map(|n| {
                    let text = format!("Invoice {n} from Acme, copy {i}: consulting services for the month, payable within thirty days.");
                    let d = doc(&format!("r{i}-{n}"), &e, invoice("Acme", &format!("INV-{n}"), "10.00", "10.00"), &text);
                    block_on(s.score(d)).unwrap()
                })
                .collect::<Vec<_>>()
        }));
    }
    let results: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let dups = results
        .iter()
        .filter(|r| r.anomaly_reasons.iter().any(|x| x.reason == reasons::DUPLICATE_INVOICE_NUMBER))
        .count();
    assert_eq!(dups, 100, "each number is claimed by exactly one of the two documents");
    // A replay of the winner does not flag itself; a verbatim copy is duplicate_content only.
    let s = scorer(&handle);
    let text = "Receipt 77 from Bakery Ltd: two croissants, one cappuccino, paid by card, thank you for your visit.";
    let a = block_on(s.score(doc("a", &e, invoice("Bakery", "77", "5.00", "5.00"), text))).unwrap();
    let a_again = block_on(s.score(doc("a", &e, invoice("Bakery", "77", "5.00", "5.00"), text))).unwrap();
    let copy = block_on(s.score(doc("b", &e, invoice("Bakery", "77", "5.00", "5.00"), &text.to_uppercase()))).unwrap();
    assert!(a.anomaly_score < 0.7 && a_again.anomaly_score < 0.7, "{a:?} {a_again:?}");
    let names: Vec<&str> = copy.anomaly_reasons.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(names, vec![reasons::DUPLICATE_CONTENT]);
    assert!(copy.anomaly_score > 0.9);
    // Total ≠ lines (and not a tax rate): total_mismatch.
    let mut f = invoice("Other", "X1", "130.00", "100.00");
    f.line_items[0].amount = Some(Decimal::from_str("100.00").unwrap());
    let m = block_on(s.score(doc("m", &e, f, ""))).unwrap();
    assert_eq!(m.anomaly_reasons[0].reason, reasons::TOTAL_MISMATCH);
    assert!((m.anomaly_reasons[0].value - 30.0).abs() < 1e-9 && m.anomaly_score > 0.9);
}

#[test]
fn reasons_act_only_on_confident_fields_and_explain_themselves() {
    let mut rng = StdRng::seed_from_u64(9);
    let handle = Arc::new(ModelHandle::new(&ScoringModel::empty(0)));
    let s = scorer(&handle);
    let e = near(0, &mut rng);
    let mut sure = invoice("Vendor A", "N-1", "130.00", "100.00");
    for (field, c) in [("vendor", 0.95), ("invoice_number", 0.9), ("total", 0.97), ("date", 0.9)] {
        sure.set_provenance(field, c, "label");
    }
    let flagged = block_on(s.score(doc("s1", &e, sure.clone(), ""))).unwrap();
    let r = flagged.anomaly_reasons.iter().find(|r| r.reason == reasons::TOTAL_MISMATCH).expect("total_mismatch");
    let ev = r.evidence.as_ref().expect("evidence");
    assert_eq!(ev.compared["items_sum"], Decimal::from_str("100.00").unwrap());
    assert_eq!(ev.compared["stated_total"], Decimal::from_str("130.00").unwrap());
    assert_eq!(ev.fields["total"], 0.97);
    assert!(ev.expected_low.unwrap() < Decimal::from(101) && ev.expected_high.unwrap() > Decimal::from(99));
    // The same document with a total the parser is unsure of: no total_mismatch.
    let mut unsure = sure.clone();
    unsure.set_provenance("total", 0.4, "ranker");
    let quiet = block_on(s.score(doc("s2", &e, unsure, ""))).unwrap();
    assert!(quiet.anomaly_reasons.iter().all(|r| r.reason != reasons::TOTAL_MISMATCH), "{quiet:?}");
    // Invoice numbers: an unsure number claims nothing, a sure one is found again.
    let mut ok = invoice("Vendor B", "N-7", "100.00", "100.00");
    for (field, c) in [("vendor", 0.95), ("invoice_number", 0.9), ("total", 0.97), ("date", 0.9)] {
        ok.set_provenance(field, c, "label");
    }
    ok.date = Some("2026-03-01".into());
    let mut weak = ok.clone();
    weak.set_provenance("invoice_number", 0.2, "ranker");
    assert!(block_on(s.score(doc("n1", &e, weak.clone(), "one"))).unwrap().anomaly_reasons.is_empty());
    assert!(block_on(s.score(doc("n2", &e, ok.clone(), "two"))).unwrap().anomaly_reasons.is_empty());
    assert!(block_on(s.score(doc("n3", &e, weak, "three"))).unwrap().anomaly_reasons.is_empty());
    let dup = block_on(s.score(doc("n4", &e, ok.clone(), "four"))).unwrap();
    assert_eq!(dup.anomaly_reasons[0].reason, reasons::DUPLICATE_INVOICE_NUMBER);
    assert!(dup.anomaly_reasons[0].evidence.as_ref().unwrap().explanation.contains("n2"));
    // The next calendar year still collides; two years on, the vendor's
    // number range has started again: no duplicate.
    let mut next_year = ok.clone();
    next_year.date = Some("2027-01-15".into());
    assert!(!block_on(s.score(doc("n5", &e, next_year, "five"))).unwrap().anomaly_reasons.is_empty());
    let mut later = ok.clone();
    later.date = Some("2029-05-01".into());
    assert!(block_on(s.score(doc("n6", &e, later, "six"))).unwrap().anomaly_reasons.is_empty());
}

#[test]
fn malformed_embeddings_are_typed_errors() {
    let mut rng = StdRng::seed_from_u64(6);
    let mut learner = trained(&mut rng, &["a"]);
    let handle = Arc::new(ModelHandle::new(&ScoringModel::empty(0)));
    handle.install(&learner.publish(0).unwrap()).unwrap();
    let s = scorer(&handle);
    let mut d = doc("bad", &[1.0; 8], Default::default(), "");
    let e = block_on(s.score(d.clone())).unwrap_err();
    assert_eq!(e.kind, "embedding_dim");
    d.embedding_f32le.pop();
    assert_eq!(block_on(s.score(d)).unwrap_err().kind, "embedding_bytes");
}

/// A sender whose amount due follows an order value and a voucher under a
/// label the extractor does not know: the total is misread until corrected.
fn voucher_text(i: u32) -> (String, String) {
    let order = 1000 + 37 * i;
    let voucher = 100 + 3 * (i % 7);
    let due = order - voucher;
    (format!("Nordlicht Versand GmbH\nLagerweg 3, Kiel\nBeleg {i}\nOrder value {order}.00\nVoucher {voucher}.00\nRemaining {due}.00\nThank you"), format!("{due}.00"))
}

fn field_feedback(id: &str, fields: &[(&str, &str)]) -> Feedback {
    Feedback {
        id: id.into(),
        label: None,
        is_anomaly: None,
        embedding_f32le: None,
        note: None,
        created_at_ms: 0,
        fields: fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    }
}

/// Reads `text` with the layouts of `update` (as the parse stage does).
fn total_read_with(update: &docflow_schemas::ModelUpdate, id: &str, text: &str) -> (Option<String>, Option<String>) {
    let layouts = docflow_score::model::LayoutDeployment::from_update(update).unwrap();
    let raw = docflow_schemas::RawDocument { id: id.into(), content_type: Some("text/plain".into()), body: text.as_bytes().to_vec(), metadata: Default::default(), created_at_ms: 0 };
    let out = docflow_parse::parse_document_learned(&raw, &docflow_parse::ParseLimits::default(), layouts.select(id)).unwrap();
    (out.fields.total.map(|t| t.to_string()), out.fields.field_source.get("total").cloned())
}

#[test]
fn a_field_correction_becomes_a_version_that_reads_the_layout_and_rollback_takes_it_back() {
    let mut rng = StdRng::seed_from_u64(9);
    let mut learner = Learner::new(ScoringModel::empty(0), PublishPolicy { max_interval: None, every_labels: 1, ..Default::default() });
    let handle = Arc::new(ModelHandle::new(&ScoringModel::empty(0)));
    let s = scorer(&handle);
    let t = Instant::now();

    // The correction arrives before its document: it waits for it.
    let (first, due) = voucher_text(0);
    assert_eq!(learner.apply_feedback(&field_feedback("v0", &[("total", &due)]), t).unwrap(), FeedbackOutcome::Pending);
    let v1 = learner.publish(1).unwrap(); // a version before the correction is learned
    let parsed = docflow_parse::parse_document(
        &docflow_schemas::RawDocument { id: "v0".into(), content_type: Some("text/plain".into()), body: first.clone().into_bytes(), metadata: Default::default(), created_at_ms: 0 },
        &docflow_parse::ParseLimits::default(),
    )
    .unwrap();
    let scored = block_on(s.score(doc("v0", &near(0, &mut rng), parsed.fields, &parsed.text))).unwrap();
    learner.observe_result(&scored, t).unwrap();
    assert_eq!(learner.model().provenance.field_corrections, 1, "the waiting correction is learned once its document is seen");
    assert_eq!(learner.model().provenance.changes.fields_learned.get("total"), Some(&1));
    let v2 = learner.maybe_publish(t, 2).unwrap().expect("a correction publishes like a label");

    let (next, next_due) = voucher_text(5);
    let (before, _) = total_read_with(&v1, "v5", &next);
    assert_ne!(before.as_deref(), Some(next_due.as_str()), "the layout must be misread without the correction");
    assert_eq!(total_read_with(&v2, "v5", &next), (Some(next_due.clone()), Some("learned".into())));

    // A value the document does not hold is recorded, not learned.
    assert_eq!(learner.apply_feedback(&field_feedback("v0", &[("total", "77.77")]), t).unwrap(), FeedbackOutcome::Ignored);
    assert_eq!(learner.model().provenance.changes.fields_rejected.len(), 1);
    assert!(learner.model().provenance.changes.fields_rejected[0].contains("appears nowhere"), "{:?}", learner.model().provenance.changes.fields_rejected);
    // A correction of a document the learner never saw waits; one of a field corrections cannot teach is refused with the reason.
    assert_eq!(learner.correct_fields("unseen", &[("total".to_string(), "1.00".to_string())].into(), t)[0].rejected.as_deref().map(|r| r.contains("not among")), Some(true));

    // Rollback restores the version before the correction: the layout is misread again.
    let back = rollback(&v2, 3).unwrap();
    assert_eq!(total_read_with(&back, "v5", &next).0, before);
    assert!(learner.adopt(&back).unwrap());
    assert!(learner.layouts().layouts.is_empty());
}

#[test]
fn field_corrections_update_the_ranker_only_when_the_policy_asks() {
    let mut rng = StdRng::seed_from_u64(11);
    let handle = Arc::new(ModelHandle::new(&ScoringModel::empty(0)));
    let s = scorer(&handle);
    let t = Instant::now();
    let (text, due) = voucher_text(0);
    let parsed = docflow_parse::parse_document(
        &docflow_schemas::RawDocument { id: "v0".into(), content_type: Some("text/plain".into()), body: text.into_bytes(), metadata: Default::default(), created_at_ms: 0 },
        &docflow_parse::ParseLimits::default(),
    )
    .unwrap();
    let scored = block_on(s.score(doc("v0", &near(0, &mut rng), parsed.fields, &parsed.text))).unwrap();
    for update_ranker in [false, true] {
        let mut learner = Learner::new(ScoringModel::empty(0), PublishPolicy { max_interval: None, every_labels: 1, update_ranker, ..Default::default() });
        learner.observe_result(&scored, t).unwrap();
        let out = learner.correct_fields("v0", &[("total".to_string(), due.clone())].into(), t);
        assert!(out[0].rejected.is_none(), "{out:?}");
        let layouts = learner.layouts();
        assert_eq!(layouts.layouts.len(), 1, "the layout is learned either way");
        assert_eq!(layouts.ranker_examples.len(), usize::from(update_ranker));
        assert_eq!(layouts.ranker() == docflow_parse::extract::rank::Weights::shipped(), !update_ranker);
    }
}
