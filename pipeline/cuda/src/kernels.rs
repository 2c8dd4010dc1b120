//! The compiled kernel modules loaded into a context, one typed launcher per
//! kernel. Every launch checks the shapes its kernel assumes; the `// SAFETY:`
//! comment at each launch says what the kernel reads and writes.
//!
//! Buffers are passed as raw device addresses (`u64`): the encoder thread owns
//! every allocation and orders all work on its streams itself (cudarc's event
//! tracking is turned off), so the typed-slice bookkeeping would only add
//! host overhead per launch.

use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaFunction, CudaStream, DriverError, LaunchConfig, PushKernelArg};

use crate::nvrtc;

/// Head dimension the attention kernel is written for.
pub const HEAD_DIM: usize = 32;
/// Longest sequence the attention kernel accepts (K and V live in shared memory).
pub const MAX_SEQ: usize = 256;
/// Queries per attention block.
pub const ATT_QUERIES_PER_BLOCK: usize = 64;
/// GEMM tile: N must be a multiple of this, K of [`GEMM_BK`].
pub const GEMM_BN: usize = 128;
pub const GEMM_BM: usize = 128;
pub const GEMM_BK: usize = 32;
/// Largest hidden size of the row kernels (LayerNorm, embeddings, pooling).
pub const MAX_HIDDEN: usize = 1024;

/// Fused epilogue of a GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epilogue {
    /// `Y = X W^T + b`
    Bias,
    /// `Y = GELU(X W^T + b)`
    BiasGelu,
    /// `Y = X W^T + b + R` (R given as a device address; may equal Y)
    BiasResidual(u64),
}

/// Which GEMM implementation runs the linear layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum GemmImpl {
    /// `mma.sync` m16n8k16 (gemm.cu), any sm_80+ GPU.
    MmaSync,
    /// Hopper warpgroup MMA (gemm_sm90.cu), sm_90 only.
    Wgmma,
}

/// The three epilogue variants of one GEMM implementation.
struct GemmFns {
    bias: CudaFunction,
    gelu: CudaFunction,
    residual: CudaFunction,
}

/// Dynamic shared memory of the wgmma GEMM (3 stages x 32 KiB + 1 KiB alignment slack).
const WG_SMEM_BYTES: u32 = 3 * 32768 + 1024;

/// Every kernel of the encoder, loaded into one context.
pub struct Kernels {
    embed_layernorm: CudaFunction,
    mma: GemmFns,
    wgmma: Option<GemmFns>,
    /// The implementation [`Kernels::gemm`] uses (chosen at load, see [`Kernels::load`]).
    pub gemm_impl: GemmImpl,
    /// Why that implementation was chosen (self-test and timing at start-up).
    pub gemm_choice: String,
    attention_varlen: CudaFunction,
    layernorm: CudaFunction,
    mean_pool_l2norm: CudaFunction,
    /// Modules that came from the on-disk cache (the rest were compiled now).
    pub cached_modules: usize,
}

