//! [`InferStage`]: `ParsedDocument` → `EmbeddedDocument`.
//!
//! Per batch: embedding-cache lookups; tokenisation of the misses in
//! parallel (rayon, on a blocking thread, while the encoder is busy with
//! earlier documents); one job per document to the [`EncoderThread`],
//! whose dynamic batcher packs jobs from every concurrent batch up to the
//! token budget for the encoder's worker (two batches in flight on a GPU).
//! Every output carries the model version.
//!
//! The device, GPU and GEMM are chosen once, from [`InferConfig`] (the
//! `[infer]` table, with the environment's `DOCFLOW_CUDA_DEVICE` and
//! `DOCFLOW_GEMM` applied by [`InferConfig::apply_env_from`]).

use crate::cache::{cache_key, EmbeddingCache};
use crate::encoder_thread::{BatchPolicy, BatchStats, EncoderThread};
use docflow_core::StageError;
use docflow_model::{
    model_version, BertTokenizer, ChunkParams, CpuEncoder, CpuOptions, DeviceChoice, EncoderError, GemmChoice, GpuEnv, GpuSettings, OneAtATime,
    Precision, SubmitBatch, Worker,
};
use docflow_runtime::telemetry::StepSpan;
use docflow_runtime::{Input, Output, ProcessResult, Stage};
use docflow_schemas::{embedding_to_bytes, EmbeddedDocument, ParsedDocument};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where the encoder runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// The CPU encoder of `docflow-model`.
    #[default]
    Cpu,
    /// The CUDA encoder of `docflow-cuda` (GPU from `DOCFLOW_CUDA_DEVICE`, default 0).
    Cuda,
    /// CUDA when a GPU is usable here, else CPU.
    Auto,
}

impl Device {
    /// `Auto` resolved on this machine.
    pub fn resolve(self) -> DeviceChoice {
        match self {
            Device::Cpu => DeviceChoice::Cpu,
            Device::Cuda => DeviceChoice::Cuda,
            Device::Auto => match gpu_absent_reason() {
                None => DeviceChoice::Cuda,
                Some(why) => {
                    tracing::info!("device auto: using the CPU ({why})");
                    DeviceChoice::Cpu
                }
            },
        }
    }
}

#[cfg(feature = "cuda")]
fn gpu_absent_reason() -> Option<String> {
    docflow_cuda::gpu_absent_reason()
}

#[cfg(not(feature = "cuda"))]
fn gpu_absent_reason() -> Option<String> {
    Some("this build has no CUDA support (feature `cuda`)".into())
}

/// The encoder's worker for `device`: the CPU encoder one batch at a time
/// (it logs which GEMM kernels run for `precision` on this CPU), or the
/// GPU with two batches in flight.
fn start_worker(
    device: DeviceChoice,
    gpu: GpuSettings,
    model_dir: &std::path::Path,
    threads: usize,
    max_tokens: usize,
    precision: Precision,
) -> Result<Arc<dyn SubmitBatch>, EncoderError> {
    match device {
        DeviceChoice::Cpu => {
            let model_dir = model_dir.to_path_buf();
            let worker = Worker::spawn("docflow-encoder", move || {
                let encoder = CpuEncoder::load(&model_dir, CpuOptions { threads, max_tokens, precision, ..CpuOptions::default() })?;
                tracing::info!(precision = %precision, "{}", encoder.describe());
                Ok(OneAtATime::new(Box::new(encoder)))
            })?;
            Ok(Arc::new(worker))
        }
        #[cfg(feature = "cuda")]
        DeviceChoice::Cuda => {
            if precision != Precision::Fp32 {
                tracing::info!(precision = %precision, "precision is a CPU encoder setting: the CUDA encoder runs fp16");
            }
            let _ = (threads, max_tokens);
            Ok(Arc::new(docflow_cuda::start_worker(model_dir, gpu)?))
        }
        #[cfg(not(feature = "cuda"))]
        DeviceChoice::Cuda => {
            let _ = gpu;
            Err(EncoderError::DeviceUnavailable("this build has no CUDA support (feature `cuda`)".into()))
        }
    }
}

