//! The BERT encoder on the GPU: weights uploaded once in fp16, activation
//! buffers sized to the largest batch seen, and the forward pass as a fixed
//! sequence of kernel launches on one compute stream.
//!
//! Per layer (X is tokens x hidden):
//! `QKV = X Wqkv^T + b` (one GEMM, Q|K|V weights concatenated at load) →
//! `C = attention(QKV)` → `H = C Wo^T + bo + X` → `X = LN(H)` →
//! `F = GELU(X W1^T + b1)` → `H = F W2^T + b2 + X` → `X = LN(H)`.
//! Then mean pooling + L2 normalisation per sequence.
//!
//! Only the thread that owns the context (see `worker`) touches this type.

use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaSlice, CudaStream, DevicePtr};
use docflow_model::weights::{BertWeights, LinearWeights, Tensor};
use docflow_model::{EncoderError, GemmChoice, PackedBatch};
use half::f16;

use crate::kernels::{self, Epilogue, Kernels};

/// Model shape as the kernels need it.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub vocab: usize,
    pub hidden: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub max_positions: usize,
    pub eps: f32,
}

/// fp16 weights of one linear layer on the device (`[out, in]`, row-major).
pub struct DevLinear {
    pub w: CudaSlice<u16>,
    pub b: CudaSlice<u16>,
    pub out: usize,
    pub inp: usize,
}

struct DevLayer {
    qkv: DevLinear,
    attn_out: DevLinear,
    ln1_g: CudaSlice<u16>,
    ln1_b: CudaSlice<u16>,
    ffn1: DevLinear,
    ffn2: DevLinear,
    ln2_g: CudaSlice<u16>,
    ln2_b: CudaSlice<u16>,
}

/// Activation buffers for up to `tokens` packed tokens.
struct Activations {
    tokens: usize,
    x: CudaSlice<u16>,
    qkv: CudaSlice<u16>,
    ctx: CudaSlice<u16>,
    h: CudaSlice<u16>,
    f: CudaSlice<u16>,
}

/// Device inputs of one batch: ids, cu_seqlens and attention blocks, laid
/// out in one u32 buffer so a single copy uploads them.
pub struct InputLayout {
    pub tokens: usize,
    pub seqs: usize,
    pub blocks: usize,
    /// Offsets (in u32 words) of each part inside the buffer.
    pub cu_off: usize,
    pub blocks_off: usize,
    pub words: usize,
}

impl InputLayout {
    /// Packs `batch` into `buf` (cleared first) and returns where each part lies.
    pub fn pack(batch: &PackedBatch, buf: &mut Vec<u32>) -> InputLayout {
        buf.clear();
        buf.extend_from_slice(&batch.token_ids);
        // int2 blocks need 8-byte alignment; keep every part on a 4-word boundary.
        let pad = |buf: &mut Vec<u32>| {
            while buf.len() % 4 != 0 {
                buf.push(0);
            }
        };
        pad(buf);
        let cu_off = buf.len();
        buf.extend_from_slice(&batch.cu_seqlens);
        pad(buf);
        let blocks_off = buf.len();
        let mut blocks = 0;
        for s in 0..batch.len() {
            let len = (batch.cu_seqlens[s + 1] - batch.cu_seqlens[s]) as usize;
            let mut q = 0;
            while q < len {
                buf.push(s as u32);
                buf.push(q as u32);
                blocks += 1;
                q += kernels::ATT_QUERIES_PER_BLOCK;
            }
        }
        pad(buf);
        InputLayout { tokens: batch.total_tokens(), seqs: batch.len(), blocks, cu_off, blocks_off, words: buf.len() }
    }
}

