//! Reading `model.safetensors`: a memory-mapped file ([`ModelWeights`]),
//! tensors converted to host `f32` ([`Tensor`]), and the typed, validated
//! set of every BERT weight ([`BertWeights`]) that both the CPU encoder and
//! the CUDA encoder build their layers from.
//!
//! Tensor names and layouts are those of Hugging Face `BertModel`
//! checkpoints: linear weights are `[out_features, in_features]`, row-major.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::tensor::{Dtype, Metadata};
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};

use crate::config::BertConfig;
use crate::EncoderError;

/// How weights are turned into `f32`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Round every weight to the nearest fp16 value (then back to f32).
    /// The golden embeddings were made with fp16-rounded weights; this also
    /// lets the CPU reproduce what an fp16 GPU encoder sees.
    pub round_to_f16: bool,
}

/// One tensor on the host, converted to `f32`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// A memory-mapped safetensors file whose header has been read and checked
/// (offsets inside the file, file not truncated).
pub struct ModelWeights {
    path: PathBuf,
    mmap: Mmap,
    metadata: Metadata,
    /// Byte offset of the data section (8-byte length + JSON header).
    data_start: usize,
    options: LoadOptions,
}

impl std::fmt::Debug for ModelWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelWeights").field("path", &self.path).finish_non_exhaustive()
    }
}

impl ModelWeights {
    /// Opens `path` (a `model.safetensors` file) and validates its header.
    pub fn open(path: &Path, options: LoadOptions) -> Result<Self, EncoderError> {
        let file = File::open(path)
            .map_err(|source| EncoderError::ModelFile { path: path.into(), source })?;
        // SAFETY: the map is read-only; model files are not rewritten while
        // docflow runs (a concurrent writer could change bytes under us, which
        // at worst yields wrong weights, never memory unsafety for f32 reads
        // through copies as done here).
        let mmap = unsafe { Mmap::map(&file) }
            .map_err(|source| EncoderError::ModelFile { path: path.into(), source })?;
        let (n, metadata) = SafeTensors::read_metadata(&mmap).map_err(|e| EncoderError::ModelFormat {
            path: path.into(),
            what: "safetensors file",
            source: Box::new(e),
        })?;
        Ok(ModelWeights { path: path.to_path_buf(), mmap, metadata, data_start: 8 + n, options })
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Names of every tensor in the file, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.metadata.tensors().into_keys().collect();
        names.sort();
        names
    }

    /// Tensor `name` as `f32`, checked to have exactly `shape`.
    ///
    /// F32, F16 and BF16 tensors are accepted; anything else is an error
    /// naming the tensor.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, EncoderError> {
        let info = self.metadata.info(name).ok_or_else(|| {
            EncoderError::Model(format!("{}: tensor `{name}` is missing", self.path.display()))
        })?;
        if info.shape != shape {
            return Err(EncoderError::Model(format!(
                "{}: tensor `{name}` has shape {:?}, the config needs {:?}",
                self.path.display(),
                info.shape,
                shape
            )));
        }
        let (start, end) = info.data_offsets;
        let bytes = &self.mmap[self.data_start + start..self.data_start + end];
        let mut data: Vec<f32> = match info.dtype {
            Dtype::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => bytes
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => {
                return Err(EncoderError::Model(format!(
                    "{}: tensor `{name}` has dtype {other:?}; only F32, F16 and BF16 are supported",
                    self.path.display()
                )))
            }
        };
        if let Some(bad) = data.iter().position(|v| !v.is_finite()) {
            return Err(EncoderError::Model(format!(
                "{}: tensor `{name}` holds a non-finite value at element {bad}",
                self.path.display()
            )));
        }
        if self.options.round_to_f16 {
            for v in &mut data {
                *v = half::f16::from_f32(*v).to_f32();
            }
        }
        Ok(Tensor { shape: shape.to_vec(), data })
    }

    /// First 12 hex digits of the SHA-256 of the whole file.
    pub fn sha256_prefix(&self) -> String {
        let digest = Sha256::digest(&self.mmap[..]);
        hex::encode(digest)[..12].to_string()
    }
}

/// Model identity for every output: `"<model dir name>@<12 hex of the
/// SHA-256 of model.safetensors>"`, e.g. `all-MiniLM-L6-v2@53aa51172d14`.
/// Hashing the 90 MB file takes a fraction of a second; call once at start.
pub fn model_version(model_dir: &Path) -> Result<String, EncoderError> {
    let weights = ModelWeights::open(&model_dir.join("model.safetensors"), LoadOptions::default())?;
    Ok(format!("{}@{}", model_dir_name(model_dir), weights.sha256_prefix()))
}

fn model_dir_name(model_dir: &Path) -> String {
    let canonical = model_dir.canonicalize().unwrap_or_else(|_| model_dir.to_path_buf());
    canonical
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".to_string())
}

/// Embedding tables and their LayerNorm (`embeddings.*`).
#[derive(Debug, Clone)]
pub struct EmbeddingWeights {
    /// `[vocab_size, hidden]`
    pub word: Tensor,
    /// `[max_position_embeddings, hidden]`
    pub position: Tensor,
    /// `[type_vocab_size, hidden]`
    pub token_type: Tensor,
    /// LayerNorm scale and shift, `[hidden]` each.
    pub ln_gamma: Tensor,
    pub ln_beta: Tensor,
}

