//! BERT (Devlin et al., 2019) as all-MiniLM-L6-v2 uses it, on packed,
//! unpadded batches, read top to bottom like the paper:
//!
//! 1. [`Embeddings`]: word + position + token-type, then LayerNorm;
//! 2. per [`Layer`]: multi-head self-[`Attention`] (residual + LayerNorm),
//!    then the feed-forward block, [`Intermediate`] (GELU) and
//!    [`Output`] (residual + LayerNorm);
//! 3. [`BertModel`]: the stack, then sentence-transformers' mean pooling and
//!    L2 normalisation.
//!
//! The config is [`crate::config::BertConfig`]; weights come validated from
//! [`crate::weights::BertWeights`]. A packed batch holds sequences end to
//! end (`cu_seqlens`); every dense layer runs over all tokens at once, and
//! attention runs per (sequence, head) inside each sequence's rows, so no
//! work or memory goes to padding.

use gemm::Parallelism;
use rayon::prelude::*;

use crate::config::BertConfig;
use crate::dense::{Dense, DenseScratch};
use crate::ops::{gelu_inplace, l2_normalize, softmax_inplace, LayerNorm};
use crate::precision::{CpuKernels, Precision};
use crate::weights::{BertWeights, EmbeddingWeights, LayerNormWeights, LayerWeights, LinearWeights};
use crate::{EncoderError, PackedBatch};

/// Token embeddings: `word[id] + position[p] + token_type[0]`, LayerNorm.
#[derive(Debug, Clone)]
pub struct Embeddings {
    word: Vec<f32>,
    position: Vec<f32>,
    /// Row 0 of the token-type table: docflow encodes single sequences.
    token_type0: Vec<f32>,
    layer_norm: LayerNorm,
    hidden: usize,
}

impl Embeddings {
    pub fn load(w: EmbeddingWeights, config: &BertConfig) -> Self {
        let hidden = config.hidden_size;
        Embeddings {
            word: w.word.data,
            position: w.position.data,
            token_type0: w.token_type.data[..hidden].to_vec(),
            layer_norm: LayerNorm::load(
                LayerNormWeights { gamma: w.ln_gamma, beta: w.ln_beta },
                config.layer_norm_eps,
            ),
            hidden,
        }
    }

    /// `[total_tokens, hidden]` input of the first layer. Positions restart
    /// at 0 for every sequence of the packed batch.
    pub fn forward(&self, batch: &PackedBatch) -> Vec<f32> {
        let h = self.hidden;
        let mut out = vec![0.0f32; batch.total_tokens() * h];
        // Each task owns whole sequences, so positions are local offsets.
        let mut per_seq: Vec<(&mut [f32], &[u32])> = Vec::with_capacity(batch.len());
        let mut rest = out.as_mut_slice();
        for i in 0..batch.len() {
            let seq = batch.sequence(i);
            let (head, tail) = rest.split_at_mut(seq.len() * h);
            per_seq.push((head, seq));
            rest = tail;
        }
        per_seq.into_par_iter().for_each(|(rows, ids)| {
            for (pos, (row, &id)) in rows.chunks_exact_mut(h).zip(ids).enumerate() {
                let word = &self.word[id as usize * h..][..h];
                let position = &self.position[pos * h..][..h];
                for j in 0..h {
                    row[j] = word[j] + position[j] + self.token_type0[j];
                }
                self.layer_norm.row(row);
            }
        });
        out
    }
}

