//! What `docflow embed` and `docflow bench encode|precision` run, as plain
//! settings and functions with typed errors (their command lines live in
//! `pipeline/cli` and `pipeline/bench`):
//!
//! - [`EncoderSettings`]: model folder, device, batching, long-document
//!   policy → a [`TextEncoder`] through an [`EncoderFactory`] (the CLI
//!   plugs in the CUDA encoder; this crate knows only [`cpu_factory`]);
//! - [`embed_stream`]: JSON lines `{"id"?, "text"}` in, `{"id", "embedding"}` out;
//! - [`bench_encode`]: encoder throughput on a documents file.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use crate::cpu::{CpuEncoder, CpuOptions};
use crate::device::{default_model_dir, DeviceChoice, EncoderSpec};
use crate::docs::{parse_record, read_docs, DocsError, RecordError};
use crate::embed::{LongText, TextEncoder, TextEncoderOptions};
use crate::precision::Precision;
use crate::proc_stats::{peak_rss_kb, process_cpu_seconds};
use crate::tokenizer::DEFAULT_MAX_TOKENS;
use crate::{Encoder, EncoderError};

/// Builds an encoder from a model directory.
pub type EncoderFactory<'a> = dyn Fn(&EncoderSpec, &Path) -> Result<Box<dyn Encoder>, EncoderError> + 'a;

/// The factory of a build without GPU support: CPU only. Prints which GEMM
/// kernels run on standard error (standard output carries results).
pub fn cpu_factory(spec: &EncoderSpec, model_dir: &Path) -> Result<Box<dyn Encoder>, EncoderError> {
    match spec.device {
        DeviceChoice::Cpu => {
            let options = CpuOptions { threads: spec.threads, precision: spec.precision, ..CpuOptions::default() };
            let encoder = CpuEncoder::load(model_dir, options)?;
            eprintln!("{}", encoder.describe());
            Ok(Box::new(encoder))
        }
        DeviceChoice::Cuda => Err(EncoderError::DeviceUnavailable("this build has no CUDA encoder".into())),
    }
}

/// Why a tool failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("no model at {} (run `docflow model fetch`, or pass --model DIR)", .0.display())]
    NoModel(PathBuf),
    #[error("cannot start the {device:?} encoder")]
    Start { device: DeviceChoice, source: EncoderError },
    #[error(transparent)]
    Encoder(#[from] EncoderError),
    #[error(transparent)]
    Docs(#[from] DocsError),
    #[error("{} holds no documents", .0.display())]
    NoDocuments(PathBuf),
    #[error("cannot read input")]
    Input(#[source] std::io::Error),
    #[error("input line {line}")]
    Record { line: usize, source: RecordError },
    #[error("cannot write output")]
    Output(#[source] std::io::Error),
    #[error("{precision} embeddings")]
    Precision { precision: Precision, source: EncoderError },
}

/// Model, device and batching of a text encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderSettings {
    /// Device, CPU threads and precision, GPU.
    pub spec: EncoderSpec,
    /// Model directory; `None`: [`default_model_dir`].
    pub model: Option<PathBuf>,
    /// Most tokens per encoder batch.
    pub batch_tokens: usize,
    pub long_text: LongText,
}

impl EncoderSettings {
    pub fn model_dir(&self) -> PathBuf {
        self.model.clone().unwrap_or_else(default_model_dir)
    }

    /// Builds the text encoder, with a hint to fetch the model if missing.
    pub fn text_encoder(&self, make_encoder: &EncoderFactory<'_>) -> Result<TextEncoder, ToolError> {
        let dir = self.model_dir();
        if !dir.join("model.safetensors").is_file() {
            return Err(ToolError::NoModel(dir));
        }
        let encoder = make_encoder(&self.spec, &dir).map_err(|source| ToolError::Start { device: self.spec.device, source })?;
        let options = TextEncoderOptions { long_text: self.long_text, batch_tokens: self.batch_tokens, max_tokens: DEFAULT_MAX_TOKENS };
        Ok(TextEncoder::load(&dir, encoder, options)?)
    }
}

/// Records encoded together: bounds memory on endless input.
const EMBED_CHUNK: usize = 512;

/// `docflow embed`: JSON lines `{"id"?, "text"}` (or bare JSON strings) in,
/// `{"id", "embedding"}` out, in input order. A record without `id` gets
/// its 0-based record number.
pub fn embed_stream(
    settings: &EncoderSettings,
    make_encoder: &EncoderFactory<'_>,
    input: impl BufRead,
    out: &mut impl Write,
) -> Result<(), ToolError> {
    let mut encoder = settings.text_encoder(make_encoder)?;
    let mut pending: Vec<(Value, String)> = Vec::new();
    let mut record = 0u64;
    for (n, line) in input.lines().enumerate() {
        let line = line.map_err(ToolError::Input)?;
        if line.trim().is_empty() {
            continue;
        }
        let (id, text) = parse_record(&line, record).map_err(|source| ToolError::Record { line: n + 1, source })?;
        record += 1;
        pending.push((id, text));
        if pending.len() == EMBED_CHUNK {
            flush_embeddings(&mut encoder, &mut pending, out)?;
        }
    }
    flush_embeddings(&mut encoder, &mut pending, out)
}

fn flush_embeddings(encoder: &mut TextEncoder, pending: &mut Vec<(Value, String)>, out: &mut impl Write) -> Result<(), ToolError> {
    if pending.is_empty() {
        return Ok(());
    }
    let texts: Vec<&str> = pending.iter().map(|(_, t)| t.as_str()).collect();
    let embeddings = encoder.encode_texts(&texts)?;
    for ((id, _), embedding) in pending.iter().zip(embeddings) {
        #[derive(Serialize)]
        struct Line<'a> {
            id: &'a Value,
            embedding: Vec<f32>,
        }
        serde_json::to_writer(&mut *out, &Line { id, embedding }).map_err(|e| ToolError::Output(e.into()))?;
        out.write_all(b"\n").map_err(ToolError::Output)?;
    }
    pending.clear();
    Ok(())
}

/// Settings of [`bench_encode`].
#[derive(Debug, Clone, PartialEq)]
pub struct BenchEncode {
    pub encoder: EncoderSettings,
    /// JSON lines with a "text" field (or bare JSON strings).
    pub docs: PathBuf,
    /// Documents encoded once, untimed, before measuring.
    pub warmup: usize,
    /// Timed passes over all documents (the best is reported).
    pub repeat: usize,
}

/// What `bench encode` prints (one JSON object).
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub device: String,
    pub precision: Precision,
    pub threads: usize,
    pub docs: usize,
    pub tokens: u64,
    pub mean_tokens_per_doc: f64,
    pub seconds: f64,
    /// Process CPU time (user + system, all threads) of the reported pass.
    pub cpu_seconds: f64,
    pub docs_per_s: f64,
    pub tokens_per_s: f64,
    /// Documents per encoder batch.
    pub mean_batch_size: f64,
    pub batch_tokens: usize,
    pub tokenize_seconds: f64,
    pub peak_rss_mb: f64,
}

