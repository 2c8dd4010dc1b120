//! The encoder's command-line arguments and printing (`docflow_model::tools`,
//! `docflow_model::precision_check`), shared by `docflow embed`,
//! `docflow bench encode|precision` and the `docflow-cpu-bench` program.
//!
//! The model crate has no clap: the value enums here mirror its
//! [`DeviceChoice`], [`Precision`] and long-text policy. The GPU of
//! `--device cuda` comes from the environment (`DOCFLOW_CUDA_DEVICE`,
//! `DOCFLOW_GEMM`), read here once.

use std::path::PathBuf;

use docflow_model::precision_check::{precision_check, PrecisionCheck, PrecisionReport};
use docflow_model::tools::{bench_encode, BenchEncode, BenchReport, EncoderFactory, EncoderSettings};
use docflow_model::{ChunkParams, DeviceChoice, EncoderSpec, GpuEnv, LongText, Precision};

/// Which encoder runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceArg {
    Cpu,
    Cuda,
}

impl From<DeviceArg> for DeviceChoice {
    fn from(d: DeviceArg) -> Self {
        match d {
            DeviceArg::Cpu => DeviceChoice::Cpu,
            DeviceArg::Cuda => DeviceChoice::Cuda,
        }
    }
}

/// Precision of the dense (GEMM) layers of the CPU encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrecisionArg {
    /// f32 everywhere (the reference).
    Fp32,
    /// bfloat16 weights and activations, f32 sums.
    Bf16,
    /// int8 weights (per output channel) and activations (per row), i32 sums.
    Int8,
}

impl From<PrecisionArg> for Precision {
    fn from(p: PrecisionArg) -> Self {
        match p {
            PrecisionArg::Fp32 => Precision::Fp32,
            PrecisionArg::Bf16 => Precision::Bf16,
            PrecisionArg::Int8 => Precision::Int8,
        }
    }
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
    pub device: DeviceArg,
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
    pub precision: PrecisionArg,
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
    /// The settings these arguments select, with the environment's GPU.
    pub fn settings(&self) -> anyhow::Result<EncoderSettings> {
        let long_text = match self.long_text {
            LongTextChoice::Truncate => LongText::Truncate,
            LongTextChoice::ChunkMean => LongText::ChunkMean(ChunkParams { overlap: self.chunk_overlap, max_chunks: self.max_chunks }),
        };
        let spec = EncoderSpec {
            device: self.device.into(),
            threads: self.threads,
            precision: self.precision.into(),
            gpu: GpuEnv::read()?.apply(Default::default()),
        };
        Ok(EncoderSettings { spec, model: self.model.clone(), batch_tokens: self.batch_tokens, long_text })
    }
}

/// `bench encode`: throughput of the encoder on a documents file.
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

/// Runs the benchmark and prints its report as JSON on standard output.
pub fn run_bench_encode(args: &BenchEncodeArgs, make_encoder: &EncoderFactory<'_>) -> anyhow::Result<BenchReport> {
    let settings = BenchEncode { encoder: args.model.settings()?, docs: args.docs.clone(), warmup: args.warmup, repeat: args.repeat };
    let report = bench_encode(&settings, make_encoder)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(report)
}

/// Arguments of `bench precision`.
#[derive(Debug, Clone, clap::Args)]
pub struct PrecisionCheckArgs {
    /// Model, threads and batching (`--precision` is ignored: every
    /// precision of `--compare` runs, and fp32).
    #[command(flatten)]
    pub model: ModelArgs,
    /// JSON lines with a "text" field (or bare JSON strings).
    #[arg(long, value_name = "FILE")]
    pub docs: PathBuf,
    /// Precisions compared with fp32.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "bf16,int8")]
    pub compare: Vec<PrecisionArg>,
}

/// Runs the check and prints its report as JSON on standard output.
pub fn run_precision_check(args: &PrecisionCheckArgs, make_encoder: &EncoderFactory<'_>) -> anyhow::Result<PrecisionReport> {
    let settings = PrecisionCheck {
        encoder: args.model.settings()?,
        docs: args.docs.clone(),
        compare: args.compare.iter().map(|&p| p.into()).collect(),
    };
    let report = precision_check(&settings, make_encoder)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(report)
}
