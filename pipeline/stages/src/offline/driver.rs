//! Offline mode: `docflow process --offline --input IN.jsonl [--train LABELED.jsonl] --output OUT.jsonl`.
//!
//! Runs parse → embed → score over a file in input order with no Kafka and no
//! database: in-memory registries stand behind the same traits, and the
//! [`Scorer`] and [`Learner`] are the ones the streaming stages run. Parse and
//! embed come from the caller ([`OfflineStages`]; [`super::StageAdapter`]
//! plugs in the parse and infer stages). How far a run is goes to a
//! [`Progress`] the caller supplies; what it did comes back as an [`OfflineSummary`].
//!
//! Order of work:
//! 1. `--train`: every line must carry a `label`; each is parsed, embedded and
//!    folded in as a labeled example; then the training documents are scored
//!    (outputs not written) and folded in as processed history (vendor amounts,
//!    invoice numbers and content seen), and version 1.. is published.
//! 2. `--input`: in batches, each document is scored with the model version
//!    in service, written, folded into history, and, if it has a `label`,
//!    learned from after its own scoring. New versions are published by count
//!    only ([`PublishPolicy`] without `max_interval`), so a rerun gives the same output.
//!
//! Lines that cannot be read, parsed or embedded go to `<output>.dlq` with the reason.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use docflow_core::StageError;
use docflow_schemas::{AnomalyReason, BusinessFields, EmbeddedDocument, ModelUpdate, ParsedDocument, RawDocument};
use futures::executor::block_on;
use serde::{Deserialize, Serialize};

use docflow_score::anomaly::{MemoryContentRegistry, MemoryInvoiceRegistry};
use docflow_score::learn::{Learner, PublishPolicy};
use docflow_score::model::{LayoutDeployment, ModelError, ModelHandle, ScoringModel};
use docflow_score::Scorer;

