//! What the `docflow` binary runs for `docflow embed` and
//! `docflow bench encode`: clap argument structs and `run_*` functions.
//!
//! The device is chosen by the caller through an [`EncoderFactory`], so the
//! CLI can plug in the CUDA encoder (crate `docflow-cuda`) while this crate
//! knows only the CPU one ([`cpu_factory`]).

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use serde::Serialize;
use serde_json::Value;

use crate::cpu::{CpuEncoder, CpuOptions};
use crate::embed::{LongText, TextEncoder, TextEncoderOptions};
use crate::precision::Precision;
use crate::tokenizer::{ChunkParams, DEFAULT_MAX_TOKENS};
use crate::{Encoder, EncoderError};

/// Which encoder runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceChoice {
    Cpu,
    Cuda,
}

/// What an [`EncoderFactory`] is asked to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderSpec {
    pub device: DeviceChoice,
    /// CPU encoder threads (0 = all cores); the CUDA encoder ignores it.
    pub threads: usize,
    /// Precision of the CPU encoder's dense layers; the CUDA encoder always
    /// runs its fp16 tensor-core kernels and ignores it.
    pub precision: Precision,
}

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

/// `$DOCFLOW_MODEL_DIR`, else `~/.cache/docflow/models/all-MiniLM-L6-v2`
/// (where `docflow model fetch` puts it).
pub fn default_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCFLOW_MODEL_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/docflow/models/all-MiniLM-L6-v2")
}

/// Long-document policy as a CLI value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LongTextChoice {
    /// Keep the first 256 tokens (sentence-transformers' behaviour).
    Truncate,
    /// Average the embeddings of overlapping 256-token windows.
    ChunkMean,
}

/// Options shared by `embed` and `bench encode`.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// Encoder device.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Model directory (config.json, model.safetensors, tokenizer.json);
    /// default $DOCFLOW_MODEL_DIR or ~/.cache/docflow/models/all-MiniLM-L6-v2.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// CPU encoder threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Precision of the CPU encoder's dense layers: fp32 (reference), bf16
    /// (AVX512_BF16) or int8 (AVX-512 VNNI / AVX2); the CUDA encoder ignores it.
    #[arg(long, value_enum, default_value = "fp32")]
    pub precision: Precision,
    /// Most tokens per encoder batch.
    #[arg(long, default_value_t = 4096)]
    pub batch_tokens: usize,
    /// Documents longer than 256 tokens: truncate or chunk-mean.
    #[arg(long, value_enum, default_value = "truncate")]
    pub long_text: LongTextChoice,
    /// chunk-mean: tokens shared by consecutive windows.
    #[arg(long, default_value_t = 32)]
    pub chunk_overlap: usize,
    /// chunk-mean: most windows per document.
    #[arg(long, default_value_t = 16)]
    pub max_chunks: usize,
}

impl ModelArgs {
    pub fn model_dir(&self) -> PathBuf {
        self.model.clone().unwrap_or_else(default_model_dir)
    }

    /// Builds the text encoder, with a hint to fetch the model if missing.
    pub fn text_encoder(&self, make_encoder: &EncoderFactory<'_>) -> anyhow::Result<TextEncoder> {
        let dir = self.model_dir();
        if !dir.join("model.safetensors").is_file() {
            bail!("no model at {} (run `docflow model fetch`, or pass --model DIR)", dir.display());
        }
        let spec = EncoderSpec { device: self.device, threads: self.threads, precision: self.precision };
        let encoder = make_encoder(&spec, &dir)
            .with_context(|| format!("cannot start the {:?} encoder", self.device))?;
        let long_text = match self.long_text {
            LongTextChoice::Truncate => LongText::Truncate,
            LongTextChoice::ChunkMean => {
                LongText::ChunkMean(ChunkParams { overlap: self.chunk_overlap, max_chunks: self.max_chunks })
            }
        };
        let options = TextEncoderOptions { long_text, batch_tokens: self.batch_tokens, max_tokens: DEFAULT_MAX_TOKENS };
        Ok(TextEncoder::load(&dir, encoder, options)?)
    }
}

/// `docflow embed`: JSON lines `{"id"?, "text"}` in, `{"id", "embedding"}`
/// out, in input order. A record without `id` gets its 0-based record number.
#[derive(Debug, Clone, clap::Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// JSON-lines input (default: standard input).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
}

/// Records encoded together: bounds memory on endless input.
const EMBED_CHUNK: usize = 512;

/// Runs `docflow embed`, writing to standard output.
pub fn run_embed(args: &EmbedArgs, make_encoder: &EncoderFactory<'_>) -> anyhow::Result<()> {
    let input: Box<dyn BufRead> = match &args.input {
        Some(p) if p.as_os_str() != "-" => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        )),
        _ => Box::new(std::io::stdin().lock()),
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    embed_stream(args, make_encoder, input, &mut out)?;
    out.flush()?;
    Ok(())
}

