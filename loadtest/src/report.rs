//! The run's accounting and its renderings: a JSON file (`report.json`), a
//! Markdown summary (`report.md`) with the measured figures beside the
//! seed's KPI table, and (see [`crate::plots`]) SVG plots next to them.
//!
//! [`Report::build`] closes the books from the [`Ledger`]; the run engine
//! then attaches what only it knows ([`Extras`]: process samples, chaos
//! events, ramp verdicts) with [`Report::attach`].

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::chaos::ChaosEvent;
use crate::hops::HopLatency;
use crate::ledger::Ledger;
use crate::procs::StageProcessReport;
use crate::sampler::{slope, TimePoint};

/// End-to-end latency percentiles, milliseconds (from scheduled send time).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    pub samples: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub(crate) fn of<T: hdrhistogram::Counter>(h: &Histogram<T>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            samples: h.len(),
            mean_ms: if h.is_empty() { 0.0 } else { h.mean() / 1000.0 },
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// Where the run happened.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Machine {
    pub hostname: String,
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    /// 1-minute load average when the report was built.
    pub load_average: f64,
}

impl Machine {
    /// This machine, best effort (fields are empty when unreadable).
    pub fn this() -> Self {
        let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default().trim().to_string();
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("model name").map(|r| r.trim_start_matches([' ', '\t', ':']).to_string()))
            .unwrap_or_default();
        let memory_gib = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:").and_then(|r| r.split_whitespace().next()?.parse::<f64>().ok()))
            .map(|kib| kib / (1024.0 * 1024.0))
            .unwrap_or(0.0);
        let load_average = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Self { hostname, cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), cpu_model, memory_gib, load_average }
    }
}

/// One schedule phase (a ramp step, a burst phase, the steady phase).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PhaseReport {
    pub label: String,
    pub rate: f64,
    pub published: u64,
    pub delivered: u64,
    pub dead_lettered: u64,
    pub latency: Latency,
    /// Ramp: whether the step met the SLO (`None` outside ramp or unjudged).
    pub passed: Option<bool>,
}

/// One timeline bucket: documents by scheduled time, arrivals by sighting time.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TimelineRow {
    pub t: f64,
    /// Documents scheduled in the bucket, per second.
    pub offered_per_s: f64,
    /// Documents first seen in the bucket, per second.
    pub completed_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Memory, utilisation and lag of one stage process over the run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProcessSummary {
    pub name: String,
    pub max_rss_mb: Option<f64>,
    pub mean_rss_mb: Option<f64>,
    /// RSS drift, MB per hour (least squares over the second half of the run).
    pub rss_slope_mb_per_h: Option<f64>,
    pub mean_utilization: Option<f64>,
    pub max_utilization: Option<f64>,
    /// Largest summed consumer lag seen, by stage.
    pub max_lag: BTreeMap<String, f64>,
    /// Lag drift, records per minute over the second half of the run, by stage.
    pub lag_slope_per_min: BTreeMap<String, f64>,
}

/// Injected poison records and where they ended.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PoisonReport {
    pub injected: u64,
    pub dead_lettered: u64,
    /// Poison that reached the results topic (a pipeline bug).
    pub delivered: u64,
}

/// The ramp's verdict.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RampResult {
    pub slo_p99_ms: f64,
    /// Highest step rate that met the SLO (0: none did).
    pub max_sustainable_rate: f64,
    pub stopped_because: String,
}

/// What only the run engine knows.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    pub samples: Vec<TimePoint>,
    pub chaos: Vec<ChaosEvent>,
    pub stage_processes: Vec<StageProcessReport>,
    /// Ramp verdict per phase index.
    pub phase_passed: BTreeMap<usize, bool>,
    pub ramp: Option<RampResult>,
    /// Per-stage latency from record timestamps.
    pub hops: Vec<HopLatency>,
}

