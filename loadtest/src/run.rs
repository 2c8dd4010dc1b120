//! The run engine every mode shares: start the managed stage processes (if
//! any), position the follower, start the sampler and the chaos threads,
//! publish the mode's schedule open-loop (ramp: judging each step as it
//! ends and stopping at the first that misses the SLO), wait for
//! stragglers up to the deadline, stop everything, close the books.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::producer::FutureProducer;
use rdkafka::ClientConfig;

use crate::chaos::{ChaosLog, ChaosPlan};
use crate::follower::Follower;
use crate::hops::{HopBook, HopFollower};
use crate::ledger::Ledger;
use crate::procs::{StageSpec, Supervisor, WatchMetrics, WatchPid};
use crate::publisher::{publish, PublishPlan};
use crate::report::{Extras, RampResult, Report, RunInfo, TopicsUsed};
use crate::sampler::Targets;
use crate::schedule::{Phase, Schedule};
use crate::topics::{PriorityMix, Topics};

/// Label of the ramp's unjudged first phase.
pub const WARMUP: &str = "warm-up";

/// The offered-load shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Constant rate.
    Steady { rate: f64, duration: Duration },
    /// `rate`, then `rate × factor` from `at` for `length`, then `rate` again until `duration`.
    Burst { rate: f64, factor: f64, at: Duration, length: Duration, duration: Duration },
    /// Constant rate for a long time; the report fits RSS and lag drift.
    Soak { rate: f64, duration: Duration },
    /// Steps from `start` by `step` up to `max`, `step_length` each, until
    /// more than 1 % of a step's documents take longer than `slo_p99`. A
    /// `warmup` at the start rate comes first and is not judged (consumer
    /// group joins, connections, caches).
    Ramp { start: f64, step: f64, max: f64, step_length: Duration, slo_p99: Duration, warmup: Duration },
}

impl Mode {
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Steady { .. } => "steady",
            Mode::Burst { .. } => "burst",
            Mode::Soak { .. } => "soak",
            Mode::Ramp { .. } => "ramp",
        }
    }

    /// The schedule this mode publishes (ramp: every step up to `max`).
    pub fn schedule(&self) -> anyhow::Result<Schedule> {
        let secs = |d: &Duration| d.as_secs_f64();
        let s = match self {
            Mode::Steady { rate, duration } | Mode::Soak { rate, duration } => Schedule::constant(*rate, secs(duration))?,
            Mode::Burst { rate, factor, at, length, duration } => {
                anyhow::ensure!(*factor > 0.0 && factor.is_finite(), "--burst-factor must be > 0");
                anyhow::ensure!(*at + *length <= *duration, "the burst must end within --duration-secs");
                let mut phases = Vec::new();
                if !at.is_zero() {
                    phases.push(Phase::timed("before", *rate, secs(at)));
                }
                phases.push(Phase::timed(&format!("burst ×{factor}"), rate * factor, secs(length)));
                let rest = secs(duration) - secs(at) - secs(length);
                if rest > 0.0 {
                    phases.push(Phase::timed("after", *rate, rest));
                }
                Schedule::new(phases)?
            }
            Mode::Ramp { start, step, max, step_length, warmup, .. } => {
                anyhow::ensure!(*step > 0.0 && step.is_finite(), "--step-rate must be > 0");
                anyhow::ensure!(max >= start, "--max-rate must be >= --start-rate");
                let mut phases = Vec::new();
                if !warmup.is_zero() {
                    phases.push(Phase::timed(WARMUP, *start, secs(warmup)));
                }
                let mut rate = *start;
                while rate <= *max + 1e-9 && phases.len() < 1000 {
                    let n = phases.iter().filter(|p| p.label != WARMUP).count() + 1;
                    phases.push(Phase::timed(&format!("step {n}"), rate, secs(step_length)));
                    rate += step;
                }
                Schedule::new(phases)?
            }
        };
        Ok(s)
    }
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub brokers: String,
    pub mode: Mode,
    /// How long after the last scheduled send a document may still arrive
    /// before it counts as lost.
    pub deadline: Duration,
    /// Where the report and plots go; `None` writes nothing.
    pub out_dir: Option<PathBuf>,
    pub seed: u64,
    pub anomaly_rate: f64,
    /// Fraction of records replaced by poison (chaos).
    pub poison_rate: f64,
    /// Document formats (empty: all five).
    pub formats: Vec<docflow_corpus::DocFormat>,
    pub topics: Topics,
    pub mix: PriorityMix,
    /// Document id prefix; `None` picks a unique one per run (`lt<time>`).
    pub id_prefix: Option<String>,
    /// Print the live progress line on stderr.
    pub progress: bool,
    /// Stage processes the harness starts, measures, kills and stops.
    pub stages: Vec<StageSpec>,
    /// Metrics port of managed stage `i` is `base + i` (0: free ports).
    pub metrics_port_base: u16,
    /// How long managed stages may take to answer `/readyz`.
    pub ready_timeout: Duration,
    /// SIGTERM drain allowance for managed stages at the end.
    pub stop_timeout: Duration,
    pub watch_pids: Vec<WatchPid>,
    pub watch_metrics: Vec<WatchMetrics>,
    pub sample_every: Duration,
    pub chaos: ChaosPlan,
}