/// Why the kernels could not be loaded or a launch failed.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The GPU is older than the kernels' instructions (sm_80).
    #[error("compute capability {major}.{minor}: the kernels need sm_80 or newer")]
    Unsupported { major: i32, minor: i32 },
    /// A module did not compile (or NVRTC is missing).
    #[error(transparent)]
    Compile(#[from] nvrtc::CompileError),
    /// A CUDA driver call failed; `what` says which.
    #[error("{what}")]
    Driver {
        what: String,
        #[source]
        source: DriverError,
    },
    /// A module loaded without a kernel it should define.
    #[error("kernel {0} missing from its module")]
    Missing(String),
    /// A launch with a shape its kernel does not handle (a caller's bug).
    #[error("{kernel}: {why}")]
    Shape { kernel: &'static str, why: String },
}

impl KernelError {
    /// Wraps a driver error with what was being done.
    pub fn driver(what: impl Into<String>) -> impl FnOnce(DriverError) -> Self {
        let what = what.into();
        move |source| Self::Driver { what, source }
    }
}

/// Error from loading or launching.
pub type KResult<T> = Result<T, KernelError>;

impl Kernels {
    /// Compiles (or reads from the cache) every module for the context's
    /// compute capability and loads it. On sm_90 the wgmma GEMM is loaded
    /// too, checked against the mma.sync GEMM on a random problem and timed
    /// against it; the faster of the two (if it agrees) serves
    /// [`Kernels::gemm`]. `gemm` other than `Auto` forces the choice.
    pub fn load(ctx: &Arc<CudaContext>, gemm: docflow_model::GemmChoice) -> KResult<Self> {
        let (major, minor) = ctx.compute_capability().map_err(KernelError::driver("compute capability"))?;
        if major < 8 {
            return Err(KernelError::Unsupported { major, minor });
        }
        let arch = format!("compute_{major}{minor}");
        let mut driver = 0i32;
        // SAFETY: the driver library is loaded (a context exists); the pointer is valid for a write.
        unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut driver) };
        let mut cached = 0;
        let mut funcs = std::collections::HashMap::new();
        for m in docflow_kernels::MODULES {
            let target = match m.only_arch {
                None => arch.clone(),
                // Architecture-specific modules load only on exactly that architecture.
                Some(a) if a.trim_end_matches('a') == arch => a.to_string(),
                Some(_) => continue,
            };
            let (ptx, hit) = nvrtc::cached_ptx(m, &target, driver)?;
            cached += hit as usize;
            let module = ctx
                .load_module(cudarc::nvrtc::Ptx::from_src(ptx))
                .map_err(KernelError::driver(format!("loading module {} ({target})", m.name)))?;
            for k in m.kernels {
                let f = module.load_function(k).map_err(KernelError::driver(format!("kernel {k}")))?;
                funcs.insert(*k, f);
            }
        }
        let mut take = |k: &str| funcs.remove(k).ok_or_else(|| KernelError::Missing(k.to_owned()));
        let mma = GemmFns { bias: take("gemm_bias")?, gelu: take("gemm_bias_gelu")?, residual: take("gemm_bias_residual")? };
        let wgmma = match (take("gemm_wg_bias"), take("gemm_wg_bias_gelu"), take("gemm_wg_bias_residual")) {
            (Ok(bias), Ok(gelu), Ok(residual)) => {
                for f in [&bias, &gelu, &residual] {
                    f.set_attribute(
                        cudarc::driver::sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                        WG_SMEM_BYTES as i32,
                    )
                    .map_err(KernelError::driver("wgmma GEMM shared memory"))?;
                }
                Some(GemmFns { bias, gelu, residual })
            }
            _ => None,
        };
        let mut k = Kernels {
            embed_layernorm: take("embed_layernorm")?,
            mma,
            wgmma,
            gemm_impl: GemmImpl::MmaSync,
            gemm_choice: "mma.sync (no wgmma on this GPU)".into(),
            attention_varlen: take("attention_varlen")?,
            layernorm: take("layernorm")?,
            mean_pool_l2norm: take("mean_pool_l2norm")?,
            cached_modules: cached,
        };
        if k.wgmma.is_some() {
            let (choice, why) = crate::autotune::choose_gemm(ctx, &k, gemm)?;
            k.gemm_impl = choice;
            k.gemm_choice = why;
        }
        Ok(k)
    }

    /// Whether the wgmma GEMM is loaded (sm_90).
    pub fn has_wgmma(&self) -> bool {
        self.wgmma.is_some()
    }

    /// `out[t] = LN(word[ids[t]] + pos[t - start] + type0)` for every packed token.
    #[allow(clippy::too_many_arguments)]
    pub fn embed_layernorm(
        &self,
        s: &CudaStream,
        ids: u64,
        cu_seqlens: u64,
        num_seqs: usize,
        tokens: usize,
        word: u64,
        pos: u64,
        type0: u64,
        gamma: u64,
        beta: u64,
        eps: f32,
        hidden: usize,
        out: u64,
    ) -> KResult<()> {
        check_hidden(hidden)?;
        if tokens == 0 {
            return Ok(());
        }
        let (ns, nt, h) = (num_seqs as i32, tokens as i32, hidden as i32);
        let cfg = LaunchConfig { grid_dim: (tokens.div_ceil(4) as u32, 1, 1), block_dim: (128, 1, 1), shared_mem_bytes: 0 };
        let mut b = s.launch_builder(&self.embed_layernorm);
        b.arg(&ids).arg(&cu_seqlens).arg(&ns).arg(&nt).arg(&word).arg(&pos).arg(&type0);
        b.arg(&gamma).arg(&beta).arg(&eps).arg(&h).arg(&out);
        // SAFETY: ids holds `tokens` u32 < vocab (validated on the host), cu_seqlens
        // num_seqs + 1 offsets ending at `tokens`, every position < max positions;
        // word/pos/type0/gamma/beta are fp16 tables of width `hidden`; out holds
        // tokens x hidden fp16. One warp per token, no shared memory.
        unsafe { b.launch(cfg) }.map(|_| ()).map_err(KernelError::driver("embed_layernorm"))
    }

    /// `Y[M,N] = epilogue(X[M,K] W[N,K]^T + bias)` with the chosen implementation.
    #[allow(clippy::too_many_arguments)]
    pub fn gemm(&self, s: &CudaStream, x: u64, w: u64, bias: u64, y: u64, m: usize, n: usize, k: usize, epi: Epilogue) -> KResult<()> {
        self.gemm_with(self.gemm_impl, s, x, w, bias, y, m, n, k, epi)
    }

    /// [`Kernels::gemm`] with an explicit implementation (benchmarks, self-test).
    #[allow(clippy::too_many_arguments)]
    pub fn gemm_with(
        &self,
        imp: GemmImpl,
        s: &CudaStream,
        x: u64,
        w: u64,
        bias: u64,
        y: u64,
        m: usize,
        n: usize,
        k: usize,
        epi: Epilogue,
    ) -> KResult<()> {
        let bk = if imp == GemmImpl::Wgmma { 64 } else { GEMM_BK };
        if n % GEMM_BN != 0 || k % bk != 0 || k == 0 {
            return Err(KernelError::Shape { kernel: "gemm", why: format!("N = {n} must be a multiple of {GEMM_BN} and K = {k} of {bk}") });
        }
        let fns = match imp {
            GemmImpl::MmaSync => &self.mma,
            GemmImpl::Wgmma => self
                .wgmma
                .as_ref()
                .ok_or_else(|| KernelError::Shape { kernel: "gemm", why: "wgmma is not available on this GPU".into() })?,
        };
        if m == 0 {
            return Ok(());
        }
        let (mi, ni, ki) = (m as i32, n as i32, k as i32);
        let cfg = LaunchConfig {
            grid_dim: ((n / GEMM_BN) as u32, m.div_ceil(GEMM_BM) as u32, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: if imp == GemmImpl::Wgmma { WG_SMEM_BYTES } else { 0 },
        };
        let f = match epi {
            Epilogue::Bias => &fns.bias,
            Epilogue::BiasGelu => &fns.gelu,
            Epilogue::BiasResidual(_) => &fns.residual,
        };
        let r = match epi {
            Epilogue::BiasResidual(r) => r,
            _ => 0,
        };
        let mut b = s.launch_builder(f);
        b.arg(&x).arg(&w).arg(&bias);
        if matches!(epi, Epilogue::BiasResidual(_)) {
            b.arg(&r);
        }
        b.arg(&y).arg(&mi).arg(&ni).arg(&ki);
        // SAFETY: x is M x K, w is N x K, bias N, y (and the residual) M x N, all
        // fp16, 16-byte aligned allocations; N % 128 == 0 and K % 32 (mma.sync) or
        // % 64 (wgmma, whose 97 KiB dynamic shared memory was allowed at load) were
        // checked above, rows >= M are neither read (zero-filled) nor written.
        // The residual may alias y: each element is read then written by one thread.
        unsafe { b.launch(cfg) }.map(|_| ()).map_err(KernelError::driver("gemm"))
    }

    /// Attention over packed sequences: `qkv` is tokens x 3*hidden, `out`
    /// tokens x hidden; `blocks` holds (sequence, first query) int pairs.
    #[allow(clippy::too_many_arguments)]
    pub fn attention(
        &self,
        s: &CudaStream,
        qkv: u64,
        cu_seqlens: u64,
        blocks: u64,
        num_blocks: usize,
        num_heads: usize,
        out: u64,
    ) -> KResult<()> {
        if num_blocks == 0 {
            return Ok(());
        }
        let nh = num_heads as i32;
        let scale_log2 = std::f32::consts::LOG2_E / (HEAD_DIM as f32).sqrt();
        let cfg = LaunchConfig { grid_dim: (num_blocks as u32, num_heads as u32, 1), block_dim: (128, 1, 1), shared_mem_bytes: 0 };
        let mut b = s.launch_builder(&self.attention_varlen);
        b.arg(&qkv).arg(&cu_seqlens).arg(&blocks).arg(&nh).arg(&scale_log2).arg(&out);
        // SAFETY: qkv is tokens x (3 * heads * 32) fp16, out tokens x (heads * 32);
        // every sequence in cu_seqlens is 1..=256 tokens (validated on the host) and
        // each block's first query lies inside its sequence; blocks holds
        // num_blocks int pairs. 45 KiB of static shared memory per block.
        unsafe { b.launch(cfg) }.map(|_| ()).map_err(KernelError::driver("attention_varlen"))
    }

    /// Row LayerNorm of `rows` x `hidden` fp16 (in place when x == out).
    #[allow(clippy::too_many_arguments)]
    pub fn layernorm(
        &self,
        s: &CudaStream,
        x: u64,
        gamma: u64,
        beta: u64,
        eps: f32,
        rows: usize,
        hidden: usize,
        out: u64,
    ) -> KResult<()> {
        check_hidden(hidden)?;
        if rows == 0 {
            return Ok(());
        }
        let (r, h) = (rows as i32, hidden as i32);
        let cfg = LaunchConfig { grid_dim: (rows.div_ceil(4) as u32, 1, 1), block_dim: (128, 1, 1), shared_mem_bytes: 0 };
        let mut b = s.launch_builder(&self.layernorm);
        b.arg(&x).arg(&gamma).arg(&beta).arg(&eps).arg(&r).arg(&h).arg(&out);
        // SAFETY: x and out are rows x hidden fp16 (they may be the same buffer: each
        // warp reads its whole row into registers before writing it), gamma/beta hidden.
        unsafe { b.launch(cfg) }.map(|_| ()).map_err(KernelError::driver("layernorm"))
    }

    /// Mean pool + L2 normalise: `out` is num_seqs x hidden f32.
    pub fn mean_pool(&self, s: &CudaStream, x: u64, cu_seqlens: u64, num_seqs: usize, hidden: usize, out: u64) -> KResult<()> {
        if hidden > 1024 || hidden % 2 != 0 {
            return Err(KernelError::Shape { kernel: "mean_pool_l2norm", why: format!("hidden = {hidden} must be even and at most 1024") });
        }
        if num_seqs == 0 {
            return Ok(());
        }
        let h = hidden as i32;
        let cfg = LaunchConfig { grid_dim: (num_seqs as u32, 1, 1), block_dim: (128, 1, 1), shared_mem_bytes: 0 };
        let mut b = s.launch_builder(&self.mean_pool_l2norm);
        b.arg(&x).arg(&cu_seqlens).arg(&h).arg(&out);
        // SAFETY: x is tokens x hidden fp16, cu_seqlens num_seqs + 1 offsets of
        // non-empty sequences within x, out num_seqs x hidden f32.
        unsafe { b.launch(cfg) }.map(|_| ()).map_err(KernelError::driver("mean_pool_l2norm"))
    }
}

fn check_hidden(hidden: usize) -> KResult<()> {
    if hidden == 0 || hidden % 64 != 0 || hidden > MAX_HIDDEN {
        return Err(KernelError::Shape { kernel: "row kernels", why: format!("hidden = {hidden} must be a multiple of 64 and at most {MAX_HIDDEN}") });
    }
    Ok(())
}
