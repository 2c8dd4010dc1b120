//! Acceptance: rebalance. A second and a third process of the same stage
//! join mid-stream, then one is stopped: nothing is lost, the partitions are
//! spread over the processes, and the lag drains.

mod common;

use common::*;
use docflow_runtime::passthrough::PROCESSED_BY;
use docflow_testkit::kafka;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const DOCS: u64 = 24_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_join_and_leave_without_loss() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let brokers = kafka::brokers();
    let (input, out) = (kafka::unique("rb-in"), kafka::unique("rb-out"));
    kafka::create_topics(&brokers, &[(&input, 6), (&out, 6)]).await.unwrap();
    let group = kafka::unique("rb-group");
    let cfg = fast_failover("batch_size = 100");
    // A little work per record so that every replica gets a share.
    let proc_args = |tag: &str| args(&["--group", &group, "--input", &input, "--output", &out, "--delay-us", "200", "--tag", tag, "--config", &cfg]);

    let publisher = {
        let (brokers, input) = (brokers.clone(), input.clone());
        std::thread::spawn(move || {
            let p = kafka::producer(&brokers).unwrap();
            let start = Instant::now();
            for seq in 0..DOCS {
                kafka::send_doc(&p, &input, &kafka::test_doc(seq, 200)).unwrap();
                let due = Duration::from_micros(seq * 500); // 2,000 docs/s for 12 s
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            kafka::flush(&p).unwrap();
        })
    };

    let mut p1 = StageProc::spawn("p1", &proc_args("p1"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut p2 = StageProc::spawn("p2", &proc_args("p2"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut p3 = StageProc::spawn("p3", &proc_args("p3"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    println!("stopping p2 (SIGTERM)");
    assert!(p2.stop(Duration::from_secs(30)).success(), "p2:\n{}", p2.log_tail());
    publisher.join().unwrap();

    let records = read_until_ids(&out, DOCS as usize, Duration::from_secs(90));
    let counts = id_counts(&records);
    let mut by_proc: HashMap<String, usize> = HashMap::new();
    for r in &records {
        *by_proc.entry(r.header(PROCESSED_BY).unwrap_or("?").to_owned()).or_insert(0) += 1;
    }
    println!("rebalance: {} distinct of {DOCS}, {} duplicates, per process {by_proc:?}", counts.len(), records.len() - counts.len());
    assert_eq!(counts.len(), DOCS as usize, "ids lost\np1:\n{}\np3:\n{}", p1.log_tail(), p3.log_tail());
    for p in ["p1", "p2", "p3"] {
        assert!(by_proc.get(p).copied().unwrap_or(0) > 0, "{p} processed nothing: partitions not spread ({by_proc:?})");
    }
    // The remaining replicas drain the lag while running.
    let lag = wait_lag_zero(&group, &input, Duration::from_secs(30));
    assert_eq!(lag, 0, "lag drains with two replicas");
    assert!(p1.is_running() && p3.is_running());
    assert!(p1.stop(Duration::from_secs(30)).success());
    assert!(p3.stop(Duration::from_secs(30)).success());
}
