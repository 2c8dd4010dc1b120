//! Acceptance (telemetry): a running stage serves Prometheus
//! `/metrics`, `/healthz` and `/readyz`. A pass-through stage consumes a few
//! hundred documents plus a few garbage records; the test scrapes over a raw
//! TCP GET and checks names (against deploy/observability/metrics.txt),
//! labels, values and the histogram buckets.

use docflow_runtime::telemetry::{self, Registry};
use docflow_runtime::{passthrough::PassThrough, ShutdownSignal, StageConfig, StageMetrics};
use docflow_testkit::kafka;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const DOCS: u64 = 300;
const GARBAGE: u64 = 5;

use docflow_testkit::probe::http_get as get;

/// Sample lines as `series (name{labels}) -> value`.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("malformed sample line {l:?}"));
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("bad value in {l:?}")),
            };
            (series.to_owned(), value)
        })
        .collect()
}

/// The metric contract: name → label names.
fn contract() -> HashMap<String, Vec<String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/observability/metrics.txt");
    let text = std::fs::read_to_string(path).expect("deploy/observability/metrics.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let labels = if f[2] == "-" { vec![] } else { f[2].split(',').map(str::to_owned).collect() };
            (f[0].to_owned(), labels)
        })
        .collect()
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_serves_metrics_health_and_readiness() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let brokers = kafka::brokers();
    let (input, out, dlq) = (kafka::unique("me-in"), kafka::unique("me-out"), kafka::unique("me-dlq"));
    kafka::create_topics(&brokers, &[(&input, 3), (&out, 3), (&dlq, 1)]).await.unwrap();

    let server = telemetry::serve("127.0.0.1:0".parse().unwrap(), Registry::global()).await.unwrap();
    let addr = server.local_addr;
    println!("metrics endpoint on {addr}");

    // Before any stage runs: alive, not ready.
    let a = addr;
    let (h, r) = tokio::task::spawn_blocking(move || (get(a, "/healthz"), get(a, "/readyz"))).await.unwrap();
    assert_eq!(h, (200, "ok\n".to_owned()));
    assert_eq!(r.0, 503, "not ready without a stage: {}", r.1);

    let stage_name = kafka::unique("me-stage");
    let mut cfg = StageConfig::new(kafka::unique("me-group"), vec![input.clone()], Some(out.clone()));
    cfg.brokers = brokers.clone();
    cfg.dlq_topic = dlq.clone();
    cfg.batch_size = 50;
    let metrics = Arc::new(StageMetrics::default());
    let shutdown = ShutdownSignal::new();
    let run = tokio::spawn(docflow_runtime::run_stage_with_metrics(PassThrough::new(stage_name.clone()), cfg, shutdown.clone(), metrics.clone()));

    let (m, input2, sn) = (metrics.clone(), input.clone(), format!("stage=\"{stage_name}\""));
    let body = tokio::task::spawn_blocking(move || {
        // Ready once partitions are assigned.
        wait_for("/readyz 200", Duration::from_secs(15), || get(addr, "/readyz").0 == 200);
        let p = kafka::producer(&brokers).unwrap();
        for seq in 0..DOCS {
            kafka::send_doc(&p, &input2, &kafka::test_doc(seq, 200)).unwrap();
        }
        for i in 0..GARBAGE {
            kafka::send_raw(&p, &input2, format!("junk-{i}").as_bytes(), b"\xff\x00not a docflow record", &[]).unwrap();
        }
        kafka::flush(&p).unwrap();
        wait_for("all records completed", Duration::from_secs(15), || m.completed.load(Ordering::Relaxed) >= DOCS + GARBAGE);
        assert_eq!(get(addr, "/readyz").0, 200, "ready while consuming");
        assert_eq!(get(addr, "/nope").0, 404);
        // Lag comes from librdkafka statistics (every 2 s): one series per
        // assigned partition.
        wait_for("docflow_consumer_lag of 3 partitions", Duration::from_secs(10), || {
            get(addr, "/metrics").1.lines().filter(|l| l.starts_with("docflow_consumer_lag{") && l.contains(&sn)).count() == 3
        });
        let (status, body) = get(addr, "/metrics");
        assert_eq!(status, 200);
        body
    })
    .await
    .unwrap();

    let s = samples(&body);
    let st = format!("stage=\"{stage_name}\"");
    let v = |series: &str| *s.get(series).unwrap_or_else(|| panic!("missing series {series} in:\n{body}"));
    assert_eq!(v(&format!("docflow_records_in_total{{{st}}}")), (DOCS + GARBAGE) as f64);
    assert_eq!(v(&format!("docflow_records_out_total{{{st}}}")), DOCS as f64);
    assert_eq!(v(&format!("docflow_records_failed_total{{{st}}}")), GARBAGE as f64);
    assert_eq!(v(&format!("docflow_in_flight{{{st}}}")), 0.0);
    assert_eq!(v(&format!("docflow_retries_total{{{st}}}")), 0.0);
    assert_eq!(v(&format!("docflow_backpressure_pauses_total{{{st}}}")), 0.0);
    for p in 0..3 {
        let lag = v(&format!("docflow_consumer_lag{{partition=\"{p}\",{st},topic=\"{input}\"}}"));
        assert!(lag <= (DOCS + GARBAGE) as f64, "lag {lag}");
    }
    let util = v(&format!("agent_utilization_ratio{{{st}}}"));
    assert!((0.0..=1.0).contains(&util), "utilisation {util}");
    let dlq_total: f64 = s
        .iter()
        .filter(|(k, _)| k.starts_with("docflow_dlq_records_total{") && k.contains(st.as_str()) && k.contains("reason=\""))
        .map(|(_, v)| *v)
        .sum();
    assert_eq!(dlq_total, GARBAGE as f64, "DLQ records by reason:\n{body}");

    // Histogram: every bucket in order, cumulative, +Inf = count.
    let mut prev = 0.0;
    for (outcome, n) in [("ok", DOCS), ("dead_letter", GARBAGE)] {
        let l = format!("outcome=\"{outcome}\",{st}");
        prev = 0.0;
        for le in ["0.1", "0.5", "1", "2", "5", "10", "+Inf"] {
            let c = v(&format!("document_processing_duration_seconds_bucket{{{l},le=\"{le}\"}}"));
            assert!(c >= prev, "buckets are cumulative at le={le}");
            prev = c;
        }
        assert_eq!(prev, n as f64, "+Inf bucket of {outcome}");
        assert_eq!(v(&format!("document_processing_duration_seconds_count{{{l}}}")), n as f64);
        assert!(v(&format!("document_processing_duration_seconds_sum{{{l}}}")) > 0.0);
    }
    assert!(prev > 0.0);
    assert!(body.contains("# TYPE document_processing_duration_seconds histogram\n"));
    assert!(body.contains("# TYPE docflow_records_in_total counter\n"));
    assert!(body.contains("# TYPE docflow_in_flight gauge\n"));

    // Every exported name and label is in the contract, with its type.
    let contract = contract();
    for line in body.lines().filter(|l| l.starts_with("# TYPE ")) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert!(contract.contains_key(f[2]), "{} is exported but not listed in metrics.txt", f[2]);
    }
    for series in s.keys() {
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        let base = ["_bucket", "_sum", "_count"].iter().find_map(|suf| name.strip_suffix(suf).filter(|b| contract.contains_key(*b))).unwrap_or(name);
        let allowed = &contract[base];
        for pair in labels.trim_end_matches('}').split("\",").filter(|p| !p.is_empty()) {
            let label = pair.split('=').next().unwrap();
            assert!(label == "le" || allowed.iter().any(|a| a == label), "{series}: label {label} not in metrics.txt for {base}");
        }
    }

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(20), run).await.expect("stage stops").unwrap().unwrap();
    // A stopped stage is no longer counted: nothing running, not ready.
    let (status, _) = tokio::task::spawn_blocking(move || get(addr, "/readyz")).await.unwrap();
    assert_eq!(status, 503);
    assert_eq!(tokio::task::spawn_blocking(move || get(addr, "/healthz").0).await.unwrap(), 200);
    server.stop();
}
