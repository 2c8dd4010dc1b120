//! Numeric precision of the CPU encoder's dense layers, and the kernels this
//! CPU can run for each.
//!
//! - `fp32`: the reference; f32 weights and activations (the `gemm` crate).
//! - `bf16`: weights and activations rounded to bfloat16, products summed in
//!   f32 (`vdpbf16ps` on AVX512_BF16).
//! - `int8`: weights quantised per output channel and activations per row,
//!   symmetric int8 with f32 scales, i32 accumulation (`vpdpbusd` on
//!   AVX-512 VNNI, `vpmaddubsw` on AVX2).
//!
//! Whatever the precision, LayerNorm, softmax, GELU, attention and pooling
//! stay in f32. Kernels are chosen once, at load, from what the CPU reports;
//! every kernel of a precision computes the same thing (int8: bit for bit),
//! so a machine without VNNI or BF16 gets the same embeddings, only slower.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Precision of the dense (GEMM) layers of the CPU encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 everywhere (the reference).
    #[default]
    Fp32,
    /// bfloat16 weights and activations, f32 sums.
    Bf16,
    /// int8 weights (per output channel) and activations (per row), i32 sums.
    Int8,
}

impl Precision {
    pub const fn as_str(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Int8 => "int8",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "fp32" | "f32" => Ok(Precision::Fp32),
            "bf16" => Ok(Precision::Bf16),
            "int8" | "i8" => Ok(Precision::Int8),
            other => Err(format!("unknown precision {other:?} (expected fp32, bf16 or int8)")),
        }
    }
}

/// Which int8 GEMM micro-kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int8Kernel {
    /// AVX-512 VNNI `vpdpbusd`: 64 multiply-adds per instruction.
    Avx512Vnni,
    /// AVX2 `vpmaddubsw` + `vpmaddwd`: no VNNI, same integers.
    Avx2,
    /// Portable Rust; also the reference the SIMD kernels are tested against.
    Scalar,
}

/// Which bf16 GEMM micro-kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bf16Kernel {
    /// AVX512_BF16 `vdpbf16ps`: 32 multiply-adds per instruction.
    Avx512Bf16,
    /// Portable Rust on the same bf16-rounded values (f32 products).
    Scalar,
}

impl Int8Kernel {
    /// Whether this CPU can run the kernel (running one it cannot is
    /// undefined behaviour, so every constructor checks this).
    pub fn is_supported(self) -> bool {
        match self {
            Int8Kernel::Scalar => true,
            Int8Kernel::Avx2 => has_avx2(),
            Int8Kernel::Avx512Vnni => detect_int8() == Int8Kernel::Avx512Vnni,
        }
    }
}

impl Bf16Kernel {
    /// Whether this CPU can run the kernel.
    pub fn is_supported(self) -> bool {
        match self {
            Bf16Kernel::Scalar => true,
            Bf16Kernel::Avx512Bf16 => detect_bf16() == Bf16Kernel::Avx512Bf16,
        }
    }
}

/// The kernels this process uses, detected once from the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuKernels {
    pub int8: Int8Kernel,
    pub bf16: Bf16Kernel,
}

impl CpuKernels {
    /// The fastest kernels the running CPU supports.
    pub fn detect() -> Self {
        CpuKernels { int8: detect_int8(), bf16: detect_bf16() }
    }

    /// The portable kernels (for tests and for forcing the reference path).
    pub const fn scalar() -> Self {
        CpuKernels { int8: Int8Kernel::Scalar, bf16: Bf16Kernel::Scalar }
    }

    /// `Err` naming the first kernel this CPU cannot run.
    pub fn check_supported(&self) -> Result<(), String> {
        if !self.int8.is_supported() {
            return Err(format!("this CPU cannot run the {:?} int8 kernel", self.int8));
        }
        if !self.bf16.is_supported() {
            return Err(format!("this CPU cannot run the {:?} bf16 kernel", self.bf16));
        }
        Ok(())
    }

    /// One line for the log: which GEMM kernel serves `precision` here.
    pub fn describe(&self, precision: Precision) -> String {
        match precision {
            Precision::Fp32 => "fp32 GEMMs on the gemm crate (f32 FMA, its own CPU dispatch)".to_string(),
            Precision::Bf16 => match self.bf16 {
                Bf16Kernel::Avx512Bf16 => "bf16 GEMMs on AVX512_BF16 (vdpbf16ps), f32 accumulation".to_string(),
                Bf16Kernel::Scalar => {
                    "bf16 GEMMs on the portable kernel (this CPU has no AVX512_BF16: same results, slower)".to_string()
                }
            },
            Precision::Int8 => match self.int8 {
                Int8Kernel::Avx512Vnni => "int8 GEMMs on AVX-512 VNNI (vpdpbusd), i32 accumulation".to_string(),
                Int8Kernel::Avx2 => {
                    "int8 GEMMs on AVX2 (vpmaddubsw), i32 accumulation (no AVX-512 VNNI: same results, slower)"
                        .to_string()
                }
                Int8Kernel::Scalar => {
                    "int8 GEMMs on the portable kernel (no AVX2: same results, much slower)".to_string()
                }
            },
        }
    }
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn detect_int8() -> Int8Kernel {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
        {
            return Int8Kernel::Avx512Vnni;
        }
        if std::is_x86_feature_detected!("avx2") {
            return Int8Kernel::Avx2;
        }
    }
    Int8Kernel::Scalar
}

fn detect_bf16() -> Bf16Kernel {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512bf16")
        {
            return Bf16Kernel::Avx512Bf16;
        }
    }
    Bf16Kernel::Scalar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for p in [Precision::Fp32, Precision::Bf16, Precision::Int8] {
            assert_eq!(p.to_string().parse::<Precision>().unwrap(), p);
        }
        assert_eq!("INT8".parse::<Precision>().unwrap(), Precision::Int8);
        assert!("int4".parse::<Precision>().unwrap_err().contains("int4"));
    }

    #[test]
    fn describes_every_kernel() {
        let k = CpuKernels::detect();
        for p in [Precision::Fp32, Precision::Bf16, Precision::Int8] {
            assert!(k.describe(p).starts_with(p.as_str()), "{}", k.describe(p));
        }
        assert!(CpuKernels::scalar().describe(Precision::Int8).contains("portable"));
        assert!(k.check_supported().is_ok() && CpuKernels::scalar().check_supported().is_ok());
    }
}
