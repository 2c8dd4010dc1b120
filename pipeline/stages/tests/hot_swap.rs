//! Score + learn against a real broker: a feedback burst creating a new
//! class is published by the learner on `model.updates`, hot-swapped into
//! the running score stage, and documents of that class are classified as
//! it within seconds; a restarted score stage starts on the latest version.

mod common;

use common::*;
use docflow_testkit::kafka;
use docflow_schemas::{embedding_to_bytes, Feedback, ScoredDocument};
use docflow_stages::learn::LearnConfig;
use docflow_stages::score::{RegistryKind, ScoreConfig};
use docflow_stages::{LearnStage, ScoreStage};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const DIM: usize = 16;

/// A unit vector close to axis `axis`, slightly different per `i`.
fn near(axis: usize, i: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..DIM).map(|d| 0.04 * ((i * 31 + d * 7) as f32).sin()).collect();
    v[axis] += 1.0;
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feedback_burst_creates_a_class_that_scoring_uses_within_seconds() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let p = kafka::unique("swap");
    let t = |n: &str| format!("{p}.{n}");
    let (embedded_t, scored_t, feedback_t, updates_t, dlq) = (t("docs.embedded"), t("docs.scored"), t("docs.feedback"), t("model.updates"), t("docs.dlq"));
    kafka::create_topics(&kafka::brokers(), &[(&embedded_t, 2), (&scored_t, 2), (&feedback_t, 2), (&updates_t, 1), (&dlq, 1)]).await.unwrap();
    let brokers = kafka::brokers();
    let kafka = BTreeMap::new();

    let score_cfg = ScoreConfig { updates_topic: updates_t.clone(), invoice_registry: RegistryKind::Memory, ..Default::default() };
    let learn_cfg = LearnConfig { updates_topic: updates_t.clone(), scored_topic: scored_t.clone(), every_labels: 8, max_interval_ms: 500, ..Default::default() };
    let shutdown = docflow_runtime::ShutdownSignal::new();
    let _stop = StopOnDrop(shutdown.clone());
    let score = ScoreStage::start(score_cfg.clone(), &brokers, &kafka, None).await.unwrap();
    assert_eq!(score.model_version(), 0, "fresh topic: version 0");
    let learn = LearnStage::start(learn_cfg, &brokers, &kafka).await.unwrap();
    let tasks = vec![
        docflow_runtime::stage_task(score, stage_config(&[&embedded_t], Some(&scored_t), &dlq), shutdown.clone()),
        docflow_runtime::stage_task(learn, stage_config(&[&feedback_t, &scored_t], Some(&updates_t), &dlq), shutdown.clone()),
    ];
    let running = tokio::spawn(docflow_runtime::run_stages(tasks, shutdown.clone()));

    let producer = kafka::producer(&brokers).unwrap();
    // Before any feedback the document has no class.
    send(&producer, &embedded_t, "before", &embedded_doc("before", &near(3, 0)));
    kafka::flush(&producer).unwrap();
    let before: ScoredDocument = decoded(&read_n(&scored_t, 1, Duration::from_secs(30))[0]);
    assert_eq!(before.class, docflow_score::OTHER);

    // The burst: 8 labels of a class nobody has seen.
    let sent_at = Instant::now();
    for i in 0..8 {
        let fb = Feedback {
            id: format!("fb{i}"),
            label: Some("recall-notice".into()),
            is_anomaly: None,
            embedding_f32le: Some(embedding_to_bytes(&near(3, 100 + i))),
            note: None,
            created_at_ms: 1,
            fields: Default::default(),
        };
        send(&producer, &feedback_t, &fb.id, &fb);
    }
    kafka::flush(&producer).unwrap();

    // Keep sending documents of that class until one is classified as it.
    let mut found = None;
    for i in 0..40 {
        let id = format!("after{i}");
        send(&producer, &embedded_t, &id, &embedded_doc(&id, &near(3, 200 + i)));
        kafka::flush(&producer).unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        let scored: Vec<ScoredDocument> = read_n(&scored_t, 2 + i, Duration::from_secs(2)).iter().map(decoded).collect();
        if let Some(s) = scored.iter().find(|s| s.class == "recall-notice") {
            found = Some((s.clone(), sent_at.elapsed()));
            break;
        }
    }
    let (s, took) = found.expect("no document was classified as the new class");
    println!("new class used after {took:?} (model version {})", s.model_version);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(s.model_version >= 1);

    // A restarted score stage resumes with the latest version before its first record.
    let restarted = ScoreStage::start(score_cfg, &brokers, &kafka, None).await.unwrap();
    assert!(restarted.model_version() >= s.model_version, "{} < {}", restarted.model_version(), s.model_version);
    drop(restarted);
    shutdown.trigger();
    running.await.unwrap().unwrap();
}
