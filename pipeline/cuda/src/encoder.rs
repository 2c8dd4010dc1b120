//! [`CudaEncoder`]: the [`Encoder`] trait over the GPU's worker thread
//! (see `worker`). Cheap to call from any thread; every call is a command
//! to the thread that owns the context.

use std::path::Path;

use docflow_model::worker::Worker;
use docflow_model::{BertWeights, Encoder, EncoderError, GpuSettings, LoadOptions, PackedBatch};

use crate::kernels::KernelError;
use crate::libs::ToolkitError;
use crate::nvrtc::CompileError;
use crate::worker::{self, Gpu, GpuStats};

/// The all-MiniLM-L6-v2 encoder on one NVIDIA GPU.
pub struct CudaEncoder {
    worker: Worker<Gpu>,
}

impl CudaEncoder {
    /// Loads `config.json` + `model.safetensors` from `model_dir` onto the GPU of `settings`.
    /// No GPU or driver → [`EncoderError::DeviceUnavailable`].
    pub fn load(model_dir: &Path, settings: GpuSettings) -> Result<Self, EncoderError> {
        // Fail fast, before reading 90 MB of weights, when there is no driver.
        crate::libs::driver_available()?;
        let weights = BertWeights::load(model_dir, LoadOptions::default())?;
        Self::from_weights(weights, settings)
    }

    /// Starts the GPU's worker with weights already in memory.
    pub fn from_weights(weights: BertWeights, settings: GpuSettings) -> Result<Self, EncoderError> {
        Ok(CudaEncoder { worker: worker::spawn(settings, weights)? })
    }

    /// The worker thread: what the infer stage's batcher feeds (two batches in flight).
    pub fn worker(&self) -> &Worker<Gpu> {
        &self.worker
    }

    /// GPU counters (busy time from CUDA events, memory in use); `reset`
    /// zeroes the time and batch counters after reading.
    pub fn stats(&self, reset: bool) -> Result<GpuStats, EncoderError> {
        self.worker.call(move |gpu| gpu.stats(reset))
    }
}

impl Encoder for CudaEncoder {
    fn dim(&self) -> usize {
        self.worker.info().dim
    }

    fn max_tokens(&self) -> usize {
        self.worker.info().max_tokens
    }

    fn device_name(&self) -> String {
        self.worker.info().device.clone()
    }

    fn encode_packed(&mut self, batch: &PackedBatch) -> Result<Vec<f32>, EncoderError> {
        self.worker.encode(batch.clone())
    }
}

// At the `Encoder` boundary the typed errors of this crate become the
// source of an `EncoderError`, whose variant the infer stage turns into a
// dead-letter kind: a missing toolkit makes the device unavailable, any
// other failure is the device's.

impl From<ToolkitError> for EncoderError {
    fn from(e: ToolkitError) -> Self {
        EncoderError::Unavailable(Box::new(e))
    }
}

impl From<KernelError> for EncoderError {
    fn from(e: KernelError) -> Self {
        match e {
            KernelError::Compile(CompileError::Toolkit(t)) => t.into(),
            e => EncoderError::Device(Box::new(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_errors_reach_the_encoder_trait_with_their_sources() {
        // A driver error names the call and keeps the driver's code as its
        // source (not formatted here: its text comes from libcuda).
        let k = KernelError::driver("gemm")(cudarc::driver::DriverError(cudarc::driver::sys::CUresult::CUDA_ERROR_LAUNCH_FAILED));
        assert_eq!(k.to_string(), "gemm");
        assert!(std::error::Error::source(&k).is_some());
        let e: EncoderError = KernelError::Shape { kernel: "gemm", why: "N = 100 must be a multiple of 128".into() }.into();
        assert!(matches!(&e, EncoderError::Device(s) if s.downcast_ref::<KernelError>().is_some()), "{e:?}");
        assert_eq!(e.with_sources(), "device error: gemm: N = 100 must be a multiple of 128");
        let e: EncoderError = KernelError::Compile(CompileError::Toolkit(ToolkitError::NoNvrtc { tried: vec!["/x".into()] })).into();
        assert!(matches!(&e, EncoderError::Unavailable(s) if s.downcast_ref::<ToolkitError>().is_some()), "{e:?}");
        assert!(e.with_sources().contains("NVRTC") && e.with_sources().contains("/x"), "{}", e.with_sources());
        let e: EncoderError = ToolkitError::NoDriver.into();
        assert!(matches!(e, EncoderError::Unavailable(_)));
    }
}