/// Why an offline run stopped. A bad input line never stops it: it becomes
/// a dead letter.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// A file could not be opened, read, created or written.
    #[error("cannot {action} {}", path.display())]
    File { action: &'static str, path: PathBuf, source: std::io::Error },
    /// A file that is not a saved model update, or holds an unusable model.
    #[error("{} {problem}", path.display())]
    SavedModel { path: PathBuf, problem: &'static str, source: Box<dyn std::error::Error + Send + Sync> },
    /// Scoring or learning failed for a reason other than the document.
    #[error(transparent)]
    Stage(#[from] StageError),
    /// A model version could not be built, published or installed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A stage returned another number of results than it was given documents.
    #[error("{stage} returned {got} results for {expected} documents")]
    ResultCount { stage: &'static str, got: usize, expected: usize },
    /// The parse and infer stages could not be started (the encoder, above all).
    #[error(transparent)]
    Start(Box<dyn std::error::Error + Send + Sync>),
}

impl OfflineError {
    fn file<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Self + 'a {
        move |source| Self::File { action, path: path.to_owned(), source }
    }
}

/// What one offline run reads and writes, and when it publishes a new
/// model version (the files and knobs of `docflow process --offline`).
#[derive(Debug, Clone, PartialEq)]
pub struct OfflineOptions {
    /// Documents to process, one JSON object per line ([`InputLine`]).
    pub input: PathBuf,
    /// Labeled documents to learn from first (same format, `label` required).
    pub train: Option<PathBuf>,
    /// Where to write one result per line ([`OutputLine`]); dead letters go
    /// to the same path with `.dlq` appended.
    pub output: PathBuf,
    /// Documents parsed and embedded together.
    pub batch_size: usize,
    /// Publish a new model version after this many labels.
    pub publish_every_labels: u64,
    /// Publish a new model version after this many processed documents.
    pub publish_every_results: u64,
    /// Also write the model version in service at the end, as a
    /// `model.updates` record value (MessagePack `ModelUpdate`), so the
    /// streaming path can serve exactly the version tried here.
    pub save_model: Option<PathBuf>,
    /// Field corrections also update the ranker every document is read
    /// with (as the learn stage's `update_ranker`).
    pub update_ranker: bool,
}

/// How far a run is, for a progress display: a run has phases (`train`,
/// then `score`), each with a known number of input lines. The library
/// draws nothing itself; the command line implements this with a progress bar.
pub trait Progress {
    /// A phase starts with `total` input lines to go.
    fn start(&mut self, phase: &'static str, total: u64);
    /// `lines` more input lines of the current phase are done.
    fn advance(&mut self, lines: u64);
    /// The current phase is over.
    fn finish(&mut self);
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&mut self, _phase: &'static str, _total: u64) {}
    fn advance(&mut self, _lines: u64) {}
    fn finish(&mut self) {}
}

/// One input line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputLine {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Field corrections (field → right value), learned after this
    /// document's own processing: later documents of its layout are read
    /// where these values stood.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

impl InputLine {
    /// The input line of a raw document: `text` when the body is UTF-8, else `body_base64`.
    pub fn from_raw(raw: &RawDocument, label: Option<&str>) -> Self {
        let (text, body_base64) = match std::str::from_utf8(&raw.body) {
            Ok(t) => (Some(t.to_string()), None),
            Err(_) => (None, Some(base64::engine::general_purpose::STANDARD.encode(&raw.body))),
        };
        Self { id: raw.id.clone(), content_type: raw.content_type.clone(), text, body_base64, label: label.map(Into::into), fields: BTreeMap::new() }
    }

    /// The raw document a producer would have published for this line.
    pub fn to_raw(&self) -> Result<RawDocument, StageError> {
        if self.id.trim().is_empty() {
            return Err(StageError::user_input("missing_id", "input line has an empty id"));
        }
        let body = match (&self.text, &self.body_base64) {
            (Some(t), None) => t.clone().into_bytes(),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .map_err(|e| StageError::user_input("base64", format!("body_base64 does not decode: {e}")))?,
            _ => {
                return Err(StageError::user_input("body", "exactly one of \"text\" and \"body_base64\" is required"))
            }
        };
        // No content type: the parser sniffs it, as for a producer that sent none.
        Ok(RawDocument { id: self.id.clone(), content_type: self.content_type.clone(), body, metadata: Default::default(), created_at_ms: 0 })
    }
}

/// One output line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputLine {
    pub id: String,
    pub class: String,
    pub class_confidence: f64,
    pub fields: BusinessFields,
    pub anomaly_score: f64,
    pub anomaly_reasons: Vec<AnomalyReason>,
    pub model_version: u64,
}

/// The parse and embed stages, as the streaming path runs them.
pub trait OfflineStages {
    fn parse(&mut self, raw: RawDocument) -> Result<ParsedDocument, StageError>;
    /// Parses a batch; one result per input, in order. The default parses
    /// one at a time; adapters override it to parse in parallel.
    fn parse_batch(&mut self, raws: Vec<RawDocument>) -> Vec<Result<ParsedDocument, StageError>> {
        raws.into_iter().map(|r| self.parse(r)).collect()
    }
    /// Embeds a batch; returns one result per input, in order.
    fn embed(&mut self, docs: Vec<ParsedDocument>) -> Vec<Result<EmbeddedDocument, StageError>>;
    /// Reads the documents parsed from now on with `layouts` (learned from
    /// field corrections, from the model version in service).
    fn use_layouts(&mut self, layouts: LayoutDeployment);
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OfflineSummary {
    pub documents: u64,
    pub dead_letters: u64,
    /// Where the dead letters are (`<output>.dlq`).
    pub dead_letter_file: PathBuf,
    pub anomalies: u64,
    pub trained_labels: u64,
    /// Field corrections learned, and those rejected (`id field: reason`).
    pub fields_learned: u64,
    pub fields_rejected: Vec<String>,
    pub model_version: u64,
    /// The default classes the model in service started from, and the
    /// labels that refined them (`None`: every class learned from labels).
    pub default_classes: Option<(String, u64)>,
}

/// The offline pipeline: one scorer, one learner, in-memory registries.
pub struct OfflinePipeline {
    pub scorer: Scorer,
    pub learner: Learner,
    pub handle: Arc<ModelHandle>,
    /// The last update installed (the version in service), if any.
    served: Option<ModelUpdate>,
}

impl OfflinePipeline {
    pub fn new(policy: PublishPolicy) -> Self {
        // The default classes (version 0), as a fresh streaming deployment starts.
        let model = ScoringModel::initial();
        let handle = Arc::new(ModelHandle::new(&model));
        let scorer = Scorer::new(
            Arc::clone(&handle),
            Arc::new(MemoryInvoiceRegistry::default()),
            Arc::new(MemoryContentRegistry::default()),
        );
        Self { scorer, learner: Learner::new(model, policy), handle, served: None }
    }

    /// Publishes the learner's working model and swaps it in.
    pub fn publish(&mut self) -> Result<(), StageError> {
        let update = self.learner.publish(now_ms())?;
        self.install(update)
    }

    fn install(&mut self, update: ModelUpdate) -> Result<(), StageError> {
        self.handle.install(&update)?;
        self.served = Some(update);
        Ok(())
    }

    fn maybe_publish(&mut self) -> Result<(), StageError> {
        if let Some(update) = self.learner.maybe_publish(Instant::now(), now_ms())? {
            self.install(update)?;
        }
        Ok(())
    }

    /// The `model.updates` record of the version in service (None before the first publish).
    pub fn served_update(&self) -> Option<&ModelUpdate> {
        self.served.as_ref()
    }

    /// Scores one embedded document, folds it into history, then learns its label if any.
    pub fn process(&mut self, doc: EmbeddedDocument, label: Option<&str>) -> Result<OutputLine, StageError> {
        let scored = block_on(self.scorer.score(doc))?;
        let now = Instant::now();
        self.learner.observe_result(&scored, now)?;
        if let Some(label) = label {
            let emb = docflow_score::vector::decode_embedding(&scored.embedded.embedding_f32le, None)?;
            self.learner.add_label(label, &emb, now)?;
        }
        self.maybe_publish()?;
        Ok(OutputLine {
            id: scored.embedded.parsed.id,
            class: scored.class,
            class_confidence: scored.class_confidence,
            fields: scored.embedded.parsed.fields,
            anomaly_score: scored.anomaly_score,
            anomaly_reasons: scored.anomaly_reasons,
            model_version: scored.model_version,
        })
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A dead letter of the offline mode.
#[derive(Debug, Serialize)]
struct OfflineDeadLetter<'a> {
    line: usize,
    id: Option<&'a str>,
    stage: &'a str,
    error_domain: &'a str,
    error_kind: &'a str,
    error_message: &'a str,
}

struct Dlq {
    out: BufWriter<File>,
    path: PathBuf,
    count: u64,
}

impl Dlq {
    fn push(&mut self, line: usize, id: Option<&str>, stage: &str, e: &StageError) -> Result<(), OfflineError> {
        let rec = OfflineDeadLetter {
            line,
            id,
            stage,
            error_domain: e.domain.as_str(),
            error_kind: &e.kind,
            error_message: &e.message,
        };
        write_line(&mut self.out, &rec).map_err(OfflineError::file("write", &self.path))?;
        self.count += 1;
        Ok(())
    }
}

/// `value` as one JSON line.
fn write_line(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

fn read_lines(path: &Path) -> Result<Vec<String>, OfflineError> {
    let f = File::open(path).map_err(OfflineError::file("open", path))?;
    BufReader::new(f).lines().collect::<Result<Vec<_>, _>>().map_err(OfflineError::file("read", path))
}

/// Batches of at most `size` lines, each ending early after a line that
/// carries field corrections: what it teaches must reach the lines after it.
fn corrected_runs<'a, 'b>(lines: &'b [(usize, &'a str)], size: usize) -> Vec<&'b [(usize, &'a str)]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for (i, (_, text)) in lines.iter().enumerate() {
        // (A cheap test first: most lines carry no corrections.)
        let corrected = text.contains("\"fields\"") && serde_json::from_str::<InputLine>(text).is_ok_and(|l| !l.fields.is_empty());
        if corrected || i + 1 - start == size {
            runs.push(&lines[start..=i]);
            start = i + 1;
        }
    }
    if start < lines.len() {
        runs.push(&lines[start..]);
    }
    runs
}

