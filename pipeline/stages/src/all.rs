//! Building stages from a [`PipelineConfig`] and running them: [`run_all`]
//! puts all five in one process (the embedded default for one machine),
//! [`run_one`] runs one (`docflow stage <name>`, one process per stage).

use crate::config::{ConfigError, PipelineConfig, StoreBackend};
use crate::infer::{InferLoadError, InferStage};
use crate::learn::LearnStage;
use crate::parse::ParseStage;
use crate::persist::PersistStage;
use crate::score::{RegistryKind, ScoreStage, ScoreStartError};
use crate::topology::STAGES;
use crate::updates::UpdatesError;
use docflow_runtime::{run_stages, stage_task, RunError, ShutdownSignal, StageTask};
use docflow_store::{AnyStore, CassandraStore, MemoryStore, StoreError};
use std::sync::Arc;

/// Why the pipeline's stages could not be built, or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("connecting to the store {nodes:?}")]
    Store { nodes: Vec<String>, source: StoreError },
    #[error("persist needs a store")]
    NoStore,
    /// The parse or learn stage could not read `model.updates` at start.
    #[error(transparent)]
    Updates(#[from] UpdatesError),
    #[error(transparent)]
    Infer(#[from] InferLoadError),
    #[error(transparent)]
    Score(#[from] ScoreStartError),
    /// A stage stopped on a fatal error (or could not start on Kafka).
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Whether stage `name` needs the store under `cfg`.
fn needs_store(name: &str, cfg: &PipelineConfig) -> bool {
    name == "persist" || (name == "score" && cfg.score.invoice_registry == RegistryKind::Store)
}

/// Opens the configured store (connects to Cassandra, or a fresh memory store).
pub async fn open_store(cfg: &PipelineConfig) -> Result<AnyStore, PipelineError> {
    Ok(match cfg.store_backend {
        StoreBackend::Memory => AnyStore::Memory(Arc::new(MemoryStore::new(&cfg.store))),
        StoreBackend::Cassandra => AnyStore::Cassandra(
            CassandraStore::connect(&cfg.store).await.map_err(|source| PipelineError::Store { nodes: cfg.store.nodes.clone(), source })?,
        ),
    })
}

/// Builds stage `name` (loading models, reading `model.updates`, …) into a
/// task for `run_stages`. `store` is shared when given, opened when needed.
pub async fn build_stage(name: &str, cfg: &PipelineConfig, store: Option<AnyStore>, shutdown: ShutdownSignal) -> Result<StageTask, PipelineError> {
    let sc = cfg.stage_config(name)?;
    let store = match store {
        Some(s) => Some(s),
        None if needs_store(name, cfg) => Some(open_store(cfg).await?),
        None => None,
    };
    Ok(match name {
        "parse" => {
            let score = cfg.score_config();
            let catch_up = std::time::Duration::from_millis(score.catch_up_timeout_ms);
            stage_task(ParseStage::start(cfg.parse.clone(), &score.updates_topic, catch_up, &sc.brokers, &sc.kafka).await?, sc, shutdown)
        }
        "infer" => stage_task(InferStage::start(cfg.infer.clone()).await?, sc, shutdown),
        "score" => stage_task(ScoreStage::start(cfg.score_config(), &sc.brokers, &sc.kafka, store).await?, sc, shutdown),
        "persist" => {
            let store = store.ok_or(PipelineError::NoStore)?;
            stage_task(PersistStage::new(store, cfg.persist.clone(), shutdown.clone()), sc, shutdown)
        }
        "learn" => stage_task(LearnStage::start(cfg.learn_config(), &sc.brokers, &sc.kafka).await?, sc, shutdown),
        other => return Err(ConfigError::UnknownStage { name: other.to_owned() }.into()),
    })
}

/// Runs every stage in this process until `shutdown` (or a fatal error in
/// any, which stops the others). One store connection is shared.
pub async fn run_all(cfg: PipelineConfig, shutdown: ShutdownSignal) -> Result<(), PipelineError> {
    let store = if STAGES.iter().any(|s| needs_store(s, &cfg)) { Some(open_store(&cfg).await?) } else { None };
    let mut tasks = Vec::new();
    for name in STAGES {
        tasks.push(build_stage(name, &cfg, store.clone(), shutdown.clone()).await?);
    }
    Ok(run_stages(tasks, shutdown).await?)
}

/// Runs one stage until `shutdown`.
pub async fn run_one(name: &str, cfg: PipelineConfig, shutdown: ShutdownSignal) -> Result<(), PipelineError> {
    let task = build_stage(name, &cfg, None, shutdown.clone()).await?;
    Ok(run_stages(vec![task], shutdown).await?)
}
