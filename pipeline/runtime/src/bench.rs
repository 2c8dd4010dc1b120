//! The runtime benchmark: records/s through one pass-through stage with a
//! real broker. Preloads the input topic, then runs the stage in this
//! process and times from its first consumed record until every record's
//! output is acknowledged (so decode, process, encode, produce with
//! acks=all and offset tracking are all inside the figure).
//!
//! Run: `cargo run --release -p docflow-bench --bin docflow-runtime-bench`
//! (or `docflow bench runtime`); both parse their flags into [`BenchSettings`].

use crate::config::{DeliveryMode, StageConfig};
use crate::metrics::StageMetrics;
use crate::passthrough::PassThrough;
use crate::shutdown::ShutdownSignal;
use crate::testdata;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchSettings {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// Records to push through the stage.
    pub records: u64,
    /// Body size of each record in bytes.
    pub size: usize,
    /// Partitions of the benchmark topics.
    pub partitions: i32,
    /// Stage batch size.
    pub batch_size: usize,
    /// Stage worker count.
    pub concurrency: usize,
    /// At-least-once or exactly-once (Kafka transactions).
    pub delivery: DeliveryMode,
}

/// Why the benchmark gave no figure.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    KafkaUnreachable(String),
    /// Creating the topics or preloading the input failed.
    #[error("{step}")]
    Setup { step: &'static str, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("benchmark stage stopped or stalled")]
    Stalled,
    /// The stage itself ended with an error.
    #[error(transparent)]
    Stage(Box<dyn std::error::Error + Send + Sync>),
}

impl BenchError {
    fn setup(step: &'static str) -> impl FnOnce(testdata::TestDataError) -> Self {
        move |e| Self::Setup { step, source: e.into() }
    }
}

/// What the benchmark measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub records: u64,
    pub record_bytes: usize,
    /// Seconds to preload the input topic (test producer).
    pub preload_secs: f64,
    /// Seconds from the stage's first consumed record to the last ack.
    pub stage_secs: f64,
    /// Seconds from stage start (including joining the group).
    pub total_secs: f64,
    /// CPU seconds (user + system) this process spent over `stage_secs`:
    /// the stage, librdkafka's threads and, when on, the telemetry export.
    /// Steadier than records/s on a shared machine.
    pub stage_cpu_secs: Option<f64>,
}

impl BenchReport {
    pub fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.stage_secs
    }

    /// CPU microseconds per record (see `stage_cpu_secs`).
    pub fn cpu_us_per_record(&self) -> Option<f64> {
        self.stage_cpu_secs.map(|c| c * 1e6 / self.records as f64)
    }

    pub fn mib_per_sec(&self) -> f64 {
        self.records_per_sec() * self.record_bytes as f64 / (1 << 20) as f64
    }
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pass-through stage: {} records of {} B in {:.2} s = {:.0} records/s ({:.1} MiB/s); with group join {:.2} s; preload {:.2} s",
            self.records,
            self.record_bytes,
            self.stage_secs,
            self.records_per_sec(),
            self.mib_per_sec(),
            self.total_secs,
            self.preload_secs
        )?;
        if let Some(us) = self.cpu_us_per_record() {
            write!(f, "; CPU {us:.1} µs/record")?;
        }
        Ok(())
    }
}

/// Run the benchmark (creates two fresh topics named `bench-*`).
pub async fn run_bench(args: &BenchSettings) -> Result<BenchReport, BenchError> {
    testdata::kafka_reachable(&args.brokers).map_err(BenchError::KafkaUnreachable)?;
    let input = testdata::unique("bench-in");
    let output = testdata::unique("bench-out");
    testdata::create_topics(&args.brokers, &[(&input, args.partitions), (&output, args.partitions)])
        .await
        .map_err(BenchError::setup("creating the benchmark topics"))?;

    let t0 = Instant::now();
    {
        let (brokers, input, n, size) = (args.brokers.clone(), input.clone(), args.records, args.size);
        tokio::task::spawn_blocking(move || -> Result<(), testdata::TestDataError> {
            let p = testdata::producer(&brokers)?;
            for seq in 0..n {
                testdata::send_doc(&p, &input, &testdata::test_doc(seq, size))?;
            }
            testdata::flush(&p)
        })
        .await
        .map_err(|e| BenchError::Setup { step: "preloading the input topic", source: e.into() })?
        .map_err(BenchError::setup("preloading the input topic"))?;
    }
    let preload_secs = t0.elapsed().as_secs_f64();

    let mut cfg = StageConfig::new(testdata::unique("bench-group"), vec![input.clone()], Some(output.clone()));
    cfg.brokers = args.brokers.clone();
    cfg.batch_size = args.batch_size;
    cfg.concurrency = args.concurrency;
    cfg.delivery = args.delivery;
    let metrics = Arc::new(StageMetrics::default());
    let shutdown = ShutdownSignal::new();
    let started = Instant::now();
    let run = tokio::spawn(crate::run_stage_with_metrics(PassThrough::new("bench"), cfg, shutdown.clone(), metrics.clone()));

    let mut first_at: Option<Instant> = None;
    let mut cpu_at_first = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    while metrics.completed.load(Ordering::Relaxed) < args.records {
        if first_at.is_none() && metrics.consumed.load(Ordering::Relaxed) > 0 {
            first_at = Some(Instant::now());
            cpu_at_first = process_cpu_secs();
        }
        if Instant::now() >= deadline || run.is_finished() {
            return Err(BenchError::Stalled);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let done = Instant::now();
    let stage_cpu_secs = cpu_at_first.zip(process_cpu_secs()).map(|(a, b)| b - a);
    shutdown.trigger();
    run.await.map_err(|e| BenchError::Stage(e.into()))?.map_err(|e| BenchError::Stage(e.into()))?;
    let first = first_at.unwrap_or(started);
    Ok(BenchReport {
        records: args.records,
        record_bytes: args.size,
        preload_secs,
        stage_secs: done.duration_since(first).as_secs_f64(),
        total_secs: done.duration_since(started).as_secs_f64(),
        stage_cpu_secs,
    })
}

/// User + system CPU seconds of this process so far (Linux `/proc`, clock
/// ticks of 10 ms), if readable.
fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
