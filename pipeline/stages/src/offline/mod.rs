//! `docflow process --offline`: the streaming path's own parse and infer
//! stage code behind [`OfflineStages`], with no Kafka and no database;
//! [`driver`] runs parse → embed → score → learn over the file.
//!
//! [`StageAdapter`] calls [`ParseStage::process`] and [`InferStage::process`]
//! — the very functions the Kafka runtime calls — on a private tokio runtime,
//! so a document gets the same text, fields and embedding offline as in the
//! pipeline; scoring and learning are [`driver`] (the same `Scorer` and
//! `Learner` as the score and learn stages). [`process_offline`] is what
//! `docflow process --offline` calls, with [`OfflineSettings`] from its
//! flags and a [`Progress`] that draws its progress bar.

use crate::infer::{Device, InferConfig, InferStage};
use docflow_model::Precision;
use crate::parse::{ParseStage, ParseStageConfig};
use docflow_core::StageError;
use docflow_runtime::{Input, ProcessResult, RecordMeta, Stage};
use docflow_score::model::LayoutDeployment;
pub mod driver;

pub use driver::{
    load_update, run, save_update, InputLine, NoProgress, OfflineError, OfflineOptions, OfflinePipeline, OfflineStages, OfflineSummary,
    OutputLine, Progress,
};
use docflow_schemas::{topology, EmbeddedDocument, ParsedDocument, Priority, RawDocument};
use std::path::PathBuf;

/// What `docflow process --offline` runs: the files, and the parse and
/// infer settings that differ from the stages' defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct OfflineSettings {
    pub files: OfflineOptions,
    /// Model folder. `None`: `$DOCFLOW_MODEL_DIR`, else `~/.cache/docflow/models/all-MiniLM-L6-v2`.
    pub model: Option<PathBuf>,
    /// Where the encoder runs.
    pub device: Device,
    /// CPU encoder threads (0 = one per core).
    pub threads: usize,
    /// Precision of the CPU encoder's dense layers.
    pub precision: Precision,
    /// Per-document parse deadline in milliseconds (as `[parse.limits] deadline_ms`).
    pub parse_deadline_ms: Option<u64>,
}

impl OfflineSettings {
    /// The infer settings these select (everything else as the `[infer]` defaults).
    pub fn infer_config(&self) -> InferConfig {
        InferConfig {
            model_dir: self.model.clone(),
            device: self.device,
            threads: self.threads,
            precision: self.precision,
            ..InferConfig::default()
        }
    }

    /// The parse settings these select.
    pub fn parse_config(&self) -> ParseStageConfig {
        let mut c = ParseStageConfig::default();
        if let Some(ms) = self.parse_deadline_ms {
            c.limits.deadline_ms = ms;
        }
        c
    }
}

/// The parse and infer stages, called directly instead of through Kafka.
pub struct StageAdapter {
    parse: ParseStage,
    infer: InferStage,
    rt: tokio::runtime::Runtime,
    seq: i64,
}

impl StageAdapter {
    /// Loads the encoder (blocking) and builds both stages.
    pub fn new(parse: ParseStageConfig, infer: &InferConfig) -> Result<Self, OfflineError> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| OfflineError::Start(e.into()))?;
        let infer = InferStage::load(infer).map_err(|e| OfflineError::Start(e.into()))?;
        Ok(Self { parse: ParseStage::new(parse), infer, rt, seq: 0 })
    }

    /// `encoder_version` of every embedding.
    pub fn encoder_version(&self) -> &str {
        self.infer.version()
    }

    /// Inputs as the runtime would build them: key = id, from `topic`.
    fn inputs<T>(&mut self, topic: &str, values: Vec<(String, T)>) -> Vec<Input<T>> {
        values
            .into_iter()
            .map(|(id, v)| {
                self.seq += 1;
                let meta = RecordMeta { topic: topic.into(), partition: 0, offset: self.seq, timestamp_ms: None };
                Input::new(v, Some(id.into_bytes()), meta)
            })
            .collect()
    }
}

/// One stage result as one value: the stages here emit exactly one output per input.
fn single<T>(r: ProcessResult<T>) -> Result<T, StageError> {
    let mut outputs = r?;
    match outputs.len() {
        1 => Ok(outputs.remove(0).value),
        n => Err(StageError::internal("offline_adapter", format!("stage returned {n} outputs for one input"))),
    }
}

impl OfflineStages for StageAdapter {
    fn parse(&mut self, raw: RawDocument) -> Result<ParsedDocument, StageError> {
        self.parse_batch(vec![raw]).pop().unwrap_or_else(|| Err(StageError::internal("offline_adapter", "parse returned nothing")))
    }

    fn parse_batch(&mut self, raws: Vec<RawDocument>) -> Vec<Result<ParsedDocument, StageError>> {
        let n = raws.len();
        // `docs.raw.normal`: the lane (→ `priority`) a producer without a preference uses.
        let batch = self.inputs(Priority::Normal.raw_topic().name(), raws.into_iter().map(|r| (r.id.clone(), r)).collect());
        let results = self.rt.block_on(self.parse.process(batch));
        debug_assert_eq!(results.len(), n);
        results.into_iter().map(single).collect()
    }

    fn embed(&mut self, docs: Vec<ParsedDocument>) -> Vec<Result<EmbeddedDocument, StageError>> {
        let batch = self.inputs(topology::PARSED.name(), docs.into_iter().map(|d| (d.id.clone(), d)).collect());
        let results = self.rt.block_on(self.infer.process(batch));
        results.into_iter().map(single).collect()
    }

    fn use_layouts(&mut self, layouts: LayoutDeployment) {
        self.parse.layouts().store(std::sync::Arc::new(layouts));
    }
}

/// Loads the encoder, then runs parse → embed → score → learn over the
/// files with the stages' own code; returns what the run did.
pub fn process_offline(settings: &OfflineSettings, progress: &mut dyn Progress) -> Result<OfflineSummary, OfflineError> {
    let mut infer = settings.infer_config();
    infer.apply_env_from(|k| std::env::var(k).ok()).map_err(|e| OfflineError::Start(Box::new(e)))?;
    let mut stages = StageAdapter::new(settings.parse_config(), &infer)?;
    driver::run(&settings.files, &mut stages, progress)
}