/// Long-document policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LongTextMode {
    /// Keep the first `max_tokens` tokens (sentence-transformers' behaviour).
    #[default]
    Truncate,
    /// Average the embeddings of overlapping windows.
    ChunkMean,
}

/// Settings of the infer stage (`[infer]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InferConfig {
    /// Model directory (config.json, model.safetensors, tokenizer.json);
    /// default `$DOCFLOW_MODEL_DIR` or `~/.cache/docflow/models/all-MiniLM-L6-v2`.
    pub model_dir: Option<PathBuf>,
    /// `cpu`, `cuda` or `auto`.
    pub device: Device,
    /// CUDA device index (environment: `DOCFLOW_CUDA_DEVICE`).
    pub gpu: usize,
    /// The CUDA encoder's GEMM: `auto` (checked and timed at start-up),
    /// `mma` or `wgmma` (environment: `DOCFLOW_GEMM`).
    pub gemm: GemmChoice,
    /// CPU encoder threads (0 = one per core).
    pub threads: usize,
    /// Precision of the CPU encoder's dense layers: `fp32` (the reference),
    /// `bf16` (AVX512_BF16) or `int8` (AVX-512 VNNI, AVX2 fallback). The
    /// CUDA encoder always runs fp16 and ignores it.
    pub precision: Precision,
    /// `truncate` or `chunk-mean`.
    pub long_text: LongTextMode,
    /// `chunk-mean`: tokens shared by consecutive windows.
    pub chunk_overlap: usize,
    /// `chunk-mean`: most windows per document.
    pub max_chunks: usize,
    /// Longest sequence in tokens, `[CLS]`/`[SEP]` included.
    pub max_tokens: usize,
    /// A batch closes when it holds this many tokens.
    pub batch_tokens: usize,
    /// ... or when its first document has waited this long (ms). The
    /// default, 0, closes a batch as soon as the encoder is free with what is
    /// queued (continuous batching, as Triton's default queue delay): under
    /// load documents queue while the encoder runs, so batches fill by
    /// themselves, and at low rates nobody waits for company. A positive
    /// wait buys fuller batches at low rates (a GPU) with latency.
    pub max_wait_ms: u64,
    /// Bytes of the embedding LRU cache (0 disables it).
    pub cache_bytes: usize,
}

impl Default for InferConfig {
    fn default() -> Self {
        Self {
            model_dir: None,
            device: Device::Cpu,
            gpu: 0,
            gemm: GemmChoice::Auto,
            threads: 0,
            precision: Precision::Fp32,
            long_text: LongTextMode::Truncate,
            chunk_overlap: ChunkParams::default().overlap,
            max_chunks: ChunkParams::default().max_chunks,
            max_tokens: docflow_model::DEFAULT_MAX_TOKENS,
            batch_tokens: 16_384,
            max_wait_ms: 0,
            cache_bytes: 64 << 20,
        }
    }
}

impl InferConfig {
    pub fn model_dir(&self) -> PathBuf {
        self.model_dir.clone().unwrap_or_else(docflow_model::device::default_model_dir)
    }

    /// The GPU settings.
    pub fn gpu_settings(&self) -> GpuSettings {
        GpuSettings { gpu: self.gpu, gemm: self.gemm }
    }

