//! `docflow model promote` and `docflow model rollback` against a real
//! broker, with a running score stage and a learn stage: a version staged
//! at fraction 0 serves nobody, `promote --fraction 1` switches every
//! document to it, `rollback` switches the running score stage back to the
//! previous state (as version latest + 1) within seconds, and the learn
//! stage adopts the rollback so its next version builds on it.

mod common;

use common::*;
use docflow_testkit::kafka;
use docflow_schemas::ScoredDocument;
use docflow_score::{encode_update, ScoringModel};
use docflow_stages::learn::LearnConfig;
use docflow_stages::model_admin::{self, UpdatesTopic};
use docflow_stages::score::{RegistryKind, ScoreConfig};
use docflow_stages::{LearnStage, ScoreStage};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const DIM: usize = 8;

fn axis(i: usize) -> Vec<f32> {
    let mut v = [0.01f32; DIM];
    v[i] = 1.0;
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

/// A model whose only class, `name`, sits on axis 0.
fn model(version: u64, name: &str) -> ScoringModel {
    let mut m = ScoringModel::empty(DIM);
    m.version = version;
    for _ in 0..3 {
        m.classifier.add_example(name, &axis(0)).unwrap();
    }
    m
}

/// Sends documents until one is scored with `class` (at most `within`); returns it and the time taken.
fn until_class(producer: &Producer, embedded_t: &str, scored_t: &str, tag: &str, class: &str, within: Duration) -> Option<(ScoredDocument, Duration)> {
    let start = Instant::now();
    let mut sent = 0;
    while start.elapsed() < within {
        let id = format!("{tag}-{sent}");
        send(producer, embedded_t, &id, &embedded_doc(&id, &axis(0)));
        kafka::flush(producer).unwrap();
        sent += 1;
        std::thread::sleep(Duration::from_millis(200));
        let all: Vec<ScoredDocument> = kafka::read_topic(&kafka::brokers(), scored_t, Duration::from_secs(2), |_| false)
            .unwrap()
            .iter()
            .map(decoded)
            .collect();
        if let Some(s) = all.into_iter().filter(|s| s.embedded.parsed.id.starts_with(&format!("{tag}-"))).find(|s| s.class == class) {
            return Some((s, start.elapsed()));
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_and_rollback_switch_a_running_score_stage() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let p = kafka::unique("admin");
    let t = |n: &str| format!("{p}.{n}");
    let (embedded_t, scored_t, feedback_t, updates_t, dlq) = (t("docs.embedded"), t("docs.scored"), t("docs.feedback"), t("model.updates"), t("docs.dlq"));
    let brokers = kafka::brokers();
    kafka::create_topics(&brokers, &[(&embedded_t, 1), (&scored_t, 1), (&feedback_t, 1), (&updates_t, 1), (&dlq, 1)]).await.unwrap();
    let kafka = BTreeMap::new();
    let topic = UpdatesTopic { name: updates_t.clone(), timeout: Duration::from_secs(20) };

    // Nothing to roll back or promote on an empty topic: a clear error.
    let err = model_admin::rollback(&topic, &brokers, &kafka).await.unwrap_err();
    assert!(err.to_string().contains("no model version"), "{err}");

    // v1 everywhere, then v2 staged at fraction 0 (serves nobody yet).
    let (v1, v2) = (model(1, "alpha"), model(2, "beta"));
    model_admin::publish_update(&brokers, &updates_t, &kafka, &encode_update(&v1, None, 1.0, 1).unwrap()).await.unwrap();
    model_admin::publish_update(&brokers, &updates_t, &kafka, &encode_update(&v2, Some(&v1), 0.0, 2).unwrap()).await.unwrap();

    let shutdown = docflow_runtime::ShutdownSignal::new();
    let _stop = StopOnDrop(shutdown.clone());
    let score_cfg = ScoreConfig { updates_topic: updates_t.clone(), invoice_registry: RegistryKind::Memory, ..Default::default() };
    let score = ScoreStage::start(score_cfg, &brokers, &kafka, None).await.unwrap();
    assert_eq!(score.model_version(), 2);
    let learn_cfg = LearnConfig { updates_topic: updates_t.clone(), scored_topic: scored_t.clone(), max_interval_ms: 0, ..Default::default() };
    let learn = LearnStage::start(learn_cfg, &brokers, &kafka).await.unwrap();
    assert_eq!(learn.last_version(), 2);
    let tasks = vec![docflow_runtime::stage_task(score, stage_config(&[&embedded_t], Some(&scored_t), &dlq), shutdown.clone())];
    let running = tokio::spawn(docflow_runtime::run_stages(tasks, shutdown.clone()));
    let producer = kafka::producer(&brokers).unwrap();

    let (e, s, pr) = (embedded_t.clone(), scored_t.clone(), producer);
    let (staged, pr) = tokio::task::spawn_blocking(move || (until_class(&pr, &e, &s, "staged", "alpha", Duration::from_secs(30)), pr)).await.unwrap();
    let (staged, _) = staged.expect("v2 at fraction 0 must leave every document on v1");
    assert_eq!(staged.model_version, 1);

    // promote --fraction 1: every document on v2.
    let promoted = model_admin::promote(&topic, 1.0, &brokers, &kafka).await.unwrap();
    assert_eq!((promoted.version, promoted.rollout_fraction), (2, 1.0));
    let (e, s) = (embedded_t.clone(), scored_t.clone());
    let (found, pr) = tokio::task::spawn_blocking(move || (until_class(&pr, &e, &s, "promoted", "beta", Duration::from_secs(20)), pr)).await.unwrap();
    let (doc, took) = found.expect("after promote no document was scored by v2");
    println!("promote took effect after {took:?}");
    assert_eq!(doc.model_version, 2);

    // rollback: v1's state as version 3, on the running stage.
    let rolled = model_admin::rollback(&topic, &brokers, &kafka).await.unwrap();
    assert_eq!(rolled.version, 3);
    let (e, s) = (embedded_t.clone(), scored_t.clone());
    let (found, pr) = tokio::task::spawn_blocking(move || (until_class(&pr, &e, &s, "rolledback", "alpha", Duration::from_secs(20)), pr)).await.unwrap();
    let (doc, took) = found.expect("after rollback no document was scored by the restored version");
    println!("rollback took effect after {took:?}");
    assert_eq!(doc.model_version, 3);
    assert!(took < Duration::from_secs(10), "{took:?}");

    // The learn stage followed: its next version will be 4, built on the restored state.
    let deadline = Instant::now() + Duration::from_secs(10);
    while learn.last_version() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(learn.last_version(), 3, "the learn stage adopts the rollback");
    let latest = tokio::task::spawn_blocking(move || model_admin::latest_update(&kafka::brokers(), &updates_t, &BTreeMap::new(), Duration::from_secs(20)))
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(latest.version, 3);
    let restored = docflow_score::decode_update(&latest).unwrap().current;
    assert_eq!(restored.provenance.restored_from, Some(1));
    assert!(restored.classifier.classes.contains_key("alpha") && !restored.classifier.classes.contains_key("beta"));

    // import: a model saved by the offline mode becomes version 4 on the running stage.
    let file = std::env::temp_dir().join(format!("{p}.model"));
    docflow_stages::offline::save_update(&file, &encode_update(&model(7, "gamma"), None, 1.0, 3).unwrap()).unwrap();
    let imported = model_admin::import(&topic, &file, 1.0, &brokers, &kafka).await.unwrap();
    assert_eq!((imported.version, imported.previous_version), (7, Some(3)), "a saved version above latest keeps its number");
    let (e, s) = (embedded_t.clone(), scored_t.clone());
    let (found, _pr) = tokio::task::spawn_blocking(move || (until_class(&pr, &e, &s, "imported", "gamma", Duration::from_secs(20)), pr)).await.unwrap();
    assert_eq!(found.expect("after import no document was scored by the imported version").0.model_version, 7);
    std::fs::remove_file(&file).ok();

    drop(learn);
    shutdown.trigger();
    running.await.unwrap().unwrap();
}
