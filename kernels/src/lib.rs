//! docflow-kernels: the CUDA C sources of the encoder, embedded in the binary
//! for NVRTC (compiled at start-up by `docflow-cuda`).
//!
//! Layout of `kernels/`:
//! - `common.cuh`: shared helpers (warp reductions, `ldmatrix` / `mma.sync` /
//!   `cp.async` wrappers, GELU, warp LayerNorm, the GEMM epilogues);
//! - `embeddings.cu`: word + position + type gather fused with LayerNorm;
//! - `gemm.cu`: tensor-core GEMM (`mma.sync`, sm_80+) with bias / bias+GELU /
//!   bias+residual epilogues;
//! - `gemm_sm90.cu`: the same GEMM on Hopper's warpgroup MMA (`wgmma`, sm_90a only);
//! - `attention.cu`: fused attention over packed variable-length sequences;
//! - `layernorm.cu`: row LayerNorm;
//! - `pooling.cu`: mean pooling + L2 normalisation.
//!
//! [`MODULES`] lists every module with its kernels; [`Module::source`] returns
//! the source with the local `#include "*.cuh"` lines spliced in, so NVRTC
//! only needs the CUDA toolkit headers on its include path.

/// One `.cu` file: a module for the driver, with the kernels it defines.
#[derive(Debug, Clone, Copy)]
pub struct Module {
    /// Module name (the file stem).
    pub name: &'static str,
    /// The `.cu` text as written (local includes not yet spliced).
    pub raw_source: &'static str,
    /// `extern "C"` kernel names defined by the module.
    pub kernels: &'static [&'static str],
    /// `Some("compute_90a")` for a module that uses architecture-specific
    /// instructions and is compiled only for that target; `None` for
    /// modules that compile for every supported architecture.
    pub only_arch: Option<&'static str>,
}

/// Shared headers, by the name used in `#include "..."`.
pub const HEADERS: &[(&str, &str)] = &[("common.cuh", include_str!("../common.cuh"))];

/// Every kernel module.
pub const MODULES: &[Module] = &[
    Module { name: "embeddings", raw_source: include_str!("../embeddings.cu"), kernels: &["embed_layernorm"], only_arch: None },
    Module {
        name: "gemm",
        raw_source: include_str!("../gemm.cu"),
        kernels: &["gemm_bias", "gemm_bias_gelu", "gemm_bias_residual"],
        only_arch: None,
    },
    Module {
        name: "gemm_sm90",
        raw_source: include_str!("../gemm_sm90.cu"),
        kernels: &["gemm_wg_bias", "gemm_wg_bias_gelu", "gemm_wg_bias_residual"],
        only_arch: Some("compute_90a"),
    },
    Module { name: "attention", raw_source: include_str!("../attention.cu"), kernels: &["attention_varlen"], only_arch: None },
    Module { name: "layernorm", raw_source: include_str!("../layernorm.cu"), kernels: &["layernorm"], only_arch: None },
    Module { name: "pooling", raw_source: include_str!("../pooling.cu"), kernels: &["mean_pool_l2norm"], only_arch: None },
];

impl Module {
    /// The source NVRTC compiles: each `#include "x.cuh"` replaced by the
    /// header's text (headers are spliced once; `#pragma once` is dropped).
    pub fn source(&self) -> String {
        let mut out = String::with_capacity(self.raw_source.len() + 8192);
        for line in self.raw_source.lines() {
            match local_include(line) {
                Some(name) => match HEADERS.iter().find(|(h, _)| *h == name) {
                    Some((_, text)) => {
                        out.push_str(&format!("// ---- begin {name}\n"));
                        for l in text.lines().filter(|l| l.trim() != "#pragma once") {
                            out.push_str(l);
                            out.push('\n');
                        }
                        out.push_str(&format!("// ---- end {name}\n"));
                    }
                    // Unknown local header: leave the line so NVRTC names it in its error.
                    None => {
                        out.push_str(line);
                        out.push('\n');
                    }
                },
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }
}

/// `Some("x.cuh")` for a line `#include "x.cuh"`.
fn local_include(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix("#include")?.trim();
    rest.strip_prefix('"')?.strip_suffix('"')
}

/// Looks a module up by name.
pub fn module(name: &str) -> Option<&'static Module> {
    MODULES.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_splices_its_headers_and_defines_its_kernels() {
        for m in MODULES {
            let src = m.source();
            assert!(!src.contains("#include \"common.cuh\""), "{}: header not spliced", m.name);
            assert!(src.contains("__device__ __forceinline__ float warp_sum"), "{}: helpers missing", m.name);
            for k in m.kernels {
                assert!(src.contains(&format!("{k}(")), "{}: kernel {k} not defined", m.name);
            }
        }
    }

    #[test]
    fn module_names_are_unique() {
        let mut names: Vec<_> = MODULES.iter().map(|m| m.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), MODULES.len());
    }
}
