//! Outage acceptance: scored documents stream through the real
//! persist stage (Kafka + Cassandra); mid-stream the database is made
//! unavailable for 30 s (`SIGSTOP` of the Cassandra JVM, then `SIGCONT`: every
//! request hangs and times out, connections cannot be opened, exactly what a
//! dead node looks like to the driver, without a 30 s restart). Then:
//!
//! - the stage paused (in-flight stayed under its bound, RSS did not grow
//!   with the backlog) and did not exit;
//! - it resumed by itself and nothing went to `docs.dlq`;
//! - every id is on `docs.results` exactly once and in the database.
//!
//! Own test binary: the outage would disturb other tests of this process.
//! The Cassandra pid comes from `DOCFLOW_CASSANDRA_PID` or from the local
//! stack's pid file (`deploy/local/stack.sh`, `$DOCFLOW_STATE_DIR` or
//! `<repo>/.state/cassandra/cassandra.pid`); an external Cassandra cannot be
//! paused, so the test says so and skips. A watchdog process resumes
//! Cassandra even if this test is killed mid-outage (`common::pause`).

mod common;

use common::pause::{cassandra_pid, PausedProcess};
use common::*;
use docflow_testkit::kafka;
use docflow_runtime::{ShutdownSignal, StageMetrics};
use docflow_schemas::ResultRecord;
use docflow_stages::{PersistConfig, PersistStage};
use docflow_store::bench::synthetic_scored;
use docflow_store::{AnyStore, CassandraStore};
use futures::TryStreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Offered load, documents per second.
const RATE: u64 = 150;
/// Streaming time; the outage sits in the middle.
const STREAM: Duration = Duration::from_secs(55);
const OUTAGE_AT: Duration = Duration::from_secs(10);
const OUTAGE: Duration = Duration::from_secs(30);
/// The stage's in-flight bound for this test (records).
const MAX_IN_FLIGHT: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn persist_pauses_through_a_30s_database_outage_and_loses_nothing() {
    if !docflow_testkit::require_kafka() || !docflow_testkit::require_cassandra() {
        return;
    }
    let Some(pid) = cassandra_pid() else {
        println!("skipped: no pausable Cassandra process (set DOCFLOW_CASSANDRA_PID, or run the local stack: deploy/local/stack.sh up)");
        return;
    };

    let p = kafka::unique("outage");
    let ks = TestKeyspace::create("outage", &p, |_| {}).await;
    let (scored, results, dlq) = persist_topics(&p).await;

    // The stage exactly as `docflow stage persist` builds it, with the
    // production store settings (timeouts, retries, breaker).
    let store = AnyStore::Cassandra(CassandraStore::connect(&ks.store).await.expect("store"));
    let shutdown = ShutdownSignal::new();
    let _stop = StopOnDrop(shutdown.clone());
    let stage = PersistStage::new(store, PersistConfig::default(), shutdown.clone());
    let persist_metrics = stage.metrics();
    let mut cfg = stage_config(&[&scored], Some(&results), &dlq);
    cfg.max_in_flight = MAX_IN_FLIGHT;
    let metrics = Arc::new(StageMetrics::default());
    let running = tokio::spawn(docflow_runtime::run_stage_with_metrics(stage, cfg, shutdown.clone(), metrics.clone()));

    // Producer thread: RATE documents/s for STREAM.
    let run = p.rsplit('-').next().unwrap().to_owned();
    let n = RATE * STREAM.as_secs();
    let produced = Arc::new(AtomicU64::new(0));
    let producer_thread = {
        let (scored, run, produced) = (scored.clone(), run.clone(), produced.clone());
        std::thread::spawn(move || {
            let producer = kafka::producer(&kafka::brokers()).unwrap();
            let start = Instant::now();
            for i in 0..n {
                let due = start + Duration::from_micros(i * 1_000_000 / RATE);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                let doc = synthetic_scored(&run, i);
                send(&producer, &scored, &doc.embedded.parsed.id, &doc);
                produced.fetch_add(1, Ordering::Relaxed);
            }
            kafka::flush(&producer).unwrap();
        })
    };

    // Sampler: in-flight (consumed − completed) and RSS every 250 ms.
    let sampling = Arc::new(AtomicBool::new(true));
    let samples = {
        let (m, on) = (metrics.clone(), sampling.clone());
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let t0 = Instant::now();
            while on.load(Ordering::Relaxed) {
                let consumed = StageMetrics::get(&m.consumed);
                let completed = StageMetrics::get(&m.completed);
                let rss = docflow_testkit::probe::rss_kib(std::process::id()).unwrap_or(0);
                out.push((t0.elapsed(), consumed, completed, rss));
                std::thread::sleep(Duration::from_millis(250));
            }
            out
        })
    };

    tokio::time::sleep(OUTAGE_AT).await;
    let before = (StageMetrics::get(&metrics.completed), docflow_testkit::probe::rss_kib(std::process::id()).unwrap_or(0));
    println!("outage starts: {} completed, RSS {} KiB; SIGSTOP cassandra pid {pid}", before.0, before.1);
    let outage = PausedProcess::stop(pid, OUTAGE + Duration::from_secs(5));
    let outage_started = Instant::now();
    tokio::time::sleep(OUTAGE).await;
    let during = (StageMetrics::get(&metrics.consumed), StageMetrics::get(&metrics.completed), produced.load(Ordering::Relaxed));
    drop(outage);
    println!("outage ends after {:?}: consumed {} completed {} produced {}", outage_started.elapsed(), during.0, during.1, during.2);
    assert!(!running.is_finished(), "the persist stage exited during the outage: {:?}", running.await);

    producer_thread.join().unwrap();
    let want: BTreeSet<String> = (0..n).map(|i| synthetic_scored(&run, i).embedded.parsed.id).collect();
    let unique_keys = |r: &[kafka::Consumed]| r.iter().filter_map(|c| c.key.as_deref()).collect::<BTreeSet<_>>().len();
    kafka::read_topic(&kafka::brokers(), &results, Duration::from_secs(180), |r| unique_keys(r) >= n as usize).unwrap();
    // Everything again, to also catch duplicates that came after the last new id.
    let got = kafka::read_topic(&kafka::brokers(), &results, Duration::from_secs(5), |_| false).unwrap();
    sampling.store(false, Ordering::Relaxed);
    let samples = samples.join().unwrap();
    let dead = kafka::read_topic(&kafka::brokers(), &dlq, Duration::from_secs(3), |_| false).unwrap();
    println!("{} results, {} dead letters; stage: {}; outage waits {}", got.len(), dead.len(), metrics.summary(), persist_metrics.outage_waits.load(Ordering::Relaxed));

    // The stage is still running, and drains cleanly.
    assert!(!running.is_finished(), "the persist stage exited: {:?}", running.await);
    shutdown.trigger();
    running.await.unwrap().expect("persist stage ends cleanly");

    // The outage was real: the breaker opened and the stage held batches.
    assert!(persist_metrics.outage_waits.load(Ordering::Relaxed) > 0, "the circuit breaker never opened: no outage was seen");
    // No dead-letter flood (none at all: every record was valid).
    for d in &dead {
        println!("dead letter: {:?} {:?}", d.key.as_deref().map(String::from_utf8_lossy), d.header(docflow_runtime::dlq::HEADER_ERROR_KIND));
    }
    assert!(dead.is_empty(), "{} records dead-lettered during the outage", dead.len());

    // Every id on docs.results exactly once.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for c in &got {
        let r: ResultRecord = decoded(c);
        *seen.entry(r.id).or_default() += 1;
    }
    let ids: BTreeSet<String> = seen.keys().cloned().collect();
    assert_eq!(ids.len(), want.len(), "missing on docs.results: {:?}", want.difference(&ids).take(10).collect::<Vec<_>>());
    assert_eq!(ids, want);
    let dups: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).take(10).collect();
    assert!(dups.is_empty(), "duplicates on docs.results: {dups:?}");

    // Every id in the database exactly once.
    let mut q = scylla::statement::Statement::new(format!("SELECT id FROM {}.documents", ks.name));
    q.set_request_timeout(Some(Duration::from_secs(30)));
    let rows: Vec<String> =
        ks.session.query_iter(q, ()).await.unwrap().rows_stream::<(String,)>().unwrap().map_ok(|(s,)| s).try_collect().await.unwrap();
    let in_db: BTreeSet<String> = rows.iter().cloned().collect();
    assert_eq!(rows.len(), in_db.len());
    assert_eq!(in_db, want, "database rows differ from the published ids");

    // Bounded memory: while the database was away the stage stopped taking
    // records at its in-flight bound (the backlog stayed in Kafka), and
    // the process did not grow with the backlog.
    let outage_window = |t: Duration| t >= OUTAGE_AT && t <= OUTAGE_AT + OUTAGE;
    let max_in_flight = samples.iter().map(|s| s.1.saturating_sub(s.2)).max().unwrap_or(0);
    let backlog = during.2.saturating_sub(during.0);
    let rss_peak = samples.iter().filter(|s| outage_window(s.0)).map(|s| s.3).max().unwrap_or(0);
    // Resumed by itself: how long after SIGCONT the first record completed,
    // and when the backlog was gone.
    let resumed_at = samples.iter().find(|s| s.0 > OUTAGE_AT + OUTAGE && s.2 > during.1).map(|s| s.0 - (OUTAGE_AT + OUTAGE));
    let caught_up_at = samples.iter().find(|s| s.2 >= n).map(|s| s.0);
    println!("resumed {resumed_at:?} after the database came back; all {n} completed at {caught_up_at:?} from the start");
    let resumed_at = resumed_at.expect("the stage never resumed after the outage");
    assert!(resumed_at < Duration::from_secs(45), "the stage took {resumed_at:?} to resume after the outage");
    println!(
        "max in flight {max_in_flight} (bound {MAX_IN_FLIGHT}); backlog left in Kafka at resume {backlog}; RSS before {} KiB, peak during outage {rss_peak} KiB",
        before.1
    );
    assert!(max_in_flight <= (MAX_IN_FLIGHT + 256) as u64, "in flight {max_in_flight} exceeded the bound {MAX_IN_FLIGHT}");
    assert!(backlog > 0, "the stage kept consuming during the outage (consumed {} of {} produced)", during.0, during.2);
    assert!(rss_peak < before.1 + 128 * 1024, "RSS grew from {} KiB to {rss_peak} KiB during the outage", before.1);

    ks.drop().await;
}
