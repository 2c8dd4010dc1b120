//! Acceptance: priority lanes. With a backlog in `normal`, documents
//! published to `critical` are processed first: their latency is a small
//! fraction of that of `normal` documents published at the same moment.
//! The `low` lane is not starved.

mod common;

use common::*;
use docflow_testkit::kafka;
use std::time::Duration;

const BACKLOG: u64 = 16_000;
const BURST: u64 = 200;
const LOW: u64 = 100;

fn percentile(mut v: Vec<i64>, p: f64) -> i64 {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p) as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn critical_overtakes_a_normal_backlog() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let brokers = kafka::brokers();
    let lanes: Vec<String> = ["crit", "high", "normal", "low"].iter().map(|l| kafka::unique(&format!("pr-{l}"))).collect();
    let out = kafka::unique("pr-out");
    let mut topics: Vec<(&str, i32)> = lanes.iter().map(|t| (t.as_str(), 3)).collect();
    topics.push((&out, 3));
    kafka::create_topics(&brokers, &topics).await.unwrap();
    let p = kafka::producer(&brokers).unwrap();
    for seq in 0..BACKLOG {
        kafka::send_doc(&p, &lanes[2], &kafka::test_doc(seq, 512)).unwrap();
    }
    for seq in 0..LOW {
        let mut d = kafka::test_doc(seq, 512);
        d.id = format!("low-{seq}");
        kafka::send_doc(&p, &lanes[3], &d).unwrap();
    }
    kafka::flush(&p).unwrap();

    // ~4,000 records/s: 0.5 ms of work per record, two workers.
    let cfg = fast_failover("batch_size = 50\nmax_in_flight = 500");
    let mut stage = StageProc::spawn("lanes", &args(&["--group", &kafka::unique("pr-group"), "--input", &lanes.join(","), "--output", &out, "--delay-us", "500", "--config", &cfg]));

    // Once the backlog is being worked on, publish a burst to critical and,
    // at the same moment, markers to normal (behind the backlog).
    let started = std::time::Instant::now();
    loop {
        let done = docflow_runtime::lag::group_lag(&brokers, "pr-probe", &out, Duration::from_secs(5)).map(|l| l.partitions.iter().map(|p| p.high).sum::<i64>()).unwrap_or(0);
        if done >= 1_000 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60) && stage.is_running(), "stage did not start:\n{}", stage.log_tail());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for i in 0..BURST {
        let mut c = kafka::test_doc(i, 512);
        c.id = format!("crit-{i}");
        kafka::send_doc(&p, &lanes[0], &c).unwrap();
        let mut n = kafka::test_doc(i, 512);
        n.id = format!("nmark-{i}");
        kafka::send_doc(&p, &lanes[2], &n).unwrap();
    }
    kafka::flush(&p).unwrap();

    let total = (BACKLOG + LOW + 2 * BURST) as usize;
    let records = tokio::task::spawn_blocking({
        let out = out.clone();
        move || read_until_ids(&out, total, Duration::from_secs(120))
    })
    .await
    .unwrap();
    assert_eq!(id_counts(&records).len(), total, "everything processed, low lane included\n{}", stage.log_tail());
    let latency = |prefix: &str| -> Vec<i64> {
        records
            .iter()
            .filter(|r| r.key.as_deref().is_some_and(|k| k.starts_with(prefix.as_bytes())))
            .map(|r| r.timestamp_ms.unwrap() - doc(r).created_at_ms)
            .collect()
    };
    let (crit, normal) = (latency("crit-"), latency("nmark-"));
    let (c50, c95, n50) = (percentile(crit.clone(), 0.5), percentile(crit, 0.95), percentile(normal, 0.5));
    println!("priority: critical p50 {c50} ms p95 {c95} ms; normal published at the same time p50 {n50} ms; ratio p50 {:.3}", c50 as f64 / n50 as f64);
    assert!(n50 > 1_000, "the normal backlog must be real (normal p50 {n50} ms)");
    assert!(c95 * 4 < n50, "critical must overtake the backlog: critical p95 {c95} ms vs normal p50 {n50} ms");
    assert!(stage.stop(Duration::from_secs(30)).success());
}
