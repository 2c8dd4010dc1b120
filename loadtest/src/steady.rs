//! `steady` mode as a library call: [`SteadyOptions`] (a constant offered
//! rate for a fixed duration, then a deadline for stragglers) and
//! [`run_steady`], a thin layer over the shared engine ([`crate::run`]) for
//! tests and callers that need no stage processes or chaos.

use std::path::PathBuf;
use std::time::Duration;

use crate::report::Report;
use crate::run::{run, Mode, RunOptions};
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
    /// Where `report.json` / `report.md` / plots go; `None` writes nothing.
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

    /// The engine's options for this steady run.
    pub fn into_run_options(self) -> RunOptions {
        let mut o = RunOptions::new(&self.brokers, Mode::Steady { rate: self.rate, duration: self.duration });
        o.deadline = self.deadline;
        o.out_dir = self.out_dir;
        o.seed = self.seed;
        o.anomaly_rate = self.anomaly_rate;
        o.topics = self.topics;
        o.mix = self.mix;
        o.id_prefix = self.id_prefix;
        o.progress = self.progress;
        o
    }
}

/// Runs the steady scenario and returns (and, with `out_dir`, writes) the report.
pub async fn run_steady(opts: SteadyOptions) -> anyhow::Result<Report> {
    anyhow::ensure!(opts.rate.is_finite() && opts.rate > 0.0, "rate must be > 0, got {}", opts.rate);
    run(opts.into_run_options()).await
}
