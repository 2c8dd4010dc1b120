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
//! - [`worker`]: [`Gpu`], the device the model's worker thread runs
//!   (pinned buffers, upload/compute/download streams, two batches in flight);
//! - [`encoder`]: [`CudaEncoder`], the `docflow_model::Encoder` over it;
//! - [`bench`]: GPU benchmarks (text→embedding through the infer stage's
//!   batcher and worker, model-only, GEMM vs cuBLAS) and the GPU check,
//!   returning reports (their command lines are in `pipeline/bench`).
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
pub mod encoder;
pub mod kernels;
pub mod libs;
pub mod model;
pub mod nvrtc;
pub mod worker;

pub use encoder::CudaEncoder;
pub use worker::{Gpu, GpuStats};

use std::path::Path;

use docflow_model::worker::Worker;
use docflow_model::{BertWeights, DeviceChoice, Encoder, EncoderError, EncoderSpec, GpuSettings, LoadOptions};

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

/// The worker of the GPU of `settings` with the model of `model_dir`
/// resident: what the infer stage's batcher and the GPU benchmark feed.
pub fn start_worker(model_dir: &Path, settings: GpuSettings) -> Result<Worker<Gpu>, EncoderError> {
    // Fail fast, before reading 90 MB of weights, when there is no driver.
    libs::driver_available()?;
    let weights = BertWeights::load(model_dir, LoadOptions::default())?;
    worker::spawn(settings, weights)
}

/// The encoder factory of the command line: CPU from `docflow-model`, CUDA
/// from here on the GPU of `spec.gpu`. The CUDA encoder runs fp16 tensor
/// cores whatever `spec.precision` says (the precision is the CPU encoder's).
pub fn factory(spec: &EncoderSpec, model_dir: &Path) -> Result<Box<dyn Encoder>, EncoderError> {
    match spec.device {
        DeviceChoice::Cpu => docflow_model::tools::cpu_factory(spec, model_dir),
        DeviceChoice::Cuda => Ok(Box::new(CudaEncoder::load(model_dir, spec.gpu)?)),
    }
}
