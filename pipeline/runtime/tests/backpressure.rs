//! Acceptance: backpressure. An upstream stage with a 20,000-record backlog
//! feeds a deliberately slow downstream stage. The downstream group's lag on
//! the upstream's output topic must stay within the high-water mark plus
//! one batch, and the upstream's RSS must stay flat. When the downstream
//! recovers (a fast replica replaces the slow one), throughput recovers.

mod common;

use common::*;
use docflow_testkit::kafka;
use std::time::{Duration, Instant};

const DOCS: u64 = 20_000;
const HIGH: u64 = 2_000;
const BATCH: u64 = 100;

fn topic_end(topic: &str) -> u64 {
    docflow_runtime::lag::group_lag(&kafka::brokers(), "docflow-test-end-probe", topic, Duration::from_secs(5))
        .map(|l| l.partitions.iter().map(|p| p.high.max(0) as u64).sum())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_downstream_pauses_upstream() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let brokers = kafka::brokers();
    let (input, mid, out) = (kafka::unique("bp-in"), kafka::unique("bp-mid"), kafka::unique("bp-out"));
    kafka::create_topics(&brokers, &[(&input, 4), (&mid, 4), (&out, 4)]).await.unwrap();
    let (up_group, down_group) = (kafka::unique("bp-up"), kafka::unique("bp-down"));
    {
        let p = kafka::producer(&brokers).unwrap();
        for seq in 0..DOCS {
            kafka::send_doc(&p, &input, &kafka::test_doc(seq, 1024)).unwrap();
        }
        kafka::flush(&p).unwrap();
    }

    let up_cfg = fast_failover(&format!(
        "batch_size = {BATCH}\nmax_in_flight = 500\n[backpressure]\ndownstream_group = \"{down_group}\"\nhigh_water = {HIGH}\nlow_water = 500\nmin_pause_ms = 200\ncheck_interval_ms = 100"
    ));
    let mut up = StageProc::spawn("upstream", &args(&["--group", &up_group, "--input", &input, "--output", &mid, "--config", &up_cfg]));
    // ~500 records/s at most: 4 ms of work per record, two workers.
    // Lag is measured from committed offsets: commit often so the measure is fresh.
    let down_cfg = fast_failover("batch_size = 50\ncommit_interval_ms = 200");
    let mut slow = StageProc::spawn("slow-down", &args(&["--group", &down_group, "--input", &mid, "--output", &out, "--delay-us", "4000", "--config", &down_cfg]));

    // Observe for 12 s: downstream lag and upstream RSS.
    let mut max_lag = 0;
    let mut rss = Vec::new();
    let started = Instant::now();
    let mid_at_start = topic_end(&mid);
    while started.elapsed() < Duration::from_secs(12) {
        if let Ok(l) = docflow_runtime::lag::group_lag(&brokers, &down_group, &mid, Duration::from_secs(5)) {
            max_lag = max_lag.max(l.total());
        }
        if started.elapsed() > Duration::from_secs(3) {
            rss.push(docflow_testkit::probe::rss_kib(up.pid()).expect("upstream alive"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let slow_secs = started.elapsed().as_secs_f64();
    let slow_rate = (topic_end(&mid) - mid_at_start) as f64 / slow_secs;
    let (first, last) = (rss[..rss.len() / 2].iter().max().copied().unwrap(), rss[rss.len() / 2..].iter().max().copied().unwrap());
    println!("backpressure: max downstream lag {max_lag} (high water {HIGH}, batch {BATCH}); upstream rate while slow {slow_rate:.0}/s; RSS KiB first half max {first}, second half max {last}");
    assert!(up.is_running(), "{}", up.log_tail());
    assert!(max_lag > HIGH / 2, "the test must actually push the downstream to its high-water mark (lag {max_lag})");
    assert!(max_lag <= HIGH + BATCH, "downstream lag {max_lag} exceeded high water + one batch\n{}", up.log_tail());
    assert!(last <= first + first / 5 + 8 * 1024, "upstream RSS grew: {first} → {last} KiB");
    assert!(topic_end(&mid) < DOCS, "the upstream is held back, not finished");

    // Recovery: replace the slow replica by a fast one.
    assert!(slow.stop(Duration::from_secs(30)).success());
    let out_before = topic_end(&out);
    let mut fast = StageProc::spawn("fast-down", &args(&["--group", &down_group, "--input", &mid, "--output", &out, "--config", &down_cfg]));
    // Once the fast replica is working, measure the upstream over 3 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    while topic_end(&out) < out_before + 500 {
        assert!(Instant::now() < deadline, "fast downstream did not start:\n{}", fast.log_tail());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (window_start, mid_before) = (Instant::now(), topic_end(&mid));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let fast_rate = (topic_end(&mid) - mid_before) as f64 / window_start.elapsed().as_secs_f64();
    let records = tokio::task::spawn_blocking({
        let out = out.clone();
        move || read_until_ids(&out, DOCS as usize, Duration::from_secs(90))
    })
    .await
    .unwrap();
    println!("backpressure: after recovery the upstream moved {:.0} records/s (was {slow_rate:.0}/s while throttled)", fast_rate);
    assert_eq!(id_counts(&records).len(), DOCS as usize, "nothing lost");
    assert!(fast_rate > 1.5 * slow_rate, "throughput recovers ({fast_rate:.0}/s vs {slow_rate:.0}/s)");
    assert!(up.stop(Duration::from_secs(30)).success());
    assert!(fast.stop(Duration::from_secs(30)).success());
}