    /// Applies the environment's GPU overrides (`DOCFLOW_CUDA_DEVICE`,
    /// `DOCFLOW_GEMM`): the one place they are read.
    pub fn apply_env_from(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<(), docflow_model::SettingsError> {
        let gpu = GpuEnv::from_lookup(lookup)?.apply(self.gpu_settings());
        self.gpu = gpu.gpu;
        self.gemm = gpu.gemm;
        Ok(())
    }
}

/// Counters of the infer stage.
#[derive(Debug, Default)]
pub struct InferMetrics {
    /// Documents answered from the embedding cache.
    pub cache_hits_total: AtomicU64,
    /// Documents that went to the encoder.
    pub cache_misses_total: AtomicU64,
}

/// Why the infer stage could not load its model or start its encoder.
#[derive(Debug, thiserror::Error)]
pub enum InferLoadError {
    #[error("no model at {} (run `docflow model fetch`, or set infer.model_dir / --model)", .0.display())]
    NoModel(PathBuf),
    #[error("model version")]
    Version(#[source] EncoderError),
    #[error("model config")]
    Config(#[source] EncoderError),
    #[error("tokenizer")]
    Tokenizer(#[source] EncoderError),
    #[error("starting the encoder")]
    Encoder(#[source] EncoderError),
    #[error("tokenising the warm-up text")]
    Warmup(#[source] EncoderError),
    /// The loading thread panicked.
    #[error("loading the model")]
    Loader(#[from] tokio::task::JoinError),
}

/// The infer stage.
pub struct InferStage {
    encoder: EncoderThread,
    tokenizer: Arc<BertTokenizer>,
    long_text: LongTextMode,
    chunks: ChunkParams,
    version: Arc<str>,
    cache: Arc<Mutex<EmbeddingCache>>,
    metrics: Arc<InferMetrics>,
}

impl InferStage {
    /// Loads tokenizer and model, starts and warms up the encoder thread.
    /// Blocking (model load); from async code use [`InferStage::start`].
    pub fn load(config: &InferConfig) -> Result<Self, InferLoadError> {
        let dir = config.model_dir();
        if !dir.join("model.safetensors").is_file() {
            return Err(InferLoadError::NoModel(dir));
        }
        let version = model_version(&dir).map_err(InferLoadError::Version)?;
        // Sequences are cut at `max_tokens` or the model's position table,
        // whichever is shorter: a longer sequence is one the encoder refuses.
        let positions = docflow_model::BertConfig::from_file(&dir.join("config.json")).map_err(InferLoadError::Config)?.max_position_embeddings;
        let max_tokens = config.max_tokens.min(positions);
        let tokenizer = BertTokenizer::from_file(&dir.join("tokenizer.json"), max_tokens).map_err(InferLoadError::Tokenizer)?;
        let device = config.device.resolve();
        let worker = start_worker(device, config.gpu_settings(), &dir, config.threads, max_tokens, config.precision).map_err(InferLoadError::Encoder)?;
        let warmup = vec![tokenizer.encode("docflow warm-up: invoice 42, total 1,234.56 EUR").map_err(InferLoadError::Warmup)?];
        let policy = BatchPolicy { batch_tokens: config.batch_tokens.max(1), max_wait: Duration::from_millis(config.max_wait_ms) };
        let encoder = EncoderThread::spawn(worker, warmup, policy).map_err(InferLoadError::Encoder)?;
        tracing::info!(%version, device = encoder.device(), "infer stage loaded");
        Ok(Self {
            encoder,
            tokenizer: Arc::new(tokenizer),
            long_text: config.long_text,
            chunks: ChunkParams { overlap: config.chunk_overlap, max_chunks: config.max_chunks.max(1) },
            version: version.into(),
            cache: Arc::new(Mutex::new(EmbeddingCache::new(config.cache_bytes))),
            metrics: Arc::new(InferMetrics::default()),
        })
    }

    /// [`InferStage::load`] on a blocking thread.
    pub async fn start(config: InferConfig) -> Result<Self, InferLoadError> {
        tokio::task::spawn_blocking(move || Self::load(&config)).await?
    }

    /// Cache counters.
    pub fn metrics(&self) -> Arc<InferMetrics> {
        self.metrics.clone()
    }

    /// Batcher counters.
    pub fn batch_stats(&self) -> Arc<BatchStats> {
        self.encoder.stats().clone()
    }

    /// `encoder_version` of every output.
    pub fn version(&self) -> &str {
        &self.version
    }

    fn cache_get(&self, key: u128) -> Option<Vec<f32>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(key)
    }

    async fn tokenize(&self, texts: Vec<String>) -> Vec<Result<Vec<Vec<u32>>, StageError>> {
        let (tok, mode, chunks) = (self.tokenizer.clone(), self.long_text, self.chunks);
        let n = texts.len();
        let joined = tokio::task::spawn_blocking(move || {
            texts
                .par_iter()
                .map(|t| {
                    let r = match mode {
                        LongTextMode::Truncate => tok.encode(t).map(|ids| vec![ids]),
                        LongTextMode::ChunkMean => tok.encode_chunks(t, chunks),
                    };
                    r.map_err(crate::encoder_thread::encoder_error)
                })
                .collect::<Vec<_>>()
        })
        .await;
        joined.unwrap_or_else(|e| (0..n).map(|_| Err(StageError::internal("tokenizer_panic", e.to_string()))).collect())
    }
}

impl Stage for InferStage {
    type Input = ParsedDocument;
    type Output = EmbeddedDocument;

    fn name(&self) -> &str {
        "infer"
    }

    async fn process(&self, batch: Vec<Input<ParsedDocument>>) -> Vec<ProcessResult<EmbeddedDocument>> {
        let keys: Vec<u128> = batch.iter().map(|i| cache_key(&i.value.text)).collect();
        let mut embeddings: Vec<Option<Result<Vec<f32>, StageError>>> = keys.iter().map(|k| self.cache_get(*k).map(Ok)).collect();
        let hits = embeddings.iter().filter(|e| e.is_some()).count() as u64;
        self.metrics.cache_hits_total.fetch_add(hits, Ordering::Relaxed);
        self.metrics.cache_misses_total.fetch_add(batch.len() as u64 - hits, Ordering::Relaxed);

        let misses: Vec<usize> = (0..batch.len()).filter(|i| embeddings[*i].is_none()).collect();
        let texts = misses.iter().map(|i| batch[*i].value.text.clone()).collect();
        // Batch-wide steps: one span below the first traced document, linked to the others.
        let batch_span = |name: &'static str| {
            let mut span = StepSpan::start_for_batch(misses.iter().map(|i| &batch[*i].span), name, Vec::new);
            span.set_attribute("docs", misses.len());
            span
        };
        let tokenize_span = batch_span("tokenize");
        let tokenized = self.tokenize(texts).await;
        drop(tokenize_span);
        // All jobs are queued before any is awaited, so the batcher sees them together.
        let jobs = tokenized.into_iter().map(|t| {
            let encoder = &self.encoder;
            async move { encoder.encode(t?).await }
        });
        let encode_span = batch_span("encode_batch");
        let encoded = futures::future::join_all(jobs).await;
        drop(encode_span);
        {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            for (i, r) in misses.into_iter().zip(encoded) {
                if let Ok(v) = &r {
                    cache.insert(keys[i], v.clone());
                }
                embeddings[i] = Some(r);
            }
        }
        batch
            .into_iter()
            .zip(embeddings)
            .map(|(input, e)| {
                let e = e.unwrap_or_else(|| Err(StageError::internal("infer", "document lost between cache and encoder")))?;
                let key = input.key_or_empty();
                let doc = EmbeddedDocument { parsed: input.value, embedding_f32le: embedding_to_bytes(&e), encoder_version: self.version.to_string() };
                Ok(vec![Output::new(key, doc)])
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gpu_comes_from_the_file_and_the_environment_overrides_it() {
        let mut c: InferConfig = toml::from_str("gpu = 1\ngemm = \"wgmma\"").unwrap();
        assert_eq!(c.gpu_settings(), GpuSettings { gpu: 1, gemm: GemmChoice::Wgmma });
        c.apply_env_from(|_| None).unwrap();
        assert_eq!(c.gpu_settings(), GpuSettings { gpu: 1, gemm: GemmChoice::Wgmma });
        c.apply_env_from(|k| (k == "DOCFLOW_GEMM").then(|| "mma".to_string())).unwrap();
        assert_eq!(c.gpu_settings(), GpuSettings { gpu: 1, gemm: GemmChoice::Mma });
        c.apply_env_from(|k| (k == "DOCFLOW_CUDA_DEVICE").then(|| "3".to_string())).unwrap();
        assert_eq!(c.gpu, 3);
        assert!(c.apply_env_from(|k| (k == "DOCFLOW_CUDA_DEVICE").then(|| "first".to_string())).is_err());
        assert!(toml::from_str::<InferConfig>("gemm = \"cublas\"").is_err());
    }
}