/// Everything a run measured. Invariant: `delivered + dead_lettered + lost == published`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub mode: String,
    /// Offered rate (mean over the schedule for multi-phase modes).
    pub target_rate: f64,
    pub duration_secs: f64,
    pub deadline_secs: f64,
    pub topics: TopicsUsed,
    pub published: u64,
    pub publish_errors: u64,
    pub delivered: u64,
    pub dead_lettered: u64,
    pub lost: u64,
    /// Ids published but seen on neither topic before the deadline.
    pub lost_ids: Vec<String>,
    pub duplicates: u64,
    /// Records on the followed topics that this run did not publish.
    pub foreign: u64,
    pub undecodable: u64,
    pub dlq_by_reason: BTreeMap<String, u64>,
    pub poison: PoisonReport,
    pub latency: Latency,
    /// Published documents / time from first to last scheduled send.
    pub offered_rate: f64,
    /// Classified documents / time from first scheduled send to last sighting.
    pub throughput: f64,
    /// Valid (non-poison) documents delivered / valid documents published.
    pub success_rate: f64,
    /// Worst lateness of a send behind its schedule (harness or broker saturation).
    pub max_send_lag_ms: f64,
    pub phases: Vec<PhaseReport>,
    pub timeline_bucket_secs: f64,
    pub timeline: Vec<TimelineRow>,
    pub processes: Vec<ProcessSummary>,
    pub stage_processes: Vec<StageProcessReport>,
    pub chaos: Vec<ChaosEvent>,
    pub ramp: Option<RampResult>,
    /// Per-stage hop latency (input record timestamp → output record timestamp).
    pub hops: Vec<HopLatency>,
    /// Sampled series (ledger counters, per-process RSS / utilisation / lag).
    pub samples: Vec<TimePoint>,
    /// Plot files written next to the report.
    pub plots: Vec<String>,
    pub machine: Machine,
    pub finished_at: String,
}

/// Topics of the run, for the record.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopicsUsed {
    pub raw: Vec<String>,
    pub results: String,
    pub dlq: String,
}

/// Inputs of [`Report::build`] that the ledger does not hold.
pub struct RunInfo {
    pub mode: String,
    pub target_rate: f64,
    pub duration_secs: f64,
    pub deadline_secs: f64,
    pub topics: TopicsUsed,
    /// `(label, rate)` of each schedule phase, by index.
    pub phases: Vec<(String, f64)>,
}

impl Report {
    /// Closes the books: every registered id not yet classified is lost.
    pub fn build(ledger: &Ledger, info: RunInfo) -> Self {
        let lost_ids = ledger.outstanding_ids();
        ledger.with(|s| {
            let offered_secs = if info.target_rate > 0.0 { s.published.saturating_sub(1) as f64 / info.target_rate } else { 0.0 };
            let classified = s.delivered + s.dead_lettered;
            let span = match (s.first_scheduled, s.last_seen) {
                (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
                _ => 0.0,
            };
            let valid = s.published.saturating_sub(s.poison_published);
            let phases = s
                .phases
                .iter()
                .enumerate()
                .map(|(k, b)| {
                    let (label, rate) = info.phases.get(k).cloned().unwrap_or_else(|| (format!("phase {k}"), 0.0));
                    PhaseReport {
                        label,
                        rate,
                        published: b.published,
                        delivered: b.delivered,
                        dead_lettered: b.dead_lettered,
                        latency: Latency::of(&b.latency_us),
                        passed: None,
                    }
                })
                .collect();
            let w = s.bucket.as_secs_f64();
            let ms = |us: u64| us as f64 / 1000.0;
            let timeline = s
                .timeline
                .iter()
                .enumerate()
                .map(|(i, b)| TimelineRow {
                    t: i as f64 * w,
                    offered_per_s: b.sent as f64 / w,
                    completed_per_s: b.arrivals as f64 / w,
                    p50_ms: ms(b.latency_us.value_at_quantile(0.5)),
                    p99_ms: ms(b.latency_us.value_at_quantile(0.99)),
                    max_ms: ms(b.latency_us.max()),
                })
                .collect();
            Report {
                mode: info.mode,
                target_rate: info.target_rate,
                duration_secs: info.duration_secs,
                deadline_secs: info.deadline_secs,
                topics: info.topics,
                published: s.published,
                publish_errors: s.publish_errors,
                delivered: s.delivered,
                dead_lettered: s.dead_lettered,
                lost: lost_ids.len() as u64,
                lost_ids,
                duplicates: s.duplicates,
                foreign: s.foreign,
                undecodable: s.undecodable,
                dlq_by_reason: s.dlq_by_reason.clone(),
                poison: PoisonReport { injected: s.poison_published, dead_lettered: s.poison_dead_lettered, delivered: s.poison_delivered },
                latency: Latency::of(&s.latency_us),
                offered_rate: if offered_secs > 0.0 { s.published as f64 / offered_secs } else { s.published as f64 },
                throughput: if span > 0.0 { classified as f64 / span } else { 0.0 },
                success_rate: if valid > 0 { s.delivered.saturating_sub(s.poison_delivered) as f64 / valid as f64 } else { 0.0 },
                max_send_lag_ms: s.max_send_lag_us as f64 / 1000.0,
                phases,
                timeline_bucket_secs: w,
                timeline,
                processes: Vec::new(),
                stage_processes: Vec::new(),
                chaos: Vec::new(),
                ramp: None,
                hops: Vec::new(),
                samples: Vec::new(),
                plots: Vec::new(),
                machine: Machine::this(),
                finished_at: chrono::Utc::now().to_rfc3339(),
            }
        })
    }

    /// Adds the engine's observations and derives the per-process summaries.
    pub fn attach(&mut self, extras: Extras) {
        for (k, passed) in &extras.phase_passed {
            if let Some(p) = self.phases.get_mut(*k) {
                p.passed = Some(*passed);
            }
        }
        self.processes = summarize(&extras.samples);
        self.samples = extras.samples;
        self.chaos = extras.chaos;
        self.stage_processes = extras.stage_processes;
        self.ramp = extras.ramp;
        self.hops = extras.hops;
    }

    /// True when the books balance (they always should; the test checks it).
    pub fn balanced(&self) -> bool {
        self.delivered + self.dead_lettered + self.lost == self.published
    }

    /// Valid documents published (poison excluded).
    pub fn valid_published(&self) -> u64 {
        self.published.saturating_sub(self.poison.injected)
    }

    /// The Markdown summary.
    pub fn markdown(&self) -> String {
        crate::markdown::render(self)
    }

    /// Writes `report.json`, `report.md` and the SVG plots into `dir`.
    pub fn write(&mut self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        self.plots = crate::plots::write_all(self, dir).map_err(std::io::Error::other)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("report.json"), json + "\n")?;
        std::fs::write(dir.join("report.md"), self.markdown())
    }
}