/// Multi-head self-attention with its output projection, residual and
/// LayerNorm (HF `BertAttention` = `BertSelfAttention` + `BertSelfOutput`).
#[derive(Debug, Clone)]
pub struct Attention {
    /// Q, K and V projections fused into one `[hidden, 3·hidden]` GEMM.
    qkv: Dense,
    output: Dense,
    layer_norm: LayerNorm,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    /// Fuses `query`, `key` and `value` into one projection.
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        query: LinearWeights,
        key: LinearWeights,
        value: LinearWeights,
        output: LinearWeights,
        layer_norm: LayerNormWeights,
        config: &BertConfig,
        precision: Precision,
        kernels: CpuKernels,
    ) -> Self {
        Attention {
            qkv: Dense::concat(vec![query, key, value], precision, kernels),
            output: Dense::load(output, precision, kernels),
            layer_norm: LayerNorm::load(layer_norm, config.layer_norm_eps),
            heads: config.num_attention_heads,
            head_dim: config.head_dim(),
        }
    }

    /// `x ← LayerNorm(x + Attention(x) Wₒᵀ + bₒ)`.
    pub fn forward(&self, x: &mut Vec<f32>, batch: &PackedBatch, scratch: &mut Scratch) {
        let hidden = self.heads * self.head_dim;
        let tokens = batch.total_tokens();
        scratch.qkv.resize(tokens * 3 * hidden, 0.0);
        self.qkv.forward(x, tokens, None, &mut scratch.qkv, &mut scratch.dense);
        scratch.context.resize(tokens * hidden, 0.0);
        self.attend(&scratch.qkv, batch, &mut scratch.context);
        scratch.hidden.resize(tokens * hidden, 0.0);
        self.output.forward(&scratch.context, tokens, Some(x), &mut scratch.hidden, &mut scratch.dense);
        self.layer_norm.forward_inplace(&mut scratch.hidden);
        std::mem::swap(x, &mut scratch.hidden);
    }

    /// `softmax(Q Kᵀ / √d) V` for every head of every sequence, each within
    /// its own sequence's rows of the packed `qkv` (`[tokens, Q|K|V]`).
    fn attend(&self, qkv: &[f32], batch: &PackedBatch, context: &mut [f32]) {
        let (d, hidden) = (self.head_dim, self.heads * self.head_dim);
        let qkv_stride = 3 * hidden;
        let scale = 1.0 / (d as f32).sqrt();
        let ctx = SendPtr(context.as_mut_ptr());
        let tasks: Vec<(usize, usize)> =
            (0..batch.len()).flat_map(|s| (0..self.heads).map(move |h| (s, h))).collect();
        tasks.into_par_iter().for_each_init(Vec::new, |scores: &mut Vec<f32>, (s, h)| {
            let start = batch.cu_seqlens[s] as usize;
            let len = batch.cu_seqlens[s + 1] as usize - start;
            scores.resize(len * len, 0.0);
            let q = qkv[start * qkv_stride + h * d..].as_ptr();
            let k = qkv[start * qkv_stride + hidden + h * d..].as_ptr();
            let v = qkv[start * qkv_stride + 2 * hidden + h * d..].as_ptr();
            // SAFETY: q, k, v point into `qkv` at rows start..start+len of
            // this sequence (row stride 3·hidden, columns h·d..h·d+d of their
            // part), all in bounds because cu_seqlens was validated against
            // the token count; `scores` is a len×len local buffer.
            unsafe {
                gemm::gemm(
                    len, len, d,
                    scores.as_mut_ptr(), 1, len as isize, false,
                    q, 1, qkv_stride as isize,
                    k, qkv_stride as isize, 1,
                    0.0, scale, false, false, false, Parallelism::None,
                );
            }
            for row in scores.chunks_exact_mut(len) {
                softmax_inplace(row);
            }
            let out = ctx.get();
            // SAFETY: each (sequence, head) task writes only rows
            // start..start+len, columns h·d..h·d+d of `context`: the tasks'
            // regions are disjoint, and all lie inside `context`, which
            // outlives the parallel loop.
            unsafe {
                gemm::gemm(
                    len, d, len,
                    out.add(start * hidden + h * d), 1, hidden as isize, false,
                    scores.as_ptr(), 1, len as isize,
                    v, 1, qkv_stride as isize,
                    0.0, 1.0, false, false, false, Parallelism::None,
                );
            }
        });
    }
}

