//! `steady` mode: a constant offered rate for a fixed duration, then a
//! deadline for stragglers, then the report. [`run_steady`] is what the
//! `loadtest` binary and `docflow loadtest steady` call; [`SteadyArgs`] is
//! the clap form of [`SteadyOptions`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::producer::FutureProducer;
use rdkafka::ClientConfig;

use crate::follower::Follower;
use crate::ledger::Ledger;
use crate::publisher::{publish, PublishPlan};
use crate::report::{Report, RunInfo, TopicsUsed};
use crate::topics::{PriorityMix, Topics};

/// Everything a steady run needs.
#[derive(Debug, Clone)]
pub struct SteadyOptions {
    pub brokers: String,
    /// Documents per second.
    pub rate: f64,
    pub duration: Duration,
    /// How long after the last scheduled send a document may still arrive
    /// before it counts as lost.
    pub deadline: Duration,
    /// Where `report.json` / `report.md` go; `None` writes nothing.
    pub out_dir: Option<PathBuf>,
    pub seed: u64,
    pub anomaly_rate: f64,
    pub topics: Topics,
    pub mix: PriorityMix,
    /// Document id prefix; `None` picks a unique one per run (`lt<time>`).
    pub id_prefix: Option<String>,
    /// Print the live progress line on stderr.
    pub progress: bool,
}

impl SteadyOptions {
    /// Defaults for `rate` × `duration` against `brokers` and the standard topics.
    pub fn new(brokers: &str, rate: f64, duration: Duration) -> Self {
        Self {
            brokers: brokers.into(),
            rate,
            duration,
            deadline: Duration::from_secs(30),
            out_dir: None,
            seed: 42,
            anomaly_rate: 0.0,
            topics: Topics::default(),
            mix: PriorityMix::default(),
            id_prefix: None,
            progress: false,
        }
    }
}

/// `loadtest steady …` / `docflow loadtest steady …`.
#[derive(Debug, Clone, clap::Args)]
pub struct SteadyArgs {
    /// Offered load, documents per second.
    #[arg(long)]
    pub rate: f64,
    /// How long to publish, seconds.
    #[arg(long)]
    pub duration_secs: f64,
    /// Kafka bootstrap servers.
    #[arg(long, env = "DOCFLOW_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub brokers: String,
    /// Seconds after the last scheduled send before unseen documents count as lost.
    #[arg(long, default_value_t = 30.0)]
    pub deadline_secs: f64,
    /// Directory for report.json and report.md.
    #[arg(long, default_value = "loadtest-report")]
    pub out: PathBuf,
    /// Corpus seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Probability of each planted anomaly kind per document.
    #[arg(long, default_value_t = 0.0)]
    pub anomaly_rate: f64,
    /// Lane weights, e.g. `critical=2,high=8,normal=80,low=10`.
    #[arg(long, default_value_t = PriorityMix::default())]
    pub priority_mix: PriorityMix,
    /// Prefix for every topic name (`<prefix>docs.raw.normal`, …).
    #[arg(long, default_value = "")]
    pub topic_prefix: String,
    /// Explicit raw topic for every lane (overrides the prefix for raw topics).
    #[arg(long)]
    pub raw_topic: Option<String>,
    /// Explicit results topic.
    #[arg(long)]
    pub results_topic: Option<String>,
    /// Explicit dead-letter topic.
    #[arg(long)]
    pub dlq_topic: Option<String>,
    /// Document id prefix (default: unique per run).
    #[arg(long)]
    pub id_prefix: Option<String>,
    /// No live progress line.
    #[arg(long)]
    pub quiet: bool,
}

impl SteadyArgs {
    /// The options these arguments describe.
    pub fn options(&self) -> anyhow::Result<SteadyOptions> {
        anyhow::ensure!(self.duration_secs.is_finite() && self.duration_secs > 0.0, "--duration-secs must be > 0");
        anyhow::ensure!(self.deadline_secs.is_finite() && self.deadline_secs >= 0.0, "--deadline-secs must be >= 0");
        anyhow::ensure!((0.0..=1.0).contains(&self.anomaly_rate), "--anomaly-rate must be in [0, 1]");
        let mut topics = Topics::with_prefix(&self.topic_prefix);
        if let Some(raw) = &self.raw_topic {
            for (_, t) in &mut topics.raw {
                t.clone_from(raw);
            }
        }
        if let Some(r) = &self.results_topic {
            topics.results.clone_from(r);
        }
        if let Some(d) = &self.dlq_topic {
            topics.dlq.clone_from(d);
        }
        Ok(SteadyOptions {
            brokers: self.brokers.clone(),
            rate: self.rate,
            duration: Duration::from_secs_f64(self.duration_secs),
            deadline: Duration::from_secs_f64(self.deadline_secs),
            out_dir: Some(self.out.clone()),
            seed: self.seed,
            anomaly_rate: self.anomaly_rate,
            topics,
            mix: self.priority_mix.clone(),
            id_prefix: self.id_prefix.clone(),
            progress: !self.quiet,
        })
    }
}