/// Per-process summaries from the sampled series. Drift is fitted on the
/// second half of the samples, after start-up and warm-up.
fn summarize(samples: &[TimePoint]) -> Vec<ProcessSummary> {
    let mut names: Vec<&String> = samples.iter().flat_map(|p| p.processes.keys()).collect();
    names.sort();
    names.dedup();
    let half = samples.len() / 2;
    names
        .into_iter()
        .map(|name| {
            let points: Vec<(f64, &crate::sampler::ProcessPoint)> =
                samples.iter().filter_map(|s| s.processes.get(name).map(|p| (s.t, p))).collect();
            let rss: Vec<(f64, f64)> = points.iter().filter_map(|(t, p)| p.rss_mb.map(|r| (*t, r))).collect();
            let util: Vec<f64> = points.iter().filter_map(|(_, p)| p.utilization).collect();
            let late = |s: &[(f64, f64)]| s.iter().filter(|(t, _)| samples.get(half).is_some_and(|h| *t >= h.t)).copied().collect::<Vec<_>>();
            let mut max_lag = BTreeMap::new();
            let mut lag_series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
            for (t, p) in &points {
                for (stage, lag) in &p.lag {
                    let m = max_lag.entry(stage.clone()).or_insert(0.0f64);
                    *m = m.max(*lag);
                    lag_series.entry(stage.clone()).or_default().push((*t, *lag));
                }
            }
            ProcessSummary {
                name: name.clone(),
                max_rss_mb: rss.iter().map(|r| r.1).reduce(f64::max),
                mean_rss_mb: (!rss.is_empty()).then(|| rss.iter().map(|r| r.1).sum::<f64>() / rss.len() as f64),
                rss_slope_mb_per_h: slope(&late(&rss)).map(|s| s * 3600.0),
                mean_utilization: (!util.is_empty()).then(|| util.iter().sum::<f64>() / util.len() as f64),
                max_utilization: util.iter().copied().reduce(f64::max),
                max_lag,
                lag_slope_per_min: lag_series.iter().filter_map(|(k, v)| slope(&late(v)).map(|s| (k.clone(), s * 60.0))).collect(),
            }
        })
        .collect()
}