/// The encoder's throughput on a documents file. Time covers tokenising and
/// encoding (what a caller of `encode(texts)` waits for).
pub fn bench_encode(args: &BenchEncode, make_encoder: &EncoderFactory<'_>) -> Result<BenchReport, ToolError> {
    let texts = read_docs(&args.docs)?;
    if texts.is_empty() {
        return Err(ToolError::NoDocuments(args.docs.clone()));
    }
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let mut encoder = args.encoder.text_encoder(make_encoder)?;
    let warm = args.warmup.min(refs.len());
    if warm > 0 {
        encoder.encode_texts(&refs[..warm])?;
    }
    let t = Instant::now();
    encoder.tokenize(&refs)?;
    let tokenize_seconds = t.elapsed().as_secs_f64();
    let mut best = f64::INFINITY;
    let mut best_cpu = 0.0;
    let mut stats = encoder.stats();
    for _ in 0..args.repeat.max(1) {
        let before = encoder.stats();
        let cpu = process_cpu_seconds();
        let t = Instant::now();
        encoder.encode_texts(&refs)?;
        let dt = t.elapsed().as_secs_f64();
        let after = encoder.stats();
        if dt < best {
            best = dt;
            best_cpu = match (cpu, process_cpu_seconds()) {
                (Some(a), Some(b)) => b - a,
                _ => 0.0,
            };
            stats = crate::embed::EncodeStats {
                batches: after.batches - before.batches,
                sequences: after.sequences - before.sequences,
                tokens: after.tokens - before.tokens,
            };
        }
    }
    let spec = &args.encoder.spec;
    let threads = if spec.threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { spec.threads };
    Ok(BenchReport {
        device: encoder.encoder().device_name(),
        precision: spec.precision,
        threads,
        docs: refs.len(),
        tokens: stats.tokens,
        mean_tokens_per_doc: stats.tokens as f64 / refs.len() as f64,
        seconds: best,
        cpu_seconds: best_cpu,
        docs_per_s: refs.len() as f64 / best,
        tokens_per_s: stats.tokens as f64 / best,
        mean_batch_size: refs.len() as f64 / stats.batches.max(1) as f64,
        batch_tokens: args.encoder.batch_tokens,
        tokenize_seconds,
        peak_rss_mb: peak_rss_kb().map_or(0.0, |kb| kb as f64 / 1024.0),
    })
}