/// A linear layer `y = x Wᵀ + b` in HF layout: `weight` is
/// `[out_features, in_features]`, `bias` is `[out_features]`.
#[derive(Debug, Clone)]
pub struct LinearWeights {
    pub weight: Tensor,
    pub bias: Tensor,
}

/// A LayerNorm: `gamma` and `beta`, `[hidden]` each.
#[derive(Debug, Clone)]
pub struct LayerNormWeights {
    pub gamma: Tensor,
    pub beta: Tensor,
}

/// One encoder layer (`encoder.layer.{i}.*`).
#[derive(Debug, Clone)]
pub struct LayerWeights {
    /// `attention.self.query|key|value`, `[hidden, hidden]` each.
    pub query: LinearWeights,
    pub key: LinearWeights,
    pub value: LinearWeights,
    /// `attention.output.dense`, `[hidden, hidden]`.
    pub attention_output: LinearWeights,
    /// `attention.output.LayerNorm`.
    pub attention_ln: LayerNormWeights,
    /// `intermediate.dense`, `[intermediate, hidden]`.
    pub intermediate: LinearWeights,
    /// `output.dense`, `[hidden, intermediate]`.
    pub output: LinearWeights,
    /// `output.LayerNorm`.
    pub output_ln: LayerNormWeights,
}

/// Every weight BERT inference needs, validated against the config
/// (the pooler is not used: sentence-transformers mean-pools).
#[derive(Debug, Clone)]
pub struct BertWeights {
    pub config: BertConfig,
    pub embeddings: EmbeddingWeights,
    pub layers: Vec<LayerWeights>,
}

impl BertWeights {
    /// Reads `config.json` and `model.safetensors` from `model_dir`.
    pub fn load(model_dir: &Path, options: LoadOptions) -> Result<Self, EncoderError> {
        let config = BertConfig::from_file(&model_dir.join("config.json"))?;
        let file = ModelWeights::open(&model_dir.join("model.safetensors"), options)?;
        Self::from_file(config, &file)
    }

    /// Pulls every tensor the config implies out of `file`, checking shapes.
    pub fn from_file(config: BertConfig, file: &ModelWeights) -> Result<Self, EncoderError> {
        let h = config.hidden_size;
        let prefix = checkpoint_prefix(file);
        let get = |name: &str, shape: &[usize]| file.get(&format!("{prefix}{name}"), shape);
        let linear = |name: &str, out: usize, inp: usize| -> Result<LinearWeights, EncoderError> {
            Ok(LinearWeights {
                weight: get(&format!("{name}.weight"), &[out, inp])?,
                bias: get(&format!("{name}.bias"), &[out])?,
            })
        };
        let layer_norm = |name: &str| -> Result<LayerNormWeights, EncoderError> {
            Ok(LayerNormWeights {
                gamma: get(&format!("{name}.weight"), &[h])?,
                beta: get(&format!("{name}.bias"), &[h])?,
            })
        };
        let ln = layer_norm("embeddings.LayerNorm")?;
        let embeddings = EmbeddingWeights {
            word: get("embeddings.word_embeddings.weight", &[config.vocab_size, h])?,
            position: get(
                "embeddings.position_embeddings.weight",
                &[config.max_position_embeddings, h],
            )?,
            token_type: get("embeddings.token_type_embeddings.weight", &[config.type_vocab_size, h])?,
            ln_gamma: ln.gamma,
            ln_beta: ln.beta,
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            layers.push(LayerWeights {
                query: linear(&format!("{p}.attention.self.query"), h, h)?,
                key: linear(&format!("{p}.attention.self.key"), h, h)?,
                value: linear(&format!("{p}.attention.self.value"), h, h)?,
                attention_output: linear(&format!("{p}.attention.output.dense"), h, h)?,
                attention_ln: layer_norm(&format!("{p}.attention.output.LayerNorm"))?,
                intermediate: linear(&format!("{p}.intermediate.dense"), config.intermediate_size, h)?,
                output: linear(&format!("{p}.output.dense"), h, config.intermediate_size)?,
                output_ln: layer_norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        // A checkpoint with more layers than the config says is a mismatch
        // worth refusing: the config would silently cut the model short.
        let extra = format!("{prefix}encoder.layer.{}.", config.num_hidden_layers);
        if file.names().iter().any(|n| n.starts_with(&extra)) {
            return Err(EncoderError::Model(format!(
                "{}: holds more layers than num_hidden_layers = {} in config.json",
                file.path().display(),
                config.num_hidden_layers
            )));
        }
        Ok(BertWeights { config, embeddings, layers })
    }
}

/// Checkpoints saved from `BertForMaskedLM` and friends prefix every name
/// with `bert.`; `BertModel` checkpoints (like MiniLM's) do not.
fn checkpoint_prefix(file: &ModelWeights) -> &'static str {
    let names = file.names();
    if !names.iter().any(|n| n == "embeddings.word_embeddings.weight")
        && names.iter().any(|n| n == "bert.embeddings.word_embeddings.weight")
    {
        "bert."
    } else {
        ""
    }
}
