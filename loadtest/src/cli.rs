//! The command line of every mode: [`Command`] (`steady`, `burst`, `ramp`,
//! `soak`), each a mode's own flags plus the shared [`CommonArgs`] (topics,
//! report, stage processes, chaos hooks). Mounted by the `loadtest` binary
//! and mountable under `docflow loadtest`.
//!
//! Stage processes and chaos, in short:
//!
//! ```text
//! loadtest steady --rate 500 --duration-secs 60 \
//!   --stage "parse=docflow stage parse" --stage "infer=docflow stage infer" \
//!   --stage "score=docflow stage score" --stage "persist=docflow stage persist" \
//!   --kill-stage infer --kills 3 --kill-first-secs 10 --kill-every-secs 15 \
//!   --db-outage-at-secs 20 --db-outage-secs 30 --db-pid auto \
//!   --poison-rate 0.01
//! ```
//!
//! Each `--stage NAME=COMMAND` is started by the harness with its own
//! `DOCFLOW_METRICS_ADDR`, measured (RSS, utilisation, lag), killed on cue
//! and stopped with SIGTERM at the end. Stages started elsewhere can be
//! watched with `--watch-pid NAME=PID` and `--watch-metrics NAME=ADDR`.

use std::path::PathBuf;
use std::time::Duration;

use crate::chaos::{BrokerRestart, ChaosPlan, DbControl, DbOutage, KillPlan};
use crate::procs::{StageSpec, WatchMetrics, WatchPid};
use crate::run::{Mode, RunOptions};
use crate::topics::{PriorityMix, Topics};

/// `loadtest <mode> …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Constant offered rate for a fixed duration.
    Steady(SteadyArgs),
    /// A base rate with a spike (default 10×) for some seconds.
    Burst(BurstArgs),
    /// Step the rate up until p99 exceeds the SLO (or lag grows without
    /// bound); reports the maximum sustainable rate.
    Ramp(RampArgs),
    /// A long constant run watching RSS and lag drift.
    Soak(SoakArgs),
}

/// `steady`: `--rate` documents/s for `--duration-secs`.
#[derive(Debug, Clone, clap::Args)]
pub struct SteadyArgs {
    /// Offered load, documents per second.
    #[arg(long)]
    pub rate: f64,
    /// How long to publish, seconds.
    #[arg(long)]
    pub duration_secs: f64,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `burst`: `--rate`, then `--burst-factor × rate` from `--burst-at-secs` for `--burst-secs`.
#[derive(Debug, Clone, clap::Args)]
pub struct BurstArgs {
    /// Base offered load, documents per second.
    #[arg(long)]
    pub rate: f64,
    /// Total publishing time, seconds.
    #[arg(long)]
    pub duration_secs: f64,
    /// Spike multiplier.
    #[arg(long, default_value_t = 10.0)]
    pub burst_factor: f64,
    /// When the spike starts, seconds from the start.
    #[arg(long, default_value_t = 10.0)]
    pub burst_at_secs: f64,
    /// Spike length, seconds.
    #[arg(long, default_value_t = 5.0)]
    pub burst_secs: f64,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `ramp`: steps of `--step-secs` from `--start-rate` by `--step-rate` up to `--max-rate`.
#[derive(Debug, Clone, clap::Args)]
pub struct RampArgs {
    #[arg(long, default_value_t = 100.0)]
    pub start_rate: f64,
    #[arg(long, default_value_t = 100.0)]
    pub step_rate: f64,
    #[arg(long, default_value_t = 10_000.0)]
    pub max_rate: f64,
    /// Length of each step, seconds.
    #[arg(long, default_value_t = 20.0)]
    pub step_secs: f64,
    /// A step fails when more than 1 % of its documents take longer.
    #[arg(long, default_value_t = 300.0)]
    pub slo_p99_ms: f64,
    /// Unjudged warm-up at --start-rate before the first step, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub warmup_secs: f64,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// `soak`: `--rate` for a long `--duration-secs`, fitting RSS and lag drift.
#[derive(Debug, Clone, clap::Args)]
pub struct SoakArgs {
    #[arg(long)]
    pub rate: f64,
    #[arg(long, default_value_t = 3600.0)]
    pub duration_secs: f64,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Flags every mode shares.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Kafka bootstrap servers.
    #[arg(long, env = "DOCFLOW_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub brokers: String,
    /// Seconds after the last scheduled send before unseen documents count as lost.
    #[arg(long, default_value_t = 30.0)]
    pub deadline_secs: f64,
    /// Directory for report.json, report.md, the SVG plots and stage logs.
    #[arg(long, default_value = "loadtest-report")]
    pub out: PathBuf,
    /// Corpus seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Probability of each planted anomaly kind per document.
    #[arg(long, default_value_t = 0.0)]
    pub anomaly_rate: f64,
    /// Document formats to generate, comma-separated: text, html, json, email, pdf (default: all).
    #[arg(long, value_delimiter = ',', value_parser = parse_format)]
    pub formats: Vec<docflow_corpus::DocFormat>,
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
    /// Create the pipeline's topics under --topic-prefix with this many
    /// partitions first (where missing), for an isolated run.
    #[arg(long)]
    pub create_topics: Option<i32>,

