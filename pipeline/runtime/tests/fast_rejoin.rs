//! Acceptance: fast rejoin with the default static group membership.
//! - A stage process `kill -9`ed and restarted at once gets its partitions
//!   back within 2 s (the default session timeout is 10 s: without a stable
//!   `group.instance.id` the dead member would hold them that long), and the
//!   output pauses for at most 5 s; nothing is lost.
//! - A second replica on the same host gets a different instance id (no
//!   fencing), and when it is stopped (SIGTERM) it leaves the group: the
//!   first replica takes its partitions over within 3 s, not after the
//!   session timeout.

mod common;

use common::*;
use docflow_testkit::kafka;
use std::time::{Duration, Instant};

const DOCS: u64 = 2_400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_and_restart_rejoins_at_once_and_a_planned_stop_leaves() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let brokers = kafka::brokers();
    let (input, out) = (kafka::unique("fr-in"), kafka::unique("fr-out"));
    kafka::create_topics(&brokers, &[(&input, 4), (&out, 4)]).await.unwrap();
    let group = kafka::unique("fr-group");
    // Default membership and session settings: nothing here shortens them.
    let a = args(&["--group", &group, "--input", &input, "--output", &out, "--config", "batch_size = 50"]);
    let assigned = ["partitions assigned"];
    let all4 = ["partitions assigned", "partitions=4"];

    let mut p1 = StageProc::spawn("fr-1", &a);
    assert!(p1.wait_log(&all4, 0, Duration::from_secs(30)).is_some(), "p1 joined:\n{}", p1.log_tail());
    assert!(p1.log_lines(&["stage started", "instance="]).iter().all(|l| !l.contains("(dynamic)")), "static by default");

    let publisher = publish_steadily(brokers.clone(), input.clone(), DOCS, 200); // 12 s

    tokio::time::sleep(Duration::from_secs(3)).await;
    p1.kill9();
    let restarted_at = Instant::now();
    let p1b = StageProc::spawn("fr-1", &a);
    let rejoin = p1b.wait_log(&all4, 0, Duration::from_secs(30)).map(|_| restarted_at.elapsed());
    println!("fast_rejoin: kill -9 + restart: all 4 partitions back after {rejoin:?}");

    // A second replica, then a planned stop of it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut p2 = StageProc::spawn("fr-2", &a);
    assert!(p2.wait_log(&assigned, 0, Duration::from_secs(30)).is_some(), "p2 joined:\n{}", p2.log_tail());
    let id1 = p1b.log_lines(&["stage started"]).join("");
    let id2 = p2.log_lines(&["stage started"]).join("");
    assert!(id2.contains("-1 ") || id2.contains("-1\""), "the second replica on this host takes slot 1: {id2} vs {id1}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = p1b.log_lines(&assigned).len();
    let stopping = Instant::now();
    assert!(p2.stop(Duration::from_secs(30)).success(), "p2:\n{}", p2.log_tail());
    let handover = p1b.wait_log(&assigned, before, Duration::from_secs(20)).map(|_| stopping.elapsed());
    println!("fast_rejoin: planned stop of the second replica: partitions handed over after {handover:?}");
    publisher.join().unwrap();

    let records = read_until_ids(&out, DOCS as usize, Duration::from_secs(60));
    let counts = id_counts(&records);
    let mut stamps: Vec<i64> = records.iter().filter_map(|r| r.timestamp_ms).collect();
    stamps.sort_unstable();
    let pause = stamps.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    println!(
        "fast_rejoin: {} of {DOCS} ids, {} duplicates, longest pause between outputs {pause} ms",
        counts.len(),
        records.len() - counts.len()
    );
    let mut p1b = p1b;
    assert!(p1b.stop(Duration::from_secs(30)).success());
    assert_eq!(counts.len(), DOCS as usize, "ids lost");
    let rejoin = rejoin.expect("the restarted process got its partitions back");
    assert!(rejoin <= Duration::from_secs(2), "partitions back after {rejoin:?} (limit 2 s)");
    assert!(pause <= 5_000, "outputs paused {pause} ms (limit 5 s)");
    let handover = handover.expect("the stopped replica's partitions were handed over");
    assert!(handover <= Duration::from_secs(3), "handover after {handover:?}: the stopped replica did not leave the group");
}
