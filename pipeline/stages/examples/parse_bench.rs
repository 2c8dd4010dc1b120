//! Documents/s and CPU per document through the real parse stage on the
//! configured Kafka, with telemetry as the `OTEL_*` variables say: the
//! telemetry-overhead measurement on a real stage.
//!
//! `cargo run --release -p docflow-stages --example parse_bench -- 20000`
//! (telemetry off), then the same with
//! `OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:14317` and the counting
//! receiver `cargo run --release -p docflow-runtime --example otlp_sink -- 127.0.0.1:14317`.
//!
//! Preloads N generated documents (the load-test corpus: invoices,
//! receipts, emails, contracts in text, HTML, JSON and e-mail; PDF too with
//! a second argument `all`; without PDFs, whose parse takes milliseconds,
//! the runtime's and telemetry's share per document is the largest) into a
//! fresh topic, then times the stage from its first consumed record until
//! every output is acknowledged; CPU is this process's user + system time
//! over the same window (stage, librdkafka threads and the OTLP export).

use docflow_corpus::{Corpus, CorpusConfig, DocFormat};
use docflow_runtime::{ShutdownSignal, StageConfig, StageMetrics};
use docflow_testkit::kafka;
use docflow_schemas::{encode, Limits, HEADER_CODEC, HEADER_SCHEMA};
use docflow_stages::{ParseStage, ParseStageConfig};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(20_000);
    let formats = match std::env::args().nth(2).as_deref() {
        Some("all") => DocFormat::ALL.to_vec(),
        _ => DocFormat::ALL.into_iter().filter(|f| *f != DocFormat::Pdf).collect(),
    };
    let telemetry = docflow_runtime::telemetry::init_from_env("warn")?;
    let brokers = kafka::brokers();
    kafka::kafka_reachable(&brokers).map_err(anyhow::Error::msg)?;
    let p = kafka::unique("pbench");
    let (input, output, dlq) = (format!("{p}.docs.raw.normal"), format!("{p}.docs.parsed"), format!("{p}.docs.dlq"));
    kafka::create_topics(&brokers, &[(&input, 4), (&output, 4), (&dlq, 1)]).await?;

    let (b, topic) = (brokers.clone(), input.clone());
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let producer = kafka::producer(&b)?;
        let schema = docflow_schemas::schema_header_value();
        let corpus = Corpus::new(CorpusConfig { id_prefix: p.clone(), formats, ..Default::default() });
        for doc in corpus.take(n as usize) {
            let enc = encode(&doc.raw, &Limits::DEFAULT)?;
            let headers = [(HEADER_CODEC, enc.codec.header_value().as_bytes()), (HEADER_SCHEMA, schema.as_bytes())];
            kafka::send_raw(&producer, &topic, doc.raw.id.as_bytes(), &enc.bytes, &headers)?;
        }
        Ok(kafka::flush(&producer)?)
    })
    .await??;

    let mut cfg = StageConfig::new(kafka::unique("pbench-group"), vec![input], Some(output));
    cfg.brokers = brokers;
    cfg.dlq_topic = dlq;
    let metrics = Arc::new(StageMetrics::default());
    let shutdown = ShutdownSignal::new();
    let run = tokio::spawn(docflow_runtime::run_stage_with_metrics(ParseStage::new(ParseStageConfig::default()), cfg, shutdown.clone(), metrics.clone()));
    let (mut first, mut cpu_first) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(600);
    while metrics.completed.load(Ordering::Relaxed) < n {
        if first.is_none() && metrics.consumed.load(Ordering::Relaxed) > 0 {
            first = Some(Instant::now());
            cpu_first = Some(cpu_secs());
        }
        anyhow::ensure!(Instant::now() < deadline && !run.is_finished(), "the parse stage stopped or stalled");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (secs, cpu) = (first.map_or(0.0, |t| t.elapsed().as_secs_f64()), cpu_first.map_or(0.0, |c| cpu_secs() - c));
    shutdown.trigger();
    run.await??;
    println!(
        "parse stage: {n} documents in {secs:.2} s = {:.0} docs/s; CPU {:.1} µs/document; dead-lettered {} (telemetry: {})",
        n as f64 / secs,
        cpu * 1e6 / n as f64,
        metrics.dead_lettered.load(Ordering::Relaxed),
        match (telemetry.exporting(), docflow_runtime::telemetry::sample_ratio()) {
            ((false, false), _) => "off".to_owned(),
            (_, ratio) => format!("OTLP export on, head sampling {}", ratio.unwrap_or(0.0)),
        }
    );
    tokio::task::spawn_blocking(move || drop(telemetry)).await?;
    Ok(())
}

/// User + system CPU seconds of this process (`getrusage(RUSAGE_SELF)`
/// as Linux reports it in `/proc/self/stat`, 10 ms ticks).
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}
