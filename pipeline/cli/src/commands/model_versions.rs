//! `docflow model rollback | promote | import | show`: the scoring model
//! versions on the compacted `model.updates` topic. The operations are
//! `docflow_stages::model_admin`'s; this module holds their flags and
//! prints what was published. Kafka security comes from the environment
//! (`docflow_core::kafka_env`), as for every command.

use std::path::PathBuf;
use std::time::Duration;

use docflow_schemas::ModelUpdate;
use docflow_stages::model_admin::{self, UpdatesTopic};

/// Where the model versions are.
#[derive(clap::Args, Debug, Clone)]
pub struct UpdatesTopicArgs {
    /// The compacted topic of model versions.
    #[arg(long, default_value = "model.updates")]
    pub updates_topic: String,
    /// Longest wait for reading the topic to its end (ms).
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
}

impl From<&UpdatesTopicArgs> for UpdatesTopic {
    fn from(a: &UpdatesTopicArgs) -> Self {
        UpdatesTopic { name: a.updates_topic.clone(), timeout: Duration::from_millis(a.timeout_ms) }
    }
}

/// `docflow model rollback`.
#[derive(clap::Args, Debug, Clone)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub topic: UpdatesTopicArgs,
}

/// `docflow model show`.
#[derive(clap::Args, Debug, Clone)]
pub struct ShowArgs {
    #[command(flatten)]
    pub topic: UpdatesTopicArgs,
}

/// `docflow model promote --fraction F`.
#[derive(clap::Args, Debug, Clone)]
pub struct PromoteArgs {
    /// Fraction of documents (by id hash) the newest version serves, in [0, 1].
    #[arg(long)]
    pub fraction: f64,
    #[command(flatten)]
    pub topic: UpdatesTopicArgs,
}

/// `docflow model import FILE`: serve a model saved by `docflow process --offline --save-model`.
#[derive(clap::Args, Debug, Clone)]
pub struct ImportArgs {
    /// The saved model (`--save-model` of the offline mode).
    pub file: PathBuf,
    /// Fraction of documents the imported version serves at first (the rest keep the current one).
    #[arg(long, default_value_t = 1.0)]
    pub fraction: f64,
    #[command(flatten)]
    pub topic: UpdatesTopicArgs,
}

fn report(what: &str, u: &ModelUpdate) {
    println!(
        "{what}: model version {} published (rollout fraction {}, previous version {})",
        u.version,
        u.rollout_fraction,
        u.previous_version.map_or("none".to_string(), |v| v.to_string())
    );
}

fn block_on<F: std::future::Future>(f: F) -> anyhow::Result<F::Output> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(f))
}

pub fn rollback(args: &RollbackArgs, brokers: &str) -> anyhow::Result<()> {
    let kafka = docflow_core::kafka_client_properties()?;
    let u = block_on(model_admin::rollback(&(&args.topic).into(), brokers, &kafka))??;
    report("rollback", &u);
    Ok(())
}

pub fn promote(args: &PromoteArgs, brokers: &str) -> anyhow::Result<()> {
    let kafka = docflow_core::kafka_client_properties()?;
    let u = block_on(model_admin::promote(&(&args.topic).into(), args.fraction, brokers, &kafka))??;
    report("promote", &u);
    Ok(())
}

pub fn import(args: &ImportArgs, brokers: &str) -> anyhow::Result<()> {
    let kafka = docflow_core::kafka_client_properties()?;
    let u = block_on(model_admin::import(&(&args.topic).into(), &args.file, args.fraction, brokers, &kafka))??;
    report("import", &u);
    Ok(())
}

pub fn show(args: &ShowArgs, brokers: &str) -> anyhow::Result<()> {
    let kafka = docflow_core::kafka_client_properties()?;
    println!("{}", model_admin::describe_in_service(&(&args.topic).into(), brokers, &kafka)?);
    Ok(())
}