    /// A stage process to start, measure and (with --kill-stage) kill: `NAME=COMMAND`. Repeatable.
    #[arg(long = "stage", value_name = "NAME=COMMAND")]
    pub stages: Vec<StageSpec>,
    /// Metrics port of the i-th --stage is BASE + i (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub metrics_port_base: u16,
    /// Seconds the --stage processes may take to answer /readyz.
    #[arg(long, default_value_t = 180.0)]
    pub ready_timeout_secs: f64,
    /// A process started elsewhere to measure (RSS): `NAME=PID`. Repeatable.
    #[arg(long = "watch-pid", value_name = "NAME=PID")]
    pub watch_pids: Vec<WatchPid>,
    /// A metrics endpoint started elsewhere to scrape: `NAME=HOST:PORT`. Repeatable.
    #[arg(long = "watch-metrics", value_name = "NAME=ADDR")]
    pub watch_metrics: Vec<WatchMetrics>,
    /// Sampling interval of RSS, utilisation and lag, seconds.
    #[arg(long, default_value_t = 1.0)]
    pub sample_secs: f64,

    /// Chaos: the --stage to kill -9 (and restart).
    #[arg(long)]
    pub kill_stage: Option<String>,
    /// How many times to kill it.
    #[arg(long, default_value_t = 3)]
    pub kills: u32,
    /// First kill, seconds from the start.
    #[arg(long, default_value_t = 10.0)]
    pub kill_first_secs: f64,
    /// Seconds between kills.
    #[arg(long, default_value_t = 10.0)]
    pub kill_every_secs: f64,
    /// Milliseconds between the kill and the restart.
    #[arg(long, default_value_t = 500)]
    pub restart_after_ms: u64,
    /// Chaos: make the database unavailable at this second.
    #[arg(long)]
    pub db_outage_at_secs: Option<f64>,
    /// Length of the database outage, seconds.
    #[arg(long, default_value_t = 30.0)]
    pub db_outage_secs: f64,
    /// Database pid to SIGSTOP/SIGCONT, or `auto` (the local stack's Cassandra).
    #[arg(long)]
    pub db_pid: Option<String>,
    /// Instead of signals: shell command that stops the database.
    #[arg(long, requires = "db_start_cmd")]
    pub db_stop_cmd: Option<String>,
    /// Shell command that starts it again.
    #[arg(long, requires = "db_stop_cmd")]
    pub db_start_cmd: Option<String>,
    /// Chaos: restart the broker at this second with --broker-restart-cmd.
    #[arg(long, requires = "broker_restart_cmd")]
    pub broker_restart_at_secs: Option<f64>,
    /// Shell command that restarts the broker.
    #[arg(long)]
    pub broker_restart_cmd: Option<String>,
    /// Chaos: fraction of records replaced by a corrupt payload (expected on the DLQ).
    #[arg(long, default_value_t = 0.0)]
    pub poison_rate: f64,
}

fn parse_format(s: &str) -> Result<docflow_corpus::DocFormat, String> {
    use docflow_corpus::DocFormat;
    match s.trim().to_ascii_lowercase().as_str() {
        "text" | "txt" => Ok(DocFormat::Text),
        "html" => Ok(DocFormat::Html),
        "json" => Ok(DocFormat::Json),
        "email" | "eml" => Ok(DocFormat::Email),
        "pdf" => Ok(DocFormat::Pdf),
        other => Err(format!("unknown format {other:?} (text, html, json, email, pdf)")),
    }
}

fn secs(name: &str, v: f64) -> anyhow::Result<Duration> {
    anyhow::ensure!(v.is_finite() && v >= 0.0, "--{name} must be a finite number >= 0, got {v}");
    Ok(Duration::from_secs_f64(v))
}

impl CommonArgs {
    /// The run options these flags describe, for `mode`.
    pub fn options(&self, mode: Mode) -> anyhow::Result<RunOptions> {
        anyhow::ensure!((0.0..=1.0).contains(&self.anomaly_rate), "--anomaly-rate must be in [0, 1]");
        anyhow::ensure!((0.0..=1.0).contains(&self.poison_rate), "--poison-rate must be in [0, 1]");
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
        if self.raw_topic.is_some() || self.results_topic.is_some() {
            // Explicit endpoints: the standard intermediate names may not apply.
            topics.stages.clear();
        }
        let mut chaos = ChaosPlan::default();
        if let Some(stage) = &self.kill_stage {
            anyhow::ensure!(self.stages.iter().any(|s| &s.name == stage), "--kill-stage {stage}: no --stage {stage}=COMMAND to kill");
            chaos.kill = Some(KillPlan {
                stage: stage.clone(),
                times: self.kills,
                first_at: secs("kill-first-secs", self.kill_first_secs)?,
                every: secs("kill-every-secs", self.kill_every_secs)?,
                restart_after: Duration::from_millis(self.restart_after_ms),
            });
        }
        if let Some(at) = self.db_outage_at_secs {
            let control = match (&self.db_stop_cmd, &self.db_start_cmd, self.db_pid.as_deref()) {
                (Some(stop), Some(start), _) => DbControl::Commands { stop: stop.clone(), start: start.clone() },
                (_, _, Some("auto") | None) => DbControl::Signal {
                    pid: crate::chaos::local_cassandra_pid().ok_or_else(|| {
                        anyhow::anyhow!("--db-pid auto: no local-stack Cassandra (.state/cassandra/cassandra.pid); give --db-pid PID or --db-stop-cmd/--db-start-cmd")
                    })?,
                },
                (_, _, Some(p)) => DbControl::Signal { pid: p.parse().map_err(|_| anyhow::anyhow!("--db-pid {p:?} is not a pid"))? },
            };
            chaos.db_outage = Some(DbOutage { at: secs("db-outage-at-secs", at)?, length: secs("db-outage-secs", self.db_outage_secs)?, control });
        }
        if let (Some(at), Some(cmd)) = (self.broker_restart_at_secs, &self.broker_restart_cmd) {
            chaos.broker_restart = Some(BrokerRestart { at: secs("broker-restart-at-secs", at)?, command: cmd.clone() });
        }
        Ok(RunOptions {
            brokers: self.brokers.clone(),
            mode,
            deadline: secs("deadline-secs", self.deadline_secs)?,
            out_dir: Some(self.out.clone()),
            seed: self.seed,
            anomaly_rate: self.anomaly_rate,
            poison_rate: self.poison_rate,
            formats: self.formats.clone(),
            topics,
            mix: self.priority_mix.clone(),
            id_prefix: self.id_prefix.clone(),
            progress: !self.quiet,
            stages: self.stages.clone(),
            metrics_port_base: self.metrics_port_base,
            ready_timeout: secs("ready-timeout-secs", self.ready_timeout_secs)?,
            stop_timeout: Duration::from_secs(30),
            watch_pids: self.watch_pids.clone(),
            watch_metrics: self.watch_metrics.clone(),
            sample_every: secs("sample-secs", self.sample_secs.max(0.1))?,
            chaos,
        })
    }
}

impl Command {
    /// The run options of this command.
    pub fn options(&self) -> anyhow::Result<RunOptions> {
        let positive = |name: &str, v: f64| -> anyhow::Result<f64> {
            anyhow::ensure!(v.is_finite() && v > 0.0, "--{name} must be > 0, got {v}");
            Ok(v)
        };
        match self {
            Command::Steady(a) => a.common.options(Mode::Steady {
                rate: positive("rate", a.rate)?,
                duration: secs("duration-secs", positive("duration-secs", a.duration_secs)?)?,
            }),
            Command::Soak(a) => a.common.options(Mode::Soak {
                rate: positive("rate", a.rate)?,
                duration: secs("duration-secs", positive("duration-secs", a.duration_secs)?)?,
            }),
            Command::Burst(a) => a.common.options(Mode::Burst {
                rate: positive("rate", a.rate)?,
                factor: positive("burst-factor", a.burst_factor)?,
                at: secs("burst-at-secs", a.burst_at_secs)?,
                length: secs("burst-secs", positive("burst-secs", a.burst_secs)?)?,
                duration: secs("duration-secs", positive("duration-secs", a.duration_secs)?)?,
            }),
            Command::Ramp(a) => a.common.options(Mode::Ramp {
                start: positive("start-rate", a.start_rate)?,
                step: positive("step-rate", a.step_rate)?,
                max: positive("max-rate", a.max_rate)?,
                step_length: secs("step-secs", positive("step-secs", a.step_secs)?)?,
                slo_p99: Duration::from_secs_f64(positive("slo-p99-ms", a.slo_p99_ms)? / 1000.0),
                warmup: secs("warmup-secs", a.warmup_secs)?,
            }),
        }
    }

    /// Where the report goes.
    pub fn out(&self) -> &std::path::Path {
        match self {
            Command::Steady(a) => &a.common.out,
            Command::Burst(a) => &a.common.out,
            Command::Ramp(a) => &a.common.out,
            Command::Soak(a) => &a.common.out,
        }
    }
}

/// Runs a parsed command; `Ok(true)` when nothing was lost (exit code 0).
pub async fn run_command(cmd: Command) -> anyhow::Result<bool> {
    let out = cmd.out().to_path_buf();
    let common = match &cmd {
        Command::Steady(a) => &a.common,
        Command::Burst(a) => &a.common,
        Command::Ramp(a) => &a.common,
        Command::Soak(a) => &a.common,
    };
    if let Some(n) = common.create_topics {
        anyhow::ensure!(n > 0, "--create-topics must be > 0");
        crate::topics::ensure_pipeline_topics(&common.brokers, &common.topic_prefix, n).await?;
    }
    let report = crate::run::run(cmd.options()?).await?;
    println!("{}", report.markdown());
    eprintln!("report: {}/report.json, {}/report.md (+ SVG plots)", out.display(), out.display());
    Ok(report.lost == 0)
}
