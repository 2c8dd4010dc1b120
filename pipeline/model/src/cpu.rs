//! [`CpuEncoder`]: the BERT of [`crate::bert`] behind the [`Encoder`] trait,
//! on its own rayon pool so its thread count is exactly what was asked for
//! (GEMMs, attention and element-wise passes all run inside that pool).

use std::path::Path;

use crate::bert::BertModel;
use crate::precision::{CpuKernels, Precision};
use crate::weights::{BertWeights, LoadOptions};
use crate::{Encoder, EncoderError, PackedBatch};

/// How to build a [`CpuEncoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuOptions {
    /// Worker threads (0 = one per available core).
    pub threads: usize,
    /// Longest sequence accepted, special tokens included; capped by the
    /// model's `max_position_embeddings`.
    pub max_tokens: usize,
    /// How weights become f32 (fp16 rounding for golden checks).
    pub load: LoadOptions,
    /// Precision of the dense layers (`fp32` is the reference).
    pub precision: Precision,
    /// GEMM kernels; `None` picks the fastest this CPU supports (tests pass
    /// [`CpuKernels::scalar`] to run the reference kernels).
    pub kernels: Option<CpuKernels>,
}

impl Default for CpuOptions {
    fn default() -> Self {
        CpuOptions {
            threads: 0,
            max_tokens: crate::tokenizer::DEFAULT_MAX_TOKENS,
            load: LoadOptions::default(),
            precision: Precision::Fp32,
            kernels: None,
        }
    }
}

/// The reference encoder: BERT on the CPU (dense layers in f32, bf16 or
/// int8), packed batches, mean pooling, L2 normalisation.
pub struct CpuEncoder {
    model: BertModel,
    pool: rayon::ThreadPool,
    max_tokens: usize,
    kernels: CpuKernels,
}

impl CpuEncoder {
    /// Loads `config.json` and `model.safetensors` from `model_dir`.
    pub fn load(model_dir: &Path, options: CpuOptions) -> Result<Self, EncoderError> {
        let weights = BertWeights::load(model_dir, options.load)?;
        Self::from_weights(weights, options)
    }

    /// Builds from weights already in memory.
    pub fn from_weights(weights: BertWeights, options: CpuOptions) -> Result<Self, EncoderError> {
        let threads = if options.threads == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            options.threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("docflow-cpu-encoder-{i}"))
            .build()
            .map_err(|e| EncoderError::Thread(Box::new(e)))?;
        let max_tokens = options.max_tokens.min(weights.config.max_position_embeddings);
        if max_tokens < 2 {
            return Err(EncoderError::Model(format!("max_tokens {} is too small", options.max_tokens)));
        }
        let kernels = options.kernels.unwrap_or_else(CpuKernels::detect);
        kernels.check_supported().map_err(EncoderError::DeviceUnavailable)?;
        // Quantising the weights is a pass over every matrix: use the pool.
        let model = pool.install(|| BertModel::load_with(weights, options.precision, kernels));
        Ok(CpuEncoder { model, pool, max_tokens, kernels })
    }

    /// Precision of the dense layers.
    pub fn precision(&self) -> Precision {
        self.model.precision()
    }

    /// The kernels in use.
    pub fn kernels(&self) -> CpuKernels {
        self.kernels
    }

    /// One line for the log: precision, GEMM kernel and threads, e.g.
    /// `cpu encoder: int8 GEMMs on AVX-512 VNNI (vpdpbusd), i32 accumulation; 2 threads`.
    pub fn describe(&self) -> String {
        format!("cpu encoder: {}; {} threads", self.kernels.describe(self.precision()), self.threads())
    }

    /// Threads in the encoder's pool.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// The model itself (for hidden states in tests and tools).
    pub fn model(&self) -> &BertModel {
        &self.model
    }

    /// Runs `f` on the encoder's thread pool (e.g. tokenisation, so that it
    /// uses the same threads).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }
}

impl Encoder for CpuEncoder {
    fn dim(&self) -> usize {
        self.model.config().hidden_size
    }

    fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    fn device_name(&self) -> String {
        match self.precision() {
            Precision::Fp32 => "cpu".to_string(),
            p => format!("cpu-{p}"),
        }
    }

    fn encode_packed(&mut self, batch: &PackedBatch) -> Result<Vec<f32>, EncoderError> {
        self.model.validate(batch, self.max_tokens)?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let model = &self.model;
        Ok(self.pool.install(|| model.embed_unchecked(batch)))
    }
}
