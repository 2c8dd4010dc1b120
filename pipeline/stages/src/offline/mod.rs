//! `docflow process --offline`: the streaming path's own parse and infer
//! stage code behind [`OfflineStages`], with no Kafka and no database;
//! [`driver`] runs parse → embed → score → learn over the file.
//!
//! [`StageAdapter`] calls [`ParseStage::process`] and [`InferStage::process`]
//! — the very functions the Kafka runtime calls — on a private tokio runtime,
//! so a document gets the same text, fields and embedding offline as in the
//! pipeline; scoring and learning are [`driver`] (the same `Scorer` and
//! `Learner` as the score and learn stages). [`run_offline`] is
//! what the CLI calls; the progress bar goes to stderr.

use crate::infer::{Device, InferConfig, InferStage};
use crate::parse::{ParseStage, ParseStageConfig};
use docflow_core::StageError;
use docflow_runtime::{Input, ProcessResult, RecordMeta, Stage};
use docflow_score::model::LayoutDeployment;
pub mod driver;

pub use driver::{load_update, run, save_update, InputLine, OfflineArgs, OfflinePipeline, OfflineStages, OfflineSummary, OutputLine};
use docflow_schemas::{topology, EmbeddedDocument, ParsedDocument, Priority, RawDocument};
use std::path::PathBuf;

/// Arguments of `docflow process`.
#[derive(clap::Args, Debug, Clone)]
pub struct ProcessArgs {
    /// Run over files without Kafka or a database (the only mode of `process`).
    #[arg(long, required = true)]
    pub offline: bool,
    #[command(flatten)]
    pub files: OfflineArgs,
    /// Model folder. Default: $DOCFLOW_MODEL_DIR, else ~/.cache/docflow/models/all-MiniLM-L6-v2.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Where the encoder runs.
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    pub device: Device,
    /// CPU encoder threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Precision of the CPU encoder's dense layers (fp32, bf16, int8).
    #[arg(long, value_enum, default_value_t = docflow_model::Precision::Fp32)]
    pub precision: docflow_model::Precision,
    /// Per-document parse deadline in milliseconds (as `[parse.limits] deadline_ms`).
    #[arg(long)]
    pub parse_deadline_ms: Option<u64>,
}

impl ProcessArgs {
    /// The infer settings these arguments select (everything else as the `[infer]` defaults).
    pub fn infer_config(&self) -> InferConfig {
        InferConfig {
            model_dir: self.model.clone(),
            device: self.device,
            threads: self.threads,
            precision: self.precision,
            ..InferConfig::default()
        }
    }

    /// The parse settings these arguments select.
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
    pub fn new(parse: ParseStageConfig, infer: &InferConfig) -> anyhow::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let infer = InferStage::load(infer)?;
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

/// `docflow process --offline ...`: returns what the run did.
pub fn process_offline(args: &ProcessArgs) -> anyhow::Result<OfflineSummary> {
    anyhow::ensure!(args.offline, "only `docflow process --offline` exists: the streaming path is `docflow run` / `docflow stage`");
    let mut stages = StageAdapter::new(args.parse_config(), &args.infer_config())?;
    driver::run(&args.files, &mut stages)
}

/// What the CLI calls for `docflow process`.
pub fn run_offline(args: &ProcessArgs) -> anyhow::Result<()> {
    process_offline(args).map(|_| ())
}
