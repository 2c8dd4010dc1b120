//! Acceptance: readiness tells the truth through a broker outage. A stage
//! runs on a scratch broker of its own (the shared stack is never touched);
//! the broker is SIGKILLed and restarted on the same data:
//! - `/readyz` answers 503 within 2 s of the broker's death,
//! - and 200 again within 5 s of the broker answering;
//! - nothing published before, during or after the outage is lost.

use docflow_runtime::passthrough::PassThrough;
use docflow_runtime::telemetry::{self, Registry};
use docflow_testkit::kafka::{self, ScratchKafka};
use docflow_runtime::{ShutdownSignal, StageConfig};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const DOCS: u64 = 300;

/// Poll `/readyz` every 50 ms until it answers `want`; how long that took.
async fn time_to_status(addr: SocketAddr, want: u16, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (status, body) = tokio::task::spawn_blocking(move || docflow_testkit::probe::http_get(addr, "/readyz")).await.unwrap();
        if status == want {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "/readyz stayed {status} ({body:?}), wanted {want} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn publish(brokers: &str, topic: &str, seqs: std::ops::Range<u64>) {
    let p = kafka::producer(brokers).unwrap();
    for seq in seqs {
        kafka::send_doc(&p, topic, &kafka::test_doc(seq, 100)).unwrap();
    }
    kafka::flush(&p).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_a_broker_kill_and_restart() {
    docflow_runtime::init_tracing();
    if let Some(reason) = ScratchKafka::unavailable() {
        println!("skipped: {reason}");
        return;
    }
    let kafka = ScratchKafka::start(std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))).expect("scratch broker");
    let brokers = kafka.brokers();
    let (input, out) = ("br-in", "br-out");
    kafka::create_topics(&brokers, &[(input, 3), (out, 3)]).await.unwrap();

    let server = telemetry::serve("127.0.0.1:0".parse().unwrap(), Registry::global()).await.unwrap();
    let addr = server.local_addr;
    let mut cfg = StageConfig::new("br-group", vec![input.to_owned()], Some(out.to_owned()));
    cfg.brokers = brokers.clone();
    cfg.dlq_topic = "br-dlq".to_owned();
    cfg.delivery = kafka::delivery_mode().expect("DOCFLOW_DELIVERY");
    let shutdown = ShutdownSignal::new();
    let run = tokio::spawn(docflow_runtime::run_stage(PassThrough::new("br"), cfg, shutdown.clone()));
    let joined = time_to_status(addr, 200, Duration::from_secs(30)).await;
    println!("ready {joined:?} after start");
    publish(&brokers, input, 0..DOCS / 2);

    kafka.kill9().unwrap();
    let down = time_to_status(addr, 503, Duration::from_secs(10)).await;
    let body = tokio::task::spawn_blocking(move || docflow_testkit::probe::http_get(addr, "/readyz").1).await.unwrap();
    println!("503 {down:?} after the broker's SIGKILL: {body:?}");
    assert!(body.contains("not connected to Kafka"), "{body}");
    // Down for a while, as a real outage would be.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(tokio::task::spawn_blocking(move || docflow_testkit::probe::http_get(addr, "/readyz").0).await.unwrap(), 503, "still down");

    kafka.up().unwrap();
    let back = time_to_status(addr, 200, Duration::from_secs(30)).await;
    println!("200 {back:?} after the broker answered again");
    publish(&brokers, input, DOCS / 2..DOCS);

    let records = kafka::read_topic(&brokers, out, Duration::from_secs(60), |recs| {
        recs.iter().map(|r| r.key.clone()).collect::<HashSet<_>>().len() >= DOCS as usize
    })
    .unwrap();
    let ids: HashSet<_> = records.iter().map(|r| r.key.clone()).collect();
    println!("broker_restart: {} of {DOCS} ids arrived, {} records", ids.len(), records.len());
    assert_eq!(ids.len(), DOCS as usize, "documents lost across the broker restart");

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(30), run).await.expect("stage stops").unwrap().unwrap();
    server.stop();
    assert!(down <= Duration::from_secs(2), "/readyz took {down:?} to say 503 after the broker died (limit 2 s)");
    assert!(back <= Duration::from_secs(5), "/readyz took {back:?} to say 200 after the broker returned (limit 5 s)");
}