/// A raw pointer the attention tasks share; each writes a disjoint region.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: see `Attention::attend`: concurrent writes never overlap.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    // A method, not `.0`: closures must capture the whole Send wrapper.
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// First half of the feed-forward block: `GELU(x W₁ᵀ + b₁)`.
#[derive(Debug, Clone)]
pub struct Intermediate {
    dense: Dense,
}

impl Intermediate {
    pub fn load(w: LinearWeights, precision: Precision, kernels: CpuKernels) -> Self {
        Intermediate { dense: Dense::load(w, precision, kernels) }
    }

    pub fn forward(&self, x: &[f32], tokens: usize, out: &mut Vec<f32>, scratch: &mut DenseScratch) {
        out.resize(tokens * self.dense.out_features(), 0.0);
        self.dense.forward(x, tokens, None, out, scratch);
        gelu_inplace(out);
    }
}

/// Second half of the feed-forward block: `LayerNorm(x + h W₂ᵀ + b₂)`.
#[derive(Debug, Clone)]
pub struct Output {
    dense: Dense,
    layer_norm: LayerNorm,
}

impl Output {
    pub fn load(w: LinearWeights, ln: LayerNormWeights, eps: f64, precision: Precision, kernels: CpuKernels) -> Self {
        Output { dense: Dense::load(w, precision, kernels), layer_norm: LayerNorm::load(ln, eps) }
    }

    /// `x ← LayerNorm(x + intermediate W₂ᵀ + b₂)`.
    pub fn forward(
        &self,
        intermediate: &[f32],
        x: &mut Vec<f32>,
        tokens: usize,
        tmp: &mut Vec<f32>,
        scratch: &mut DenseScratch,
    ) {
        tmp.resize(x.len(), 0.0);
        self.dense.forward(intermediate, tokens, Some(x), tmp, scratch);
        self.layer_norm.forward_inplace(tmp);
        std::mem::swap(x, tmp);
    }
}

/// One transformer encoder layer: attention, then feed-forward.
#[derive(Debug, Clone)]
pub struct Layer {
    attention: Attention,
    intermediate: Intermediate,
    output: Output,
}

impl Layer {
    pub fn load(w: LayerWeights, config: &BertConfig, precision: Precision, kernels: CpuKernels) -> Self {
        let LayerWeights {
            query,
            key,
            value,
            attention_output,
            attention_ln,
            intermediate,
            output,
            output_ln,
        } = w;
        Layer {
            attention: Attention::load(
                query,
                key,
                value,
                attention_output,
                attention_ln,
                config,
                precision,
                kernels,
            ),
            intermediate: Intermediate::load(intermediate, precision, kernels),
            output: Output::load(output, output_ln, config.layer_norm_eps, precision, kernels),
        }
    }

    pub fn forward(&self, x: &mut Vec<f32>, batch: &PackedBatch, scratch: &mut Scratch) {
        self.attention.forward(x, batch, scratch);
        let tokens = batch.total_tokens();
        self.intermediate.forward(x, tokens, &mut scratch.intermediate, &mut scratch.dense);
        self.output.forward(&scratch.intermediate, x, tokens, &mut scratch.hidden, &mut scratch.dense);
    }
}

/// Activation buffers reused across layers of one forward pass.
#[derive(Debug, Default)]
pub struct Scratch {
    qkv: Vec<f32>,
    context: Vec<f32>,
    hidden: Vec<f32>,
    intermediate: Vec<f32>,
    dense: DenseScratch,
}

/// The whole model: embeddings, the layer stack, mean pooling, L2 norm.
#[derive(Debug, Clone)]
pub struct BertModel {
    config: BertConfig,
    embeddings: Embeddings,
    layers: Vec<Layer>,
    precision: Precision,
}

impl BertModel {
    /// Builds every layer from validated weights (consumes them), in f32.
    pub fn load(w: BertWeights) -> Self {
        Self::load_with(w, Precision::Fp32, CpuKernels::detect())
    }

