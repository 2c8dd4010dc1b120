//! What the `docflow` CLI needs: [`StageCommand`] for `docflow stage <name>`
//! and [`RunCommand`] for `docflow run`, each with an async `run()` that
//! installs the SIGINT/SIGTERM handler and runs until stopped.

use crate::config::{PipelineConfig, StoreBackend};
use crate::infer::Device;
use docflow_runtime::topology::STAGES;
use docflow_runtime::ShutdownSignal;
use std::path::PathBuf;

/// Options shared by `docflow run` and `docflow stage`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PipelineArgs {
    /// TOML config with per-stage tables (`[stage.<name>]`, `[parse]`,
    /// `[infer]`, `[score]`, `[persist]`, `[learn]`, `[store]`); unknown keys are errors.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Kafka bootstrap servers (overrides the file).
    #[arg(long, env = "DOCFLOW_KAFKA_BROKERS")]
    pub brokers: Option<String>,
    /// Encoder device of the infer stage.
    #[arg(long, value_enum)]
    pub device: Option<Device>,
    /// Model directory of the infer stage.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Store backend (`memory` keeps nothing across restarts).
    #[arg(long, value_enum)]
    pub store: Option<StoreBackend>,
    /// Prefix of every topic and consumer group.
    #[arg(long)]
    pub topic_prefix: Option<String>,
}

impl PipelineArgs {
    /// Defaults ← config file ← flags.
    pub fn resolve(&self) -> anyhow::Result<PipelineConfig> {
        let mut cfg = match &self.config {
            Some(path) => PipelineConfig::load(path)?,
            None => PipelineConfig::default(),
        };
        if let Some(b) = &self.brokers {
            cfg.brokers = Some(b.clone());
        }
        if let Some(d) = self.device {
            cfg.infer.device = d;
        }
        if let Some(m) = &self.model {
            cfg.infer.model_dir = Some(m.clone());
        }
        if let Some(s) = self.store {
            cfg.store_backend = s;
        }
        if let Some(p) = &self.topic_prefix {
            cfg.topic_prefix = Some(p.clone());
        }
        Ok(cfg)
    }
}

/// `docflow stage <name>`: one stage in this process.
#[derive(clap::Args, Debug, Clone)]
pub struct StageCommand {
    /// parse | infer | score | persist | learn.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(STAGES))]
    pub name: String,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

impl StageCommand {
    pub async fn run(&self) -> anyhow::Result<()> {
        let cfg = self.pipeline.resolve()?;
        crate::run_one(&self.name, cfg, ShutdownSignal::on_os_signals()?).await
    }
}

/// `docflow run`: every stage in this process.
#[derive(clap::Args, Debug, Clone)]
pub struct RunCommand {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

impl RunCommand {
    pub async fn run(&self) -> anyhow::Result<()> {
        let cfg = self.pipeline.resolve()?;
        crate::run_all(cfg, ShutdownSignal::on_os_signals()?).await
    }
}
