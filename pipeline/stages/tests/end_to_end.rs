//! The whole pipeline in one process (`run_all`): generated documents from
//! the load-test corpus through parse → infer (tiny model) → score →
//! persist (Cassandra) → docs.results, every id exactly once after dedup.

mod common;

use common::*;
use docflow_testkit::kafka;
use docflow_schemas::ResultRecord;
use docflow_stages::config::StoreBackend;
use docflow_stages::PipelineConfig;
use docflow_store::DocumentStore;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const N: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn generated_documents_reach_results_exactly_once() {
    if !docflow_testkit::require_kafka() || !docflow_testkit::require_cassandra() {
        return;
    }
    if std::env::var_os("RUST_LOG").is_some() {
        docflow_runtime::init_tracing(); // stage logs, for a failing run
    }
    let dir = tiny_model();
    let p = kafka::unique("e2e");
    let ks = TestKeyspace::create("e2e", &p, |_| {}).await;

    let mut stage = BTreeMap::new();
    for name in docflow_stages::topology::STAGES {
        stage.insert(name.to_string(), toml::toml! { drain_timeout_ms = 3000 });
    }
    let cfg = PipelineConfig {
        brokers: Some(kafka::brokers()),
        topic_prefix: Some(p.clone()),
        store_backend: StoreBackend::Cassandra,
        store: ks.store.clone(),
        stage,
        infer: tiny_infer(&dir),
        // PDFs on a 2-core CI machine that is also compiling: generous deadline
        // (a PDF parses in well under a second; the deadline only bounds a hang).
        parse: docflow_stages::ParseStageConfig { limits: docflow_parse::ParseLimits { deadline_ms: 120_000, ..Default::default() }, ..Default::default() },
        ..Default::default()
    };
    let topics = cfg.topics().unwrap();
    let specs: Vec<(&str, i32)> = topics.iter().map(|t| (t.as_str(), if t.ends_with("model.updates") { 1 } else { 2 })).collect();
    kafka::create_topics(&kafka::brokers(), &specs).await.unwrap();

    let shutdown = docflow_runtime::ShutdownSignal::new();
    let _stop = StopOnDrop(shutdown.clone());
    let running = tokio::spawn(docflow_stages::run_all(cfg.clone(), shutdown.clone()));

    let docs = docflow_corpus::Corpus::generate(7, N);
    let producer = kafka::producer(&kafka::brokers()).unwrap();
    let start = Instant::now();
    for (i, d) in docs.iter().enumerate() {
        let lane = if i % 10 == 0 { "docs.raw.critical" } else { "docs.raw.normal" };
        send(&producer, &cfg.name(lane), &d.raw.id, &d.raw);
    }
    kafka::flush(&producer).unwrap();

    let want: BTreeSet<String> = docs.iter().map(|d| d.raw.id.clone()).collect();
    assert_eq!(want.len(), N);
    let results = kafka::read_topic(&kafka::brokers(), &cfg.name("docs.results"), Duration::from_secs(150), |r| {
        r.iter().filter_map(|c| c.key.as_deref()).map(|k| String::from_utf8_lossy(k).into_owned()).collect::<BTreeSet<_>>().len() >= N
    })
    .unwrap();
    let took = start.elapsed();
    let dead = kafka::read_topic(&kafka::brokers(), &cfg.name("docs.dlq"), Duration::from_secs(2), |_| false).unwrap();
    let records: Vec<ResultRecord> = results.iter().map(decoded).collect();
    let got: BTreeSet<String> = records.iter().map(|r| r.id.clone()).collect();
    println!("{N} documents in docs.results after {took:?} ({} records, {} dead letters)", records.len(), dead.len());
    for d in &dead {
        println!("dead letter: {:?} {:?}", d.key.as_deref().map(String::from_utf8_lossy), d.header(docflow_runtime::dlq::HEADER_ERROR_KIND));
    }
    assert_eq!(got, want, "missing: {:?}", want.difference(&got).take(10).collect::<Vec<_>>());
    assert!(dead.is_empty());
    assert!(records.iter().all(|r| matches!(r.status, docflow_schemas::ResultStatus::Ok | docflow_schemas::ResultStatus::PendingAudit)));
    assert!(records.iter().all(|r| r.persisted_at_ms >= r.created_at_ms));

    // "In docs.results" means "in the database".
    let store = docflow_store::CassandraStore::connect(&ks.store).await.unwrap();
    for id in want.iter().take(20) {
        assert!(store.get(id).await.unwrap().is_some(), "{id} not in the store");
    }
    shutdown.trigger();
    running.await.unwrap().unwrap();
    ks.drop().await;
}
