//! docflow-model: all-MiniLM-L6-v2 (BERT, mean pooling, L2 normalised).
//!
//! Where things are:
//! - [`encoder`]: the [`Encoder`] trait and [`PackedBatch`], shared by the CPU
//!   encoder here and the CUDA encoder in `docflow-cuda`.
//! - [`config`]: [`BertConfig`] from `config.json`.
//! - [`weights`]: `model.safetensors`, memory-mapped and validated;
//!   [`BertWeights`] is the typed set of host f32 tensors both encoders
//!   build from; [`model_version`] is the identity put in every output.
//! - [`tokenizer`]: `tokenizer.json` with sentence-transformers truncation
//!   (256 tokens) and `chunk-mean` windows.
//! - [`ops`]: linear (the `gemm` crate), LayerNorm, GELU, softmax.
//! - [`precision`]: [`Precision`] (fp32, bf16, int8) and the GEMM kernels
//!   this CPU runs for each ([`CpuKernels`]).
//! - [`int8`], [`bf16`]: the reduced-precision linear layers and their
//!   SIMD micro-kernels (each tested against a scalar reference);
//!   [`dense`]: the linear layer at whichever precision was chosen.
//! - [`bert`]: the model, one struct per layer with `load()`/`forward()`,
//!   on packed batches.
//! - [`cpu`]: [`CpuEncoder`], the BERT behind the [`Encoder`] trait.
//! - [`pooling`]: combining chunk embeddings, cosine.
//! - [`worker`]: [`Worker`], the thread that owns an encoder and keeps its
//!   slots busy (two batches in flight on a GPU, one on the CPU);
//!   [`batcher`]: [`Batcher`], documents packed into batches for it — the
//!   infer stage's path and the GPU benchmark's.
//! - [`embed`]: [`TextEncoder`], texts → embeddings through any encoder.
//! - [`tiny`]: a tiny random BERT written to disk, for tests.
//! - [`device`]: where an encoder runs ([`EncoderSpec`]: device, GPU
//!   index, GEMM choice), the environment's GPU overrides read in one place;
//! - [`tools`]: what `docflow embed` and `docflow bench encode` run, as
//!   plain settings and functions; [`docs`]: documents files;
//!   [`precision_check`]: `docflow bench precision` (bf16/int8 against fp32);
//!   [`proc_stats`]: CPU time and peak memory for the reports.

/// Calls `$kernel::<M, N>($tile)` with the const generics of a tile of
/// `mr ≤ 4` rows and `nb ≤ 4` panels: the shapes the AVX-512 GEMM
/// micro-kernels (bf16 and int8 VNNI, both 4 × 4) are compiled for.
/// (Declared before the modules that use it.)
macro_rules! dispatch_tile_4x4 {
    ($kernel:ident, $tile:expr, $mr:expr, $nb:expr) => {
        match ($mr, $nb) {
            (1, 1) => $kernel::<1, 1>($tile),
            (1, 2) => $kernel::<1, 2>($tile),
            (1, 3) => $kernel::<1, 3>($tile),
            (1, _) => $kernel::<1, 4>($tile),
            (2, 1) => $kernel::<2, 1>($tile),
            (2, 2) => $kernel::<2, 2>($tile),
            (2, 3) => $kernel::<2, 3>($tile),
            (2, _) => $kernel::<2, 4>($tile),
            (3, 1) => $kernel::<3, 1>($tile),
            (3, 2) => $kernel::<3, 2>($tile),
            (3, 3) => $kernel::<3, 3>($tile),
            (3, _) => $kernel::<3, 4>($tile),
            (_, 1) => $kernel::<4, 1>($tile),
            (_, 2) => $kernel::<4, 2>($tile),
            (_, 3) => $kernel::<4, 3>($tile),
            (_, _) => $kernel::<4, 4>($tile),
        }
    };
}

pub mod batcher;
pub mod bert;
pub mod bf16;
pub mod config;
pub mod cpu;
pub mod dense;
pub mod docs;
pub mod device;
pub mod embed;
pub mod encoder;
pub mod int8;
pub mod ops;
pub mod precision;
pub mod precision_check;
pub mod pooling;
pub mod proc_stats;
pub mod tiny;
pub mod tokenizer;
pub mod tools;
pub mod weights;
pub mod worker;

pub use config::BertConfig;
pub use device::{DeviceChoice, EncoderSpec, GemmChoice, GpuEnv, GpuSettings, SettingsError};
pub use cpu::{CpuEncoder, CpuOptions};
pub use precision::{CpuKernels, Precision};
pub use embed::{LongText, TextEncoder, TextEncoderOptions};
pub use batcher::{BatchPolicy, BatchStats, Batcher};
pub use encoder::{Encoder, EncoderError, PackedBatch};
pub use worker::{BatchDevice, OneAtATime, SubmitBatch, Worker, WorkerInfo};
pub use tokenizer::{BertTokenizer, ChunkParams, DEFAULT_MAX_TOKENS};
pub use weights::{model_version, BertWeights, LoadOptions, ModelWeights, Tensor};
