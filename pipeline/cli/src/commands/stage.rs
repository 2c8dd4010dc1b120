//! `docflow stage <name>` (one stage in this process) and `docflow run`
//! (every stage): the flags, resolved by `docflow_stages::start` over the
//! config file; each runs until SIGINT/SIGTERM.

use std::path::PathBuf;

use docflow_model::Precision;
use docflow_runtime::ShutdownSignal;
use docflow_stages::start::{start_all, start_one, PipelineOverrides};
use docflow_stages::topology::STAGES;

use super::choices::{DeviceArg, StoreBackendArg};

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
    pub device: Option<DeviceArg>,
    /// Precision of the infer stage's CPU encoder (fp32, bf16, int8).
    #[arg(long, value_enum)]
    pub precision: Option<docflow_bench::encoder::PrecisionArg>,
    /// Model directory of the infer stage.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Store backend (`memory` keeps nothing across restarts).
    #[arg(long, value_enum)]
    pub store: Option<StoreBackendArg>,
    /// Prefix of every topic and consumer group.
    #[arg(long)]
    pub topic_prefix: Option<String>,
}

impl From<&PipelineArgs> for PipelineOverrides {
    fn from(a: &PipelineArgs) -> Self {
        PipelineOverrides {
            config: a.config.clone(),
            brokers: a.brokers.clone(),
            device: a.device.map(Into::into),
            precision: a.precision.map(Precision::from),
            model: a.model.clone(),
            store: a.store.map(Into::into),
            topic_prefix: a.topic_prefix.clone(),
        }
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
        let cfg = PipelineOverrides::from(&self.pipeline).resolve()?;
        Ok(start_one(&self.name, cfg, ShutdownSignal::on_os_signals()?).await?)
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
        let cfg = PipelineOverrides::from(&self.pipeline).resolve()?;
        Ok(start_all(cfg, ShutdownSignal::on_os_signals()?).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use docflow_stages::config::StoreBackend;
    use docflow_stages::infer::Device;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: PipelineArgs,
    }

    #[test]
    fn flags_become_overrides() {
        let cli = Cli::try_parse_from(["x", "--device", "auto", "--store", "memory", "--precision", "int8", "--topic-prefix", "t1"]).unwrap();
        let o = PipelineOverrides::from(&cli.args);
        assert_eq!((o.device, o.store, o.precision), (Some(Device::Auto), Some(StoreBackend::Memory), Some(Precision::Int8)));
        assert_eq!(o.topic_prefix.as_deref(), Some("t1"));
        assert_eq!(PipelineOverrides::from(&Cli::try_parse_from(["x"]).unwrap().args).device, None);
        assert!(Cli::try_parse_from(["x", "--device", "tpu"]).is_err());
        assert!(Cli::try_parse_from(["x", "--store", "disk"]).is_err());
    }
}
