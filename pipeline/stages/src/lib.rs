//! docflow-stages: the five pipeline stages as Kafka stages, glue between
//! the libraries (parse, model/cuda, score, store) and the stage runtime
//! (`docflow-runtime`). Each stage implements `docflow_runtime::Stage`; the
//! runtime does consuming, batching, retries, the DLQ, offsets and shutdown.
//!
//! Where things are:
//! - [`parse`]: [`ParseStage`] `docs.raw.*` → `docs.parsed` (blocking
//!   threads, per-document deadline, lane → `priority`).
//! - [`infer`]: [`InferStage`] `docs.parsed` → `docs.embedded`; the encoder
//!   thread and its dynamic batcher are in [`encoder_thread`], the
//!   byte-bounded embedding LRU in [`cache`].
//! - [`score`]: [`ScoreStage`] `docs.embedded` → `docs.scored`, hot-swapping
//!   the model from `model.updates` ([`updates`] reads that topic).
//! - [`persist`]: [`PersistStage`] `docs.scored` → `docs.results`, only after
//!   the store write; waits out an open circuit breaker.
//! - [`learn`]: [`LearnStage`] `docs.feedback` (+ `docs.scored`) → `model.updates`.
//! - [`offline`]: `docflow process --offline` — the stages' own code over a
//!   JSON-lines file, no Kafka, no database ([`offline::process_offline`]).
//! - [`model_admin`]: `docflow model rollback | promote | import` on `model.updates`.
//! - [`registry`]: the store as the score stage's invoice registry (LWT).
//! - [`config`]: [`PipelineConfig`], the TOML file with one table per stage.
//! - [`topology`]: the standard stages ([`topology::STAGES`]) and which
//!   topics each reads and writes ([`topology::standard_config`]).
//! - [`all`]: [`run_all`] (every stage in one process) and [`run_one`].
//! - [`start`]: [`start::start_one`] / [`start::start_all`] (`docflow stage
//!   <name>`, `docflow run`): the settings resolved, Kafka access checked first.

pub mod all;
pub mod cache;
pub mod config;
pub mod encoder_thread;
pub mod infer;
pub mod learn;
pub mod model_admin;
pub mod offline;
pub mod parse;
pub mod persist;
pub mod registry;
pub mod score;
pub mod start;
pub mod topology;
pub mod updates;

pub use all::{build_stage, run_all, run_one};
pub use config::PipelineConfig;
pub use infer::{InferConfig, InferMetrics, InferStage};
pub use learn::{LearnConfig, LearnStage};
pub use parse::{ParseStage, ParseStageConfig};
pub use persist::{PersistConfig, PersistStage};
pub use score::{ScoreConfig, ScoreStage};
