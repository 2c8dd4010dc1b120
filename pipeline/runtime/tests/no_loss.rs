//! Acceptance: no loss, bounded duplicates. 20,000 documents go through a
//! chain of two stage processes (in → A → mid → B → out) while A is
//! `kill -9`ed at random moments three times and restarted. Every id must
//! reach `out`; duplicates (replays) are counted and printed.

mod common;

use common::*;
use docflow_testkit::kafka;
use rand::Rng;
use std::time::{Duration, Instant};

const DOCS: u64 = 20_000;
const BODY: usize = 256;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_three_times_loses_nothing() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let brokers = kafka::brokers();
    let (input, mid, out) = (kafka::unique("nl-in"), kafka::unique("nl-mid"), kafka::unique("nl-out"));
    let dlq = kafka::unique("nl-dlq");
    kafka::create_topics(&brokers, &[(&input, 6), (&mid, 6), (&out, 6), (&dlq, 1)]).await.unwrap();
    let (group_a, group_b) = (kafka::unique("nl-a"), kafka::unique("nl-b"));
    let cfg = fast_failover(&format!("dlq_topic = \"{dlq}\"\nbatch_size = 200"));
    let a_args = args(&["--group", &group_a, "--input", &input, "--output", &mid, "--config", &cfg]);
    let b_args = args(&["--group", &group_b, "--input", &mid, "--output", &out, "--config", &cfg]);
    let mut a = StageProc::spawn("stage-a", &a_args);
    let mut b = StageProc::spawn("stage-b", &b_args);

    // Publish steadily over ~8 s so the kills land mid-stream.
    let publisher = {
        let (brokers, input) = (brokers.clone(), input.clone());
        std::thread::spawn(move || {
            let p = kafka::producer(&brokers).unwrap();
            let start = Instant::now();
            for seq in 0..DOCS {
                kafka::send_doc(&p, &input, &kafka::test_doc(seq, BODY)).unwrap();
                // 2,500 docs/s
                let due = Duration::from_micros(seq * 400);
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            kafka::flush(&p).unwrap();
        })
    };

    let mut rng = rand::rng();
    for round in 1..=3 {
        tokio::time::sleep(Duration::from_millis(rng.random_range(1_500..3_000))).await;
        assert!(a.is_running(), "stage A died on its own:\n{}", a.log_tail());
        println!("kill -9 of stage A, round {round}");
        a.kill9();
        a = StageProc::spawn("stage-a", &a_args);
    }
    publisher.join().unwrap();

    let records = read_until_ids(&out, DOCS as usize, Duration::from_secs(120));
    let counts = id_counts(&records);
    let missing: Vec<String> = (0..DOCS).map(|s| kafka::test_doc(s, 0).id).filter(|id| !counts.contains_key(id)).collect();
    let duplicates = records.len() - counts.len();
    println!("no_loss: {} documents, {} records in output, {} distinct, {duplicates} duplicates from replays", DOCS, records.len(), counts.len());
    assert!(missing.is_empty(), "{} ids lost, e.g. {:?}\nA:\n{}\nB:\n{}", missing.len(), &missing[..missing.len().min(5)], a.log_tail(), b.log_tail());
    assert_eq!(counts.len(), DOCS as usize, "no foreign ids");
    // Outputs are intact copies of their inputs.
    for r in records.iter().step_by(97) {
        let d = doc(r);
        assert_eq!(d.body, kafka::test_doc(d.seq, BODY).body);
        assert_eq!(r.key.as_deref(), Some(d.id.as_bytes()));
    }

    // Clean stops drain and commit everything: both groups end with no lag.
    assert!(a.stop(Duration::from_secs(30)).success(), "A:\n{}", a.log_tail());
    assert!(b.stop(Duration::from_secs(30)).success(), "B:\n{}", b.log_tail());
    assert_eq!(wait_lag_zero(&group_a, &input, Duration::from_secs(10)), 0, "A committed everything on shutdown");
    // B's input was written by A, in transactions in exactly-once mode.
    assert_eq!(unconsumed(&group_b, &mid, Duration::from_secs(3)), 0, "B committed everything on shutdown");
    let dead = kafka::read_topic(&brokers, &dlq, Duration::from_secs(2), |_| false).unwrap();
    assert!(dead.is_empty(), "no dead letters expected, got {}", dead.len());
}