/// Parses and embeds one batch of lines; failures go to the DLQ.
fn prepare(
    stages: &mut dyn OfflineStages,
    batch: &[(usize, &str)],
    dlq: &mut Dlq,
    need_label: bool,
) -> Result<Vec<(EmbeddedDocument, Option<String>)>, OfflineError> {
    let mut raws = Vec::new();
    let mut meta = Vec::new();
    for (no, text) in batch {
        let line: InputLine = match serde_json::from_str(text) {
            Ok(l) => l,
            Err(e) => {
                dlq.push(*no, None, "read", &StageError::user_input("json", e.to_string()))?;
                continue;
            }
        };
        if need_label && line.label.as_deref().is_none_or(|l| l.trim().is_empty()) {
            dlq.push(*no, Some(&line.id), "read", &StageError::user_input("missing_label", "training lines need a label"))?;
            continue;
        }
        match line.to_raw() {
            Ok(raw) => {
                raws.push(raw);
                meta.push((*no, line.id, line.label));
            }
            Err(e) => dlq.push(*no, Some(&line.id), "read", &e)?,
        }
    }
    let results = stages.parse_batch(raws);
    if results.len() != meta.len() {
        return Err(OfflineError::ResultCount { stage: "parse", got: results.len(), expected: meta.len() });
    }
    let mut parsed = Vec::new();
    let mut labels = Vec::new();
    let mut line_nos = Vec::new();
    for (res, (no, id, label)) in results.into_iter().zip(meta) {
        match res {
            Ok(p) => {
                parsed.push(p);
                labels.push(label);
                line_nos.push(no);
            }
            Err(e) => dlq.push(no, Some(&id), "parse", &e)?,
        }
    }
    let ids: Vec<String> = parsed.iter().map(|p| p.id.clone()).collect();
    let embedded = stages.embed(parsed);
    if embedded.len() != ids.len() {
        return Err(OfflineError::ResultCount { stage: "embed", got: embedded.len(), expected: ids.len() });
    }
    let mut out = Vec::new();
    for (((res, label), id), no) in embedded.into_iter().zip(labels).zip(&ids).zip(line_nos) {
        match res {
            Ok(doc) => out.push((doc, label)),
            Err(e) => dlq.push(no, Some(id), "embed", &e)?,
        }
    }
    Ok(out)
}