impl RunOptions {
    /// Defaults for `mode` against `brokers` and the standard topics.
    pub fn new(brokers: &str, mode: Mode) -> Self {
        Self {
            brokers: brokers.into(),
            mode,
            deadline: Duration::from_secs(30),
            out_dir: None,
            seed: 42,
            anomaly_rate: 0.0,
            poison_rate: 0.0,
            formats: Vec::new(),
            topics: Topics::default(),
            mix: PriorityMix::default(),
            id_prefix: None,
            progress: false,
            stages: Vec::new(),
            metrics_port_base: 0,
            ready_timeout: Duration::from_secs(180),
            stop_timeout: Duration::from_secs(30),
            watch_pids: Vec::new(),
            watch_metrics: Vec::new(),
            sample_every: Duration::from_secs(1),
            chaos: ChaosPlan::default(),
        }
    }
}

/// Runs the scenario and returns (and, with `out_dir`, writes) the report.
pub async fn run(opts: RunOptions) -> anyhow::Result<Report> {
    let schedule = opts.mode.schedule()?;
    let id_prefix = opts.id_prefix.clone().unwrap_or_else(|| format!("lt{}", chrono::Utc::now().format("%Y%m%d%H%M%S%3f")));
    let t0 = Instant::now();
    // About 600 timeline buckets at most, 1 s for runs up to 10 minutes.
    let bucket = Duration::from_secs_f64((schedule.duration().as_secs_f64() / 600.0).max(1.0).ceil());
    let ledger = Arc::new(Ledger::with_clock(t0, bucket));

    let supervisor = if opts.stages.is_empty() {
        None
    } else {
        let logs = opts.out_dir.clone().unwrap_or_else(std::env::temp_dir).join("logs");
        let sup = Arc::new(Supervisor::start(&opts.stages, &logs, opts.metrics_port_base)?);
        eprintln!("loadtest: started {} stage process(es), logs in {}", opts.stages.len(), logs.display());
        let (s, timeout) = (sup.clone(), opts.ready_timeout);
        tokio::task::spawn_blocking(move || s.wait_ready(timeout)).await??;
        Some(sup)
    };

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
    // The per-stage breakdown is a diagnostic: a missing topic only drops it.
    let hop_book = Arc::new(Mutex::new(HopBook::default()));
    let hops = opts.topics.hops();
    let hop_thread = if hops.is_empty() {
        None
    } else {
        let (brokers, h) = (opts.brokers.clone(), hops.clone());
        match tokio::task::spawn_blocking(move || HopFollower::at_end(&brokers, &h)).await? {
            Ok(f) => {
                let (b, s) = (hop_book.clone(), stop.clone());
                Some(std::thread::Builder::new().name("loadtest-hops".into()).spawn(move || f.run(b, s))?)
            }
            Err(e) => {
                eprintln!("loadtest: no per-stage latency breakdown: {e}");
                None
            }
        }
    };
    let targets = Targets { supervisor: supervisor.clone(), pids: opts.watch_pids.clone(), metrics: opts.watch_metrics.clone() };
    let sampler = {
        let (l, s, every) = (ledger.clone(), stop.clone(), opts.sample_every);
        std::thread::Builder::new().name("loadtest-sample".into()).spawn(move || crate::sampler::run(t0, l, targets, every, s))?
    };
    let chaos_log = Arc::new(ChaosLog::default());
    let chaos_cancel = Arc::new(AtomicBool::new(false));
    let chaos_threads = crate::chaos::start(&opts.chaos, t0, supervisor.clone(), chaos_log.clone(), chaos_cancel.clone());
    let progress = opts.progress.then(|| {
        let (l, s) = (ledger.clone(), stop.clone());
        tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                eprint!("\r{}", progress_line(&l, t0));
            }
            eprintln!();
        })
    });

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &opts.brokers)
        .set("linger.ms", "5")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "120000")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .context("creating the producer")?;
    let plan = PublishPlan {
        schedule: schedule.clone(),
        seed: opts.seed,
        anomaly_rate: opts.anomaly_rate,
        poison_rate: opts.poison_rate,
        formats: opts.formats.clone(),
        id_prefix,
        mix: opts.mix.clone(),
        topics: opts.topics.clone(),
    };
    let publish_stop = Arc::new(AtomicBool::new(false));
    let verdicts = Arc::new(Mutex::new((std::collections::BTreeMap::new(), None::<String>)));
    let judge = match &opts.mode {
        Mode::Ramp { slo_p99, .. } => Some(tokio::spawn(judge_ramp(ledger.clone(), schedule.clone(), *slo_p99, publish_stop.clone(), verdicts.clone()))),
        _ => None,
    };
    let published = publish(&producer, ledger.clone(), &plan, Some(publish_stop.clone())).await;
    if let Some(j) = judge {
        // The judge of the last step may still be waiting: let it finish
        // (it needs at most the SLO after the last step's end).
        let _ = j.await;
    }

    // Wait for stragglers until the deadline after the last scheduled send;
    // if everything is in early, linger briefly to catch duplicates.
    let deadline = Instant::now() + opts.deadline;
    while published.is_ok() && Instant::now() < deadline && ledger.outstanding() > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if published.is_ok() && ledger.outstanding() == 0 {
        let grace = Instant::now() + Duration::from_secs(1).min(opts.deadline);
        tokio::time::sleep_until(grace.into()).await;
    }
    chaos_cancel.store(true, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let _ = follow_thread.join();
    if let Some(t) = hop_thread {
        let _ = t.join();
    }
    let samples = sampler.join().unwrap_or_default();
    for t in chaos_threads {
        let _ = t.join();
    }
    if let Some(p) = progress {
        let _ = p.await;
    }
    let stage_processes = match &supervisor {
        Some(s) => {
            let (s, d) = (s.clone(), opts.stop_timeout);
            tokio::task::spawn_blocking(move || {
                s.stop_all(d);
                s.report()
            })
            .await?
        }
        None => Vec::new(),
    };
    published.context("publishing")?;

    let mut report = Report::build(
        &ledger,
        RunInfo {
            mode: opts.mode.name().into(),
            target_rate: schedule.mean_rate(),
            duration_secs: schedule.duration().as_secs_f64(),
            deadline_secs: opts.deadline.as_secs_f64(),
            topics: TopicsUsed {
                raw: opts.mix.weights.iter().filter_map(|(l, _)| opts.topics.raw_topic(l).map(String::from)).collect(),
                results: opts.topics.results.clone(),
                dlq: opts.topics.dlq.clone(),
            },
            phases: schedule.phases.iter().map(|p| (p.label.clone(), p.rate)).collect(),
        },
    );
    let (phase_passed, stopped) = verdicts.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let ramp = match &opts.mode {
        Mode::Ramp { slo_p99, .. } => Some(RampResult {
            slo_p99_ms: slo_p99.as_secs_f64() * 1000.0,
            max_sustainable_rate: phase_passed
                .iter()
                .filter(|(_, ok)| **ok)
                .filter_map(|(k, _)| schedule.phases.get(*k).map(|p| p.rate))
                .fold(0.0, f64::max),
            stopped_because: stopped.unwrap_or_else(|| "every step up to --max-rate met the SLO".into()),
        }),
        _ => None,
    };
    let hops = if hops.is_empty() { Vec::new() } else { hop_book.lock().unwrap_or_else(|p| p.into_inner()).latencies(&hops) };
    report.attach(Extras { hops, samples, chaos: chaos_log.events(), stage_processes, phase_passed, ramp });
    if let Some(dir) = &opts.out_dir {
        report.write(dir).with_context(|| format!("writing the report to {}", dir.display()))?;
    }
    Ok(report)
}