/// Runs the steady scenario and returns (and, with `out_dir`, writes) the report.
pub async fn run_steady(opts: SteadyOptions) -> anyhow::Result<Report> {
    anyhow::ensure!(opts.rate.is_finite() && opts.rate > 0.0, "rate must be > 0, got {}", opts.rate);
    let count = (opts.rate * opts.duration.as_secs_f64()).round().max(1.0) as u64;
    let id_prefix = opts.id_prefix.clone().unwrap_or_else(|| format!("lt{}", chrono::Utc::now().format("%Y%m%d%H%M%S%3f")));
    let ledger = Arc::new(Ledger::new());

    // Position the follower first: everything published later is after these offsets.
    let (brokers, results, dlq) = (opts.brokers.clone(), opts.topics.results.clone(), opts.topics.dlq.clone());
    let follower = tokio::task::spawn_blocking(move || Follower::at_end(&brokers, &results, &dlq))
        .await?
        .with_context(|| format!("following {} / {} on {}", opts.topics.results, opts.topics.dlq, opts.brokers))?;
    let stop = Arc::new(AtomicBool::new(false));
    let follow_thread = {
        let (l, s) = (ledger.clone(), stop.clone());
        std::thread::Builder::new().name("loadtest-follow".into()).spawn(move || follower.run(l, s))?
    };

    let progress = opts.progress.then(|| {
        let (l, s) = (ledger.clone(), stop.clone());
        tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                eprint!("\r{}", progress_line(&l));
            }
            eprintln!();
        })
    });

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &opts.brokers)
        .set("linger.ms", "5")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "30000")
        .create()
        .context("creating the producer")?;
    let plan = PublishPlan {
        rate: opts.rate,
        count,
        seed: opts.seed,
        anomaly_rate: opts.anomaly_rate,
        id_prefix,
        mix: opts.mix.clone(),
        topics: opts.topics.clone(),
    };
    let published = publish(&producer, ledger.clone(), &plan).await;

    // Wait for stragglers until the deadline after the last scheduled send;
    // if everything is in early, linger briefly to catch duplicates.
    let last_scheduled = Instant::now();
    let deadline = last_scheduled + opts.deadline;
    while published.is_ok() && Instant::now() < deadline && ledger.outstanding() > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if published.is_ok() && ledger.outstanding() == 0 {
        let grace = Instant::now() + Duration::from_secs(1).min(opts.deadline);
        tokio::time::sleep_until(grace.into()).await;
    }
    stop.store(true, Ordering::Relaxed);
    let _ = follow_thread.join();
    if let Some(p) = progress {
        let _ = p.await;
    }
    published.context("publishing")?;

    let report = Report::build(
        &ledger,
        RunInfo {
            mode: "steady".into(),
            target_rate: opts.rate,
            duration_secs: opts.duration.as_secs_f64(),
            deadline_secs: opts.deadline.as_secs_f64(),
            topics: TopicsUsed {
                raw: opts.mix.weights.iter().filter_map(|(l, _)| opts.topics.raw_topic(l).map(String::from)).collect(),
                results: opts.topics.results.clone(),
                dlq: opts.topics.dlq.clone(),
            },
        },
    );
    if let Some(dir) = &opts.out_dir {
        report.write(dir).with_context(|| format!("writing the report to {}", dir.display()))?;
    }
    Ok(report)
}

/// `published N delivered N dlq N outstanding N p99 X ms`.
fn progress_line(l: &Ledger) -> String {
    let outstanding = l.outstanding();
    l.with(|s| {
        format!(
            "published {} delivered {} dlq {} outstanding {} dup {} p99 {:.1} ms   ",
            s.published,
            s.delivered,
            s.dead_lettered,
            outstanding,
            s.duplicates,
            s.latency_us.value_at_quantile(0.99) as f64 / 1000.0
        )
    })
}
