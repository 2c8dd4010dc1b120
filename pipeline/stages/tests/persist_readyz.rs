//! Health acceptance: `/readyz` of a running persist stage
//! flips when the database is stopped and back when it returns.
//!
//! The real persist stage (Kafka + Cassandra) runs with the metrics/health
//! endpoint; `/readyz` is 200. The local Cassandra is then paused
//! (`SIGSTOP`, see `common::pause`) while documents keep arriving: their
//! writes time out, the store's circuit breaker opens and `/readyz` must
//! answer 503 naming the breaker. After `SIGCONT` the stage's probes
//! succeed, the breaker closes and `/readyz` is 200 again; every document
//! reaches `docs.results` and none is dead-lettered.
//!
//! Own test binary: pausing the database would disturb other tests of this
//! process. Cassandra is resumed on drop (also when an assertion fails)
//! and by a watchdog process if this one dies. The broker half (`/readyz`
//! 503 while Kafka is unreachable) is `pipeline/runtime/tests/readiness.rs`.

mod common;

use common::pause::{cassandra_pid, PausedProcess};
use common::*;
use docflow_runtime::telemetry::{self, Registry};
use docflow_runtime::ShutdownSignal;
use docflow_testkit::kafka;
use docflow_stages::{PersistConfig, PersistStage};
use docflow_store::bench::synthetic_scored;
use docflow_store::{AnyStore, CassandraStore};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest the database stays paused, whatever happens to this test.
const MAX_OUTAGE: Duration = Duration::from_secs(90);

/// Poll `/readyz` until it answers `want`; the body of that answer.
async fn wait_readyz(addr: SocketAddr, want: u16, timeout: Duration) -> String {
    docflow_testkit::probe::wait_http_status(addr, "/readyz", want, timeout).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readyz_is_503_while_the_database_is_stopped_and_200_after() {
    if !docflow_testkit::require_kafka() || !docflow_testkit::require_cassandra() {
        return;
    }
    let Some(pid) = cassandra_pid() else {
        println!("skipped: no pausable Cassandra process (set DOCFLOW_CASSANDRA_PID, or run the local stack: deploy/local/stack.sh up)");
        return;
    };
    let server = telemetry::serve("127.0.0.1:0".parse().unwrap(), Registry::global()).await.unwrap();
    let addr = server.local_addr;

    let p = kafka::unique("readyz");
    // Short request timeouts: the breaker opens within seconds of the pause.
    let ks = TestKeyspace::create("readyz", &p, |c| c.request_timeout_ms = 1_000).await;
    let (scored, results, dlq) = persist_topics(&p).await;

    let store = AnyStore::Cassandra(CassandraStore::connect(&ks.store).await.expect("store"));
    let shutdown = ShutdownSignal::new();
    let stage = PersistStage::new(store, PersistConfig::default(), shutdown.clone());
    let running = tokio::spawn(docflow_runtime::run_stage(stage, stage_config(&[&scored], Some(&results), &dlq), shutdown.clone()));

    // Healthy: ready, and documents go through.
    wait_readyz(addr, 200, Duration::from_secs(30)).await;
    let run = p.rsplit('-').next().unwrap().to_owned();
    let sent = Arc::new(AtomicU64::new(0));
    let sending = Arc::new(AtomicBool::new(true));
    let producer_thread = {
        let (scored, run, sent, sending) = (scored.clone(), run.clone(), sent.clone(), sending.clone());
        std::thread::spawn(move || {
            let producer = kafka::producer(&kafka::brokers()).unwrap();
            while sending.load(Ordering::Relaxed) {
                let i = sent.load(Ordering::Relaxed);
                let doc = synthetic_scored(&run, i);
                send(&producer, &scored, &doc.embedded.parsed.id, &doc);
                sent.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
            kafka::flush(&producer).unwrap();
        })
    };
    let unique_keys = |r: &[kafka::Consumed]| r.iter().filter_map(|c| c.key.as_deref()).collect::<BTreeSet<_>>().len();
    let results2 = results.clone();
    tokio::task::spawn_blocking(move || kafka::read_topic(&kafka::brokers(), &results2, Duration::from_secs(30), |r| unique_keys(r) >= 5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tokio::task::spawn_blocking(move || docflow_testkit::probe::http_get(addr, "/readyz").0).await.unwrap(), 200, "ready while the database answers");

    // Database stopped: writes time out, the breaker opens, not ready.
    println!("SIGSTOP cassandra pid {pid}");
    let outage = PausedProcess::stop(pid, MAX_OUTAGE);
    let stopped_at = Instant::now();
    let body = wait_readyz(addr, 503, Duration::from_secs(60)).await;
    println!("/readyz 503 after {:?}: {body}", stopped_at.elapsed());
    assert!(body.contains("database circuit breaker open"), "{body}");
    assert!(!running.is_finished(), "the persist stage exited during the outage");

    // Database back: the stage's probes close the breaker, ready again.
    drop(outage);
    let resumed_at = Instant::now();
    wait_readyz(addr, 200, Duration::from_secs(60)).await;
    println!("/readyz 200 again {:?} after SIGCONT", resumed_at.elapsed());
    sending.store(false, Ordering::Relaxed);
    producer_thread.join().unwrap();

    // Nothing lost, nothing dead-lettered.
    let n = sent.load(Ordering::Relaxed) as usize;
    let results2 = results.clone();
    let got = tokio::task::spawn_blocking(move || {
        kafka::read_topic(&kafka::brokers(), &results2, Duration::from_secs(120), |r| unique_keys(r) >= n)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(unique_keys(&got), n, "every document reaches docs.results");
    let dead = tokio::task::spawn_blocking(move || kafka::read_topic(&kafka::brokers(), &dlq, Duration::from_secs(3), |_| false))
        .await
        .unwrap()
        .unwrap();
    assert!(dead.is_empty(), "{} records dead-lettered during the outage", dead.len());

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(60), running).await.expect("stage stops").unwrap().expect("persist stage ends cleanly");
    server.stop();
    ks.drop().await;
}