/// The model resident on one GPU.
pub struct GpuModel {
    pub ctx: Arc<CudaContext>,
    pub kernels: Kernels,
    pub shape: Shape,
    word: CudaSlice<u16>,
    pos: CudaSlice<u16>,
    type0: CudaSlice<u16>,
    emb_ln_g: CudaSlice<u16>,
    emb_ln_b: CudaSlice<u16>,
    layers: Vec<DevLayer>,
    act: Option<Activations>,
    /// Bytes of weights on the device.
    pub weight_bytes: usize,
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> EncoderError {
    EncoderError::Device(Box::new(e))
}

/// Device address of a buffer (event tracking is off: no bookkeeping happens).
pub fn addr<T>(s: &CudaSlice<T>, stream: &CudaStream) -> u64 {
    let (p, _sync) = s.device_ptr(stream);
    p
}

fn to_f16_bits(data: &[f32]) -> Vec<u16> {
    data.iter().map(|&v| f16::from_f32(v).to_bits()).collect()
}

impl GpuModel {
    /// Checks the config against what the kernels support, compiles/loads the
    /// kernels and uploads the weights (fp32 on the host → fp16 on the device).
    pub fn new(ctx: Arc<CudaContext>, stream: &Arc<CudaStream>, w: &BertWeights, gemm: GemmChoice) -> Result<Self, EncoderError> {
        let c = &w.config;
        let shape = Shape {
            vocab: c.vocab_size,
            hidden: c.hidden_size,
            heads: c.num_attention_heads,
            intermediate: c.intermediate_size,
            layers: c.num_hidden_layers,
            max_positions: c.max_position_embeddings,
            eps: c.layer_norm_eps as f32,
        };
        if shape.hidden != shape.heads * kernels::HEAD_DIM {
            return Err(EncoderError::Model(format!(
                "the CUDA encoder needs head dim {} (hidden {} / heads {})",
                kernels::HEAD_DIM,
                shape.hidden,
                shape.heads
            )));
        }
        if shape.hidden % kernels::GEMM_BN != 0 || shape.intermediate % kernels::GEMM_BN != 0 || shape.hidden > kernels::MAX_HIDDEN {
            return Err(EncoderError::Model(format!(
                "the CUDA encoder needs hidden ({}) and intermediate ({}) sizes that are multiples of {} (hidden <= {})",
                shape.hidden,
                shape.intermediate,
                kernels::GEMM_BN,
                kernels::MAX_HIDDEN
            )));
        }
        if c.hidden_act != "gelu" {
            return Err(EncoderError::Model(format!("activation {:?} not supported (gelu only)", c.hidden_act)));
        }
        let kernels = Kernels::load(&ctx, gemm)?;
        let mut bytes = 0usize;
        let mut up = |t: &[f32]| -> Result<CudaSlice<u16>, EncoderError> {
            bytes += t.len() * 2;
            stream.clone_htod(&to_f16_bits(t)).map_err(internal)
        };
        let word = up(&w.embeddings.word.data)?;
        let pos = up(&w.embeddings.position.data)?;
        let type0 = up(&w.embeddings.token_type.data[..shape.hidden])?;
        let emb_ln_g = up(&w.embeddings.ln_gamma.data)?;
        let emb_ln_b = up(&w.embeddings.ln_beta.data)?;
        let mut layers = Vec::with_capacity(w.layers.len());
        for l in &w.layers {
            let lin = |up: &mut dyn FnMut(&[f32]) -> Result<CudaSlice<u16>, EncoderError>,
                       lw: &LinearWeights|
             -> Result<DevLinear, EncoderError> {
                Ok(DevLinear { w: up(&lw.weight.data)?, b: up(&lw.bias.data)?, out: lw.weight.shape[0], inp: lw.weight.shape[1] })
            };
            // Q, K and V stacked into one [3 * hidden, hidden] weight: one GEMM instead of three.
            let cat = |ts: [&Tensor; 3]| -> Vec<f32> { ts.iter().flat_map(|t| t.data.iter().copied()).collect() };
            let qkv = DevLinear {
                w: up(&cat([&l.query.weight, &l.key.weight, &l.value.weight]))?,
                b: up(&cat([&l.query.bias, &l.key.bias, &l.value.bias]))?,
                out: 3 * shape.hidden,
                inp: shape.hidden,
            };
            layers.push(DevLayer {
                qkv,
                attn_out: lin(&mut up, &l.attention_output)?,
                ln1_g: up(&l.attention_ln.gamma.data)?,
                ln1_b: up(&l.attention_ln.beta.data)?,
                ffn1: lin(&mut up, &l.intermediate)?,
                ffn2: lin(&mut up, &l.output)?,
                ln2_g: up(&l.output_ln.gamma.data)?,
                ln2_b: up(&l.output_ln.beta.data)?,
            });
        }
        stream.synchronize().map_err(internal)?;
        Ok(GpuModel { ctx, kernels, shape, word, pos, type0, emb_ln_g, emb_ln_b, layers, act: None, weight_bytes: bytes })
    }

    /// Longest sequence accepted.
    pub fn max_tokens(&self) -> usize {
        kernels::MAX_SEQ.min(self.shape.max_positions)
    }