/// Writes a `model.updates` record value (MessagePack `ModelUpdate`) to `path`.
pub fn save_update(path: &Path, update: &ModelUpdate) -> Result<(), OfflineError> {
    let bytes = rmp_serde::to_vec_named(update)
        .map_err(|e| OfflineError::SavedModel { path: path.to_owned(), problem: "could not be encoded", source: e.into() })?;
    std::fs::write(path, bytes).map_err(OfflineError::file("write", path))
}

/// Reads what [`save_update`] wrote.
pub fn load_update(path: &Path) -> Result<ModelUpdate, OfflineError> {
    let bytes = std::fs::read(path).map_err(OfflineError::file("read", path))?;
    let update: ModelUpdate = rmp_serde::from_slice(&bytes)
        .map_err(|e| OfflineError::SavedModel { path: path.to_owned(), problem: "is not a saved model update", source: e.into() })?;
    docflow_score::model::decode_update(&update)
        .map_err(|e| OfflineError::SavedModel { path: path.to_owned(), problem: "holds an unusable model", source: e.into() })?;
    Ok(update)
}

/// Runs the offline mode, reporting how far it is to `progress`.
pub fn run(args: &OfflineOptions, stages: &mut dyn OfflineStages, progress: &mut dyn Progress) -> Result<OfflineSummary, OfflineError> {
    let policy = PublishPolicy {
        every_labels: args.publish_every_labels,
        every_results: args.publish_every_results,
        max_interval: None,
        update_ranker: args.update_ranker,
        ..PublishPolicy::default()
    };
    let mut pipeline = OfflinePipeline::new(policy);
    let mut summary = OfflineSummary::default();
    let mut dlq_path = args.output.clone().into_os_string();
    dlq_path.push(".dlq");
    let dlq_path = PathBuf::from(dlq_path);
    let dlq_file = File::create(&dlq_path).map_err(OfflineError::file("create", &dlq_path))?;
    let mut dlq = Dlq { out: BufWriter::new(dlq_file), path: dlq_path, count: 0 };
    let batch_size = args.batch_size.max(1);

    if let Some(train) = &args.train {
        let lines = read_lines(train)?;
        progress.start("train", lines.len() as u64);
        let numbered: Vec<(usize, &str)> =
            lines.iter().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l.as_str())).collect();
        let mut history = Vec::new();
        for chunk in numbered.chunks(batch_size) {
            for (doc, label) in prepare(stages, chunk, &mut dlq, true)? {
                let emb = docflow_score::vector::decode_embedding(&doc.embedding_f32le, None)?;
                pipeline.learner.add_label(label.as_deref().unwrap_or_default(), &emb, Instant::now())?;
                summary.trained_labels += 1;
                history.push(doc);
            }
            progress.advance(chunk.len() as u64);
        }
        pipeline.publish()?;
        for doc in history {
            let scored = block_on(pipeline.scorer.score(doc))?;
            pipeline.learner.observe_result(&scored, Instant::now())?;
        }
        pipeline.publish()?;
        progress.finish();
    }

    let lines = read_lines(&args.input)?;
    let out = File::create(&args.output).map_err(OfflineError::file("create", &args.output))?;
    let mut out = BufWriter::new(out);
    progress.start("score", lines.len() as u64);
    let numbered: Vec<(usize, &str)> =
        lines.iter().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l.as_str())).collect();
    let mut layouts_version = 0;
    for chunk in corrected_runs(&numbered, batch_size) {
        let corrected = chunk.last().and_then(|(_, text)| serde_json::from_str::<InputLine>(text).ok()).filter(|l| !l.fields.is_empty());
        for (doc, label) in prepare(stages, chunk, &mut dlq, false)? {
            let id = doc.parsed.id.clone();
            match pipeline.process(doc, label.as_deref()) {
                Ok(line) => {
                    summary.documents += 1;
                    if line.anomaly_score > pipeline.learner.model().thresholds.anomaly.audit_threshold {
                        summary.anomalies += 1;
                    }
                    write_line(&mut out, &line).map_err(OfflineError::file("write", &args.output))?;
                }
                Err(e) => dlq.push(0, Some(&id), "score", &e)?,
            }
        }
        // The corrections of the run's last document, after its own
        // processing, as the learn stage folds them from `docs.feedback`; a
        // correction that taught something is published at once (the
        // streaming learner publishes it within its `max_interval`).
        if let Some(line) = corrected {
            let outcomes = pipeline.learner.correct_fields(&line.id, &line.fields, Instant::now());
            for o in &outcomes {
                match &o.rejected {
                    None => summary.fields_learned += 1,
                    Some(why) => summary.fields_rejected.push(format!("{} {}: {why}", line.id, o.field)),
                }
            }
            if outcomes.iter().any(|o| o.rejected.is_none()) {
                pipeline.publish()?;
            }
        }
        // The parser reads the next documents with the version in service.
        if let Some(update) = pipeline.served_update().filter(|u| u.version != layouts_version) {
            layouts_version = update.version;
            stages.use_layouts(LayoutDeployment::from_update(update)?);
        }
        progress.advance(chunk.len() as u64);
    }
    progress.finish();
    out.flush().map_err(OfflineError::file("write", &args.output))?;
    dlq.out.flush().map_err(OfflineError::file("write", &dlq.path))?;
    summary.dead_letters = dlq.count;
    summary.model_version = pipeline.handle.version();
    if let Some(path) = &args.save_model {
        let update = match pipeline.served_update() {
            Some(u) => u.clone(),
            // Nothing was ever published: the initial version 0 is what served.
            None => docflow_score::model::encode_update(&ScoringModel::initial(), None, 1.0, now_ms())?,
        };
        save_update(path, &update)?;
    }
    summary.dead_letter_file = dlq.path;
    let provenance = &pipeline.learner.model().provenance;
    summary.default_classes = provenance.seed.clone().map(|seed| (seed, provenance.labels));
    Ok(summary)
}
