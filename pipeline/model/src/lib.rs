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
//! - [`embed`]: [`TextEncoder`], texts → embeddings through any encoder.
//! - [`tiny`]: a tiny random BERT written to disk, for tests.
//! - [`cli`]: what `docflow embed` and `docflow bench encode` run;
//!   [`precision_check`]: `docflow bench precision` (bf16/int8 against fp32).

pub mod bert;
pub mod bf16;
pub mod cli;
pub mod config;
pub mod cpu;
pub mod dense;
pub mod embed;
pub mod encoder;
pub mod int8;
pub mod ops;
pub mod precision;
pub mod precision_check;
pub mod pooling;
pub mod tiny;
pub mod tokenizer;
pub mod weights;

pub use config::BertConfig;
pub use cpu::{CpuEncoder, CpuOptions};
pub use precision::{CpuKernels, Precision};
pub use embed::{LongText, TextEncoder, TextEncoderOptions};
pub use encoder::{Encoder, EncoderError, PackedBatch};
pub use tokenizer::{BertTokenizer, ChunkParams, DEFAULT_MAX_TOKENS};
pub use weights::{model_version, BertWeights, LoadOptions, ModelWeights, Tensor};
