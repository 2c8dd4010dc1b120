//! docflow-cuda: the all-MiniLM-L6-v2 encoder on an NVIDIA GPU, with the
//! hand-written CUDA C kernels of `kernels/` (crate `docflow-kernels`)
//! compiled by NVRTC at start-up and launched through cudarc.
//!
//! - [`libs`]: finding libcuda / NVRTC / the CUDA headers at run time, so a
//!   machine without them gets an error, not a panic;
//! - [`nvrtc`]: compiling the kernel modules, with the on-disk PTX cache;
//! - [`kernels`]: the loaded kernels, one checked launcher each;
//! - [`autotune`]: start-up choice between the mma.sync and wgmma GEMMs;
//! - [`model`]: fp16 weights on the device and the forward pass;
//! - [`worker`]: the thread that owns the CUDA context (command loop,
//!   pinned buffers, upload/compute/download streams);
//! - [`encoder`]: [`CudaEncoder`], the `docflow_model::Encoder` over it;
//! - [`bench`]: GPU benchmarks (text→embedding, model-only, GEMM vs cuBLAS);
//! - [`cli`]: what `docflow` and the `docflow-gpu-bench` binary run.
//!
//! Errors are typed, with their sources: [`libs::ToolkitError`] (no driver,
//! NVRTC or headers), [`nvrtc::CompileError`], [`kernels::KernelError`]
//! (loading and launching). At the `docflow_model::Encoder` boundary they
//! become `EncoderError`, whose variants the infer stage maps to dead-letter
//! kinds (see `encoder`).
//!
//! Building needs no CUDA (cudarc loads it dynamically). Tests that need a
//! GPU print `skipped: no CUDA device (...)` where there is none.

pub mod autotune;
pub mod bench;
pub mod cli;
pub mod encoder;
pub mod kernels;
pub mod libs;
pub mod model;
pub mod nvrtc;
pub mod worker;

pub use encoder::{CudaEncoder, Submitter};
pub use worker::GpuStats;

use std::path::Path;

use docflow_model::cli::{DeviceChoice, EncoderSpec};
use docflow_model::{Encoder, EncoderError};

/// Why there is no usable GPU here, or `None` when one is present.
pub fn gpu_absent_reason() -> Option<String> {
    if let Err(e) = libs::driver_available() {
        return Some(e.to_string());
    }
    // cudarc panics inside if a driver symbol is missing; treat that as absent too.
    match std::panic::catch_unwind(cudarc::driver::CudaContext::device_count) {
        Ok(Ok(n)) if n > 0 => None,
        Ok(Ok(_)) => Some("the CUDA driver reports no GPU".into()),
        Ok(Err(e)) => Some(format!("CUDA driver: {e}")),
        Err(_) => Some("the CUDA driver could not be initialised".into()),
    }
}

/// The encoder factory for the CLI: CPU from `docflow-model`, CUDA from here
/// (GPU index from env `DOCFLOW_CUDA_DEVICE`, default 0).
/// The CUDA encoder runs fp16 tensor cores whatever `spec.precision` says
/// (the precision is the CPU encoder's).
pub fn factory(spec: &EncoderSpec, model_dir: &Path) -> Result<Box<dyn Encoder>, EncoderError> {
    match spec.device {
        DeviceChoice::Cpu => docflow_model::cli::cpu_factory(spec, model_dir),
        DeviceChoice::Cuda => {
            let ordinal = std::env::var("DOCFLOW_CUDA_DEVICE").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
            Ok(Box::new(CudaEncoder::load(model_dir, ordinal)?))
        }
    }
}