/// The body of [`run_embed`] on any reader and writer.
pub fn embed_stream(
    args: &EmbedArgs,
    make_encoder: &EncoderFactory<'_>,
    input: impl BufRead,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut encoder = args.model.text_encoder(make_encoder)?;
    let mut pending: Vec<(Value, String)> = Vec::new();
    let mut record = 0u64;
    for (n, line) in input.lines().enumerate() {
        let line = line.context("cannot read input")?;
        if line.trim().is_empty() {
            continue;
        }
        let (id, text) = parse_record(&line, record).with_context(|| format!("input line {}", n + 1))?;
        record += 1;
        pending.push((id, text));
        if pending.len() == EMBED_CHUNK {
            flush_embeddings(&mut encoder, &mut pending, out)?;
        }
    }
    flush_embeddings(&mut encoder, &mut pending, out)
}

/// `{"id"?, "text"}` or a bare JSON string.
fn parse_record(line: &str, record: u64) -> anyhow::Result<(Value, String)> {
    match serde_json::from_str::<Value>(line).context("not JSON")? {
        Value::String(text) => Ok((Value::from(record), text)),
        Value::Object(mut map) => {
            let text = match map.remove("text") {
                Some(Value::String(t)) => t,
                Some(_) => bail!("\"text\" must be a string"),
                None => bail!("missing \"text\""),
            };
            Ok((map.remove("id").unwrap_or_else(|| Value::from(record)), text))
        }
        _ => bail!("expected an object {{\"id\"?, \"text\"}}"),
    }
}

fn flush_embeddings(encoder: &mut TextEncoder, pending: &mut Vec<(Value, String)>, out: &mut impl Write) -> anyhow::Result<()> {
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
        serde_json::to_writer(&mut *out, &Line { id, embedding })?;
        out.write_all(b"\n")?;
    }
    pending.clear();
    Ok(())
}

/// `docflow bench encode`: throughput of the encoder on a documents file.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchEncodeArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// JSON lines with a "text" field (or bare JSON strings), as
    /// `pipeline/model/scripts/gen_bench_docs.py` writes them.
    #[arg(long, value_name = "FILE")]
    pub docs: PathBuf,
    /// Documents encoded once, untimed, before measuring.
    #[arg(long, default_value_t = 64)]
    pub warmup: usize,
    /// Timed passes over all documents (the best is reported).
    #[arg(long, default_value_t = 1)]
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

/// Runs the benchmark and prints its report as JSON on standard output.
pub fn run_bench_encode(args: &BenchEncodeArgs, make_encoder: &EncoderFactory<'_>) -> anyhow::Result<BenchReport> {
    let report = bench_encode(args, make_encoder)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(report)
}

/// The benchmark without printing. Time covers tokenising and encoding
/// (what a caller of `encode(texts)` waits for).
pub fn bench_encode(args: &BenchEncodeArgs, make_encoder: &EncoderFactory<'_>) -> anyhow::Result<BenchReport> {
    let texts = read_docs(&args.docs)?;
    if texts.is_empty() {
        bail!("{} holds no documents", args.docs.display());
    }
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let mut encoder = args.model.text_encoder(make_encoder)?;
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
    let threads = if args.model.threads == 0 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    } else {
        args.model.threads
    };
    Ok(BenchReport {
        device: encoder.encoder().device_name(),
        precision: args.model.precision,
        threads,
        docs: refs.len(),
        tokens: stats.tokens,
        mean_tokens_per_doc: stats.tokens as f64 / refs.len() as f64,
        seconds: best,
        cpu_seconds: best_cpu,
        docs_per_s: refs.len() as f64 / best,
        tokens_per_s: stats.tokens as f64 / best,
        mean_batch_size: refs.len() as f64 / stats.batches.max(1) as f64,
        batch_tokens: args.model.batch_tokens,
        tokenize_seconds,
        peak_rss_mb: peak_rss_kb().map_or(0.0, |kb| kb as f64 / 1024.0),
    })
}

/// Texts of a documents file: JSON lines with a `"text"` field or bare
/// JSON strings; blank lines skipped.
pub fn read_docs(path: &Path) -> anyhow::Result<Vec<String>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut texts = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let (_, text) = parse_record(&line, 0).with_context(|| format!("{} line {}", path.display(), n + 1))?;
        texts.push(text);
    }
    Ok(texts)
}

/// User + system CPU time of this process, all threads (Linux
/// `/proc/self/stat`, in the kernel's fixed 100 Hz user ticks).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; fields after it are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11); // fields 14 (utime), 15 (stime)
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Peak resident set size (`VmHWM`) of this process, in kB (Linux).
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
