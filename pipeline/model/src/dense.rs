//! [`Dense`]: the linear layer of the CPU BERT at the precision chosen at
//! load (f32, bf16 or int8), one interface for [`crate::bert`].

use crate::bf16::{Bf16Linear, Bf16Rows};
use crate::int8::{Int8Linear, QuantizedRows};
use crate::ops::Linear;
use crate::precision::{CpuKernels, Precision};
use crate::weights::{LinearWeights, Tensor};

/// `y = x Wᵀ + b` at one precision.
#[derive(Debug, Clone)]
pub enum Dense {
    F32(Linear),
    Bf16(Bf16Linear),
    Int8(Int8Linear),
}

/// Per-forward-pass buffers of the reduced-precision inputs, reused
/// across layers so each pass allocates them once.
#[derive(Debug, Default)]
pub struct DenseScratch {
    int8: QuantizedRows,
    bf16: Bf16Rows,
}

impl Dense {
    /// Builds from HF-layout weights (`[out, in]`).
    pub fn load(w: LinearWeights, precision: Precision, kernels: CpuKernels) -> Self {
        match precision {
            Precision::Fp32 => Dense::F32(Linear::load(w)),
            Precision::Bf16 => Dense::Bf16(Bf16Linear::load(&w, kernels.bf16)),
            Precision::Int8 => Dense::Int8(Int8Linear::load(&w, kernels.int8)),
        }
    }

    /// Several linears with the same input as one whose outputs lie side by
    /// side (the fused Q|K|V projection). int8 scales stay per channel, so
    /// fusing changes no number.
    pub fn concat(parts: Vec<LinearWeights>, precision: Precision, kernels: CpuKernels) -> Self {
        Self::load(concat_weights(parts), precision, kernels)
    }

    pub fn out_features(&self) -> usize {
        match self {
            Dense::F32(l) => l.out_features(),
            Dense::Bf16(l) => l.out_features(),
            Dense::Int8(l) => l.out_features(),
        }
    }

    /// `out = x Wᵀ + b (+ residual)` for `rows` rows.
    pub fn forward(&self, x: &[f32], rows: usize, residual: Option<&[f32]>, out: &mut [f32], scratch: &mut DenseScratch) {
        match self {
            Dense::F32(l) => l.forward(x, rows, residual, out),
            Dense::Bf16(l) => l.forward(x, rows, residual, out, &mut scratch.bf16),
            Dense::Int8(l) => l.forward(x, rows, residual, out, &mut scratch.int8),
        }
    }
}

/// Stacks `[out_i, in]` weights into `[Σ out_i, in]`.
pub fn concat_weights(parts: Vec<LinearWeights>) -> LinearWeights {
    let in_features = parts[0].weight.shape[1];
    let mut weight = Vec::new();
    let mut bias = Vec::new();
    for p in parts {
        assert_eq!(p.weight.shape[1], in_features, "concatenated linears need the same input width");
        weight.extend_from_slice(&p.weight.data);
        bias.extend_from_slice(&p.bias.data);
    }
    let out_features = bias.len();
    LinearWeights {
        weight: Tensor { shape: vec![out_features, in_features], data: weight },
        bias: Tensor { shape: vec![out_features], data: bias },
    }
}