    /// Builds every layer with its dense layers at `precision` on `kernels`
    /// (int8 weights are quantised here, once).
    pub fn load_with(w: BertWeights, precision: Precision, kernels: CpuKernels) -> Self {
        let config = w.config;
        let embeddings = Embeddings::load(w.embeddings, &config);
        let layers = w.layers.into_iter().map(|l| Layer::load(l, &config, precision, kernels)).collect();
        BertModel { config, embeddings, layers, precision }
    }

    /// Precision of the dense layers.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// Checks a packed batch against the model's limits; every encoder
    /// entry point calls this before touching memory.
    pub fn validate(&self, batch: &PackedBatch, max_tokens: usize) -> Result<(), EncoderError> {
        let cu = &batch.cu_seqlens;
        if cu.first().copied().unwrap_or(0) != 0 {
            return Err(EncoderError::InvalidBatch("cu_seqlens must start at 0".into()));
        }
        if !cu.is_empty() && *cu.last().unwrap() as usize != batch.token_ids.len() {
            return Err(EncoderError::InvalidBatch(format!(
                "cu_seqlens ends at {} but the batch holds {} tokens",
                cu.last().unwrap(),
                batch.token_ids.len()
            )));
        }
        if cu.is_empty() && !batch.token_ids.is_empty() {
            return Err(EncoderError::InvalidBatch("tokens without cu_seqlens".into()));
        }
        let limit = max_tokens.min(self.config.max_position_embeddings);
        for (i, w) in cu.windows(2).enumerate() {
            if w[1] <= w[0] {
                return Err(EncoderError::InvalidBatch(format!("sequence {i} is empty or reversed")));
            }
            let len = (w[1] - w[0]) as usize;
            if len > limit {
                return Err(EncoderError::InvalidBatch(format!(
                    "sequence {i} has {len} tokens, more than the limit {limit}"
                )));
            }
        }
        if let Some(bad) = batch.token_ids.iter().find(|&&t| t as usize >= self.config.vocab_size) {
            return Err(EncoderError::InvalidBatch(format!(
                "token id {bad} outside the vocabulary of {}",
                self.config.vocab_size
            )));
        }
        Ok(())
    }

    /// Last hidden states, `[total_tokens, hidden]` (checks the batch).
    pub fn hidden_states(&self, batch: &PackedBatch) -> Result<Vec<f32>, EncoderError> {
        self.validate(batch, self.config.max_position_embeddings)?;
        Ok(self.hidden_states_unchecked(batch))
    }

    fn hidden_states_unchecked(&self, batch: &PackedBatch) -> Vec<f32> {
        let mut x = self.embeddings.forward(batch);
        let mut scratch = Scratch::default();
        for layer in &self.layers {
            layer.forward(&mut x, batch, &mut scratch);
        }
        x
    }

    /// Sentence embeddings: the mean of each sequence's token vectors
    /// (every token counts: packing has no padding to mask), L2-normalised.
    /// Row-major `[sequences, hidden]`. Checks the batch first.
    pub fn embed(&self, batch: &PackedBatch) -> Result<Vec<f32>, EncoderError> {
        self.validate(batch, self.config.max_position_embeddings)?;
        Ok(self.embed_unchecked(batch))
    }

    /// [`embed`](Self::embed) of a batch already checked by
    /// [`validate`](Self::validate) (out-of-range ids would index out of
    /// bounds).
    pub(crate) fn embed_unchecked(&self, batch: &PackedBatch) -> Vec<f32> {
        let h = self.config.hidden_size;
        let states = self.hidden_states_unchecked(batch);
        let mut out = vec![0.0f32; batch.len() * h];
        out.par_chunks_mut(h).enumerate().for_each(|(i, emb)| {
            let (start, end) = (batch.cu_seqlens[i] as usize, batch.cu_seqlens[i + 1] as usize);
            for row in states[start * h..end * h].chunks_exact(h) {
                for (e, v) in emb.iter_mut().zip(row) {
                    *e += v;
                }
            }
            let inv = 1.0 / (end - start) as f32;
            emb.iter_mut().for_each(|e| *e *= inv);
            l2_normalize(emb);
        });
        out
    }
}