    /// Rejects what the kernels must never see: empty or over-long sequences,
    /// out-of-vocabulary ids, malformed offsets.
    pub fn validate(&self, batch: &PackedBatch) -> Result<(), EncoderError> {
        let cu = &batch.cu_seqlens;
        if cu.is_empty() || cu[0] != 0 || *cu.last().unwrap() as usize != batch.token_ids.len() {
            return Err(EncoderError::InvalidBatch("cu_seqlens must start at 0 and end at the token count".into()));
        }
        for (i, w) in cu.windows(2).enumerate() {
            if w[1] <= w[0] {
                return Err(EncoderError::InvalidBatch(format!("sequence {i} is empty or offsets decrease")));
            }
            let len = (w[1] - w[0]) as usize;
            if len > self.max_tokens() {
                return Err(EncoderError::InvalidBatch(format!(
                    "sequence {i} has {len} tokens; at most {} allowed",
                    self.max_tokens()
                )));
            }
        }
        if let Some(bad) = batch.token_ids.iter().find(|&&t| t as usize >= self.shape.vocab) {
            return Err(EncoderError::InvalidBatch(format!("token id {bad} outside the vocabulary ({})", self.shape.vocab)));
        }
        if batch.total_tokens() > i32::MAX as usize / (4 * self.shape.intermediate) {
            return Err(EncoderError::InvalidBatch("batch too large".into()));
        }
        Ok(())
    }

    /// Makes sure the activation buffers hold `tokens` tokens. Growing waits
    /// for all queued work first (buffers in use are freed).
    pub fn reserve(&mut self, stream: &Arc<CudaStream>, tokens: usize) -> Result<(), EncoderError> {
        if self.act.as_ref().is_some_and(|a| a.tokens >= tokens) {
            return Ok(());
        }
        self.ctx.synchronize().map_err(internal)?;
        self.act = None;
        let t = tokens.next_multiple_of(1024);
        let h = self.shape.hidden;
        let alloc = |n: usize| stream.alloc_zeros::<u16>(n).map_err(internal);
        self.act = Some(Activations {
            tokens: t,
            x: alloc(t * h)?,
            qkv: alloc(t * 3 * h)?,
            ctx: alloc(t * h)?,
            h: alloc(t * h)?,
            f: alloc(t * self.shape.intermediate)?,
        });
        Ok(())
    }

    /// Enqueues the whole forward pass on `s`. `input` holds the packed
    /// ids / cu_seqlens / blocks (see [`InputLayout`]); `out` receives
    /// `seqs x hidden` f32 embeddings. Nothing is waited for.
    pub fn enqueue_forward(&self, s: &CudaStream, input: u64, lay: &InputLayout, out: u64) -> Result<(), EncoderError> {
        let act = self.act.as_ref().ok_or_else(|| EncoderError::Internal("activations not reserved".into()))?;
        if act.tokens < lay.tokens {
            return Err(EncoderError::Internal("activations smaller than the batch".into()));
        }
        let sh = &self.shape;
        let (t, h) = (lay.tokens, sh.hidden);
        let ids = input;
        let cu = input + 4 * lay.cu_off as u64;
        let blocks = input + 4 * lay.blocks_off as u64;
        let (x, qkv, ctx, hb, f) = (addr(&act.x, s), addr(&act.qkv, s), addr(&act.ctx, s), addr(&act.h, s), addr(&act.f, s));
        let k = &self.kernels;
        k.embed_layernorm(
            s,
            ids,
            cu,
            lay.seqs,
            t,
            addr(&self.word, s),
            addr(&self.pos, s),
            addr(&self.type0, s),
            addr(&self.emb_ln_g, s),
            addr(&self.emb_ln_b, s),
            sh.eps,
            h,
            x,
        )?;
        for l in &self.layers {
            let lin = |d: &DevLinear| (addr(&d.w, s), addr(&d.b, s));
            let (w, b) = lin(&l.qkv);
            k.gemm(s, x, w, b, qkv, t, 3 * h, h, Epilogue::Bias)?;
            k.attention(s, qkv, cu, blocks, lay.blocks, sh.heads, ctx)?;
            let (w, b) = lin(&l.attn_out);
            k.gemm(s, ctx, w, b, hb, t, h, h, Epilogue::BiasResidual(x))?;
            k.layernorm(s, hb, addr(&l.ln1_g, s), addr(&l.ln1_b, s), sh.eps, t, h, x)?;
            let (w, b) = lin(&l.ffn1);
            k.gemm(s, x, w, b, f, t, sh.intermediate, h, Epilogue::BiasGelu)?;
            let (w, b) = lin(&l.ffn2);
            k.gemm(s, f, w, b, hb, t, h, sh.intermediate, Epilogue::BiasResidual(x))?;
            k.layernorm(s, hb, addr(&l.ln2_g, s), addr(&l.ln2_b, s), sh.eps, t, h, x)?;
        }
        k.mean_pool(s, x, cu, lay.seqs, h, out)?;
        Ok(())
    }
}