/// Ramp verdicts: passed by phase index, and why the ramp stopped.
type Verdicts = (std::collections::BTreeMap<usize, bool>, Option<String>);

/// Judges each ramp step `slo` after it ends: a step misses when more than
/// 1 % of its documents either took longer than `slo` or are still unseen
/// and already older than `slo` (p99 > SLO; a backlog growing without bound
/// shows up as exactly that). The first miss stops the publisher.
async fn judge_ramp(
    ledger: Arc<Ledger>,
    schedule: Schedule,
    slo: Duration,
    stop: Arc<AtomicBool>,
    verdicts: Arc<Mutex<Verdicts>>,
) {
    let start = loop {
        if let Some(s) = ledger.with(|s| s.first_scheduled) {
            break s;
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let slo_us = slo.as_micros() as u64;
    let mut end = Duration::ZERO;
    for (k, phase) in schedule.phases.iter().enumerate() {
        end += phase.duration();
        if phase.label == WARMUP {
            continue;
        }
        tokio::time::sleep_until((start + end + slo).into()).await;
        let over = ledger.with(|s| s.phases.get(k).map(|b| b.latency_us.len() - b.latency_us.count_between(0, slo_us)).unwrap_or(0));
        let overdue = ledger.overdue_in_phase(k as u32, Instant::now(), slo);
        let bad = over + overdue;
        let allowed = phase.count / 100;
        let passed = bad <= allowed;
        eprintln!(
            "\nloadtest: ramp {} at {:.0}/s: {bad} of {} documents over {} ms ({over} seen late, {overdue} still unseen): {}",
            phase.label,
            phase.rate,
            phase.count,
            slo.as_millis(),
            if passed { "met" } else { "missed" }
        );
        let mut v = verdicts.lock().unwrap_or_else(|p| p.into_inner());
        v.0.insert(k, passed);
        if !passed {
            v.1 = Some(format!(
                "{} at {:.0}/s had {bad} of {} documents over {} ms ({overdue} of them still unseen: lag growing)",
                phase.label,
                phase.rate,
                phase.count,
                slo.as_millis()
            ));
            stop.store(true, Ordering::Relaxed);
            return;
        }
    }
}

/// `t 12s published N delivered N dlq N outstanding N dup N p99 X ms`.
fn progress_line(l: &Ledger, t0: Instant) -> String {
    let outstanding = l.outstanding();
    l.with(|s| {
        format!(
            "t {:.0}s published {} delivered {} dlq {} outstanding {} dup {} p99 {:.1} ms   ",
            t0.elapsed().as_secs_f64(),
            s.published,
            s.delivered,
            s.dead_lettered,
            outstanding,
            s.duplicates,
            s.latency_us.value_at_quantile(0.99) as f64 / 1000.0
        )
    })
}
