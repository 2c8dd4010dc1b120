//! Every kernel module compiles with NVRTC for sm_80 and sm_90 (the wgmma
//! GEMM for sm_90a, the only target it exists for), with no
//! warnings. Needs no GPU: only NVRTC and the CUDA headers (PyPI
//! `nvidia-cuda-nvrtc==13.0.*`, `nvidia-cuda-runtime==13.0.*`,
//! `nvidia-cuda-crt==13.0.*`, found through `python3` or
//! DOCFLOW_NVRTC_LIB / DOCFLOW_CUDA_INCLUDE; see `docflow_cuda::libs`).

use docflow_cuda::nvrtc;

#[test]
fn every_kernel_compiles_clean_for_sm80_and_sm90() {
    for arch in ["compute_80", "compute_90", "compute_90a"] {
        // Architecture-specific modules (wgmma) compile for their own target only.
        for m in docflow_kernels::MODULES.iter().filter(|m| m.only_arch.is_none_or(|a| a == arch)) {
            let c = nvrtc::compile(m, arch).unwrap_or_else(|e| panic!("{e}"));
            assert!(c.log.is_empty(), "module {} for {arch}: NVRTC warnings:\n{}", m.name, c.log);
            for k in m.kernels {
                assert!(
                    c.ptx.contains(&format!(".entry {k}(")),
                    "module {} for {arch}: kernel {k} missing from the PTX",
                    m.name
                );
            }
        }
    }
}

#[test]
fn a_broken_kernel_is_reported_with_the_nvrtc_log() {
    let bad = docflow_kernels::Module {
        name: "broken",
        raw_source: "#include \"common.cuh\"\nextern \"C\" __global__ void k() { undefined_thing(); }\n",
        kernels: &["k"],
        only_arch: None,
    };
    let err = nvrtc::compile(&bad, "compute_80").expect_err("must not compile");
    let msg = err.to_string();
    assert!(msg.contains("undefined_thing"), "log missing from error: {msg}");
}
