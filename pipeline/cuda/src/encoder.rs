//! [`CudaEncoder`]: the [`Encoder`] trait over the GPU thread. Cheap to
//! call from any thread; every call is a command to the thread that owns
//! the context (see `worker`).

use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};

use docflow_model::{BertWeights, Encoder, EncoderError, LoadOptions, PackedBatch};

use crate::kernels::KernelError;
use crate::libs::ToolkitError;
use crate::nvrtc::CompileError;
use crate::worker::{self, Command, EncodeResult, GpuStats};

/// The all-MiniLM-L6-v2 encoder on one NVIDIA GPU.
pub struct CudaEncoder {
    tx: Sender<Command>,
    name: String,
    dim: usize,
    max_tokens: usize,
}

impl CudaEncoder {
    /// Loads `config.json` + `model.safetensors` from `model_dir` onto GPU `ordinal`.
    /// No GPU or driver → [`EncoderError::DeviceUnavailable`].
    pub fn load(model_dir: &Path, ordinal: usize) -> Result<Self, EncoderError> {
        // Fail fast, before reading 90 MB of weights, when there is no driver.
        crate::libs::driver_available()?;
        let weights = BertWeights::load(model_dir, LoadOptions::default())?;
        Self::from_weights(weights, ordinal)
    }

    /// Starts the GPU thread with weights already in memory.
    pub fn from_weights(weights: BertWeights, ordinal: usize) -> Result<Self, EncoderError> {
        let (tx, started) = worker::spawn(ordinal, weights)?;
        Ok(CudaEncoder { tx, name: started.device, dim: started.hidden, max_tokens: started.max_tokens })
    }

    /// Queues a batch without waiting; the receiver yields its embeddings.
    /// Up to `worker::SLOTS` batches run at once, so submitting ahead keeps
    /// the GPU busy while the host prepares the next batch.
    pub fn submit(&self, batch: PackedBatch) -> Result<Receiver<EncodeResult>, EncoderError> {
        let (reply, rx) = mpsc::channel();
        self.tx
            .send(Command::Encode { batch, reply })
            .map_err(|_| EncoderError::Internal("the GPU thread has stopped".into()))?;
        Ok(rx)
    }

    /// GPU counters (busy time from CUDA events, memory in use); `reset`
    /// zeroes the time and batch counters after reading.
    pub fn stats(&self, reset: bool) -> Result<GpuStats, EncoderError> {
        let (reply, rx) = mpsc::channel();
        self.tx
            .send(Command::Stats { reset, reply })
            .map_err(|_| EncoderError::Internal("the GPU thread has stopped".into()))?;
        rx.recv().map_err(|_| EncoderError::Internal("the GPU thread has stopped".into()))
    }

    /// A handle other threads can submit through (same GPU thread).
    pub fn sender(&self) -> Submitter {
        Submitter { tx: self.tx.clone() }
    }
}

/// A cloneable, `Send` handle for submitting batches from several threads.
#[derive(Clone)]
pub struct Submitter {
    tx: Sender<Command>,
}

impl Submitter {
    /// See [`CudaEncoder::submit`].
    pub fn submit(&self, batch: PackedBatch) -> Result<Receiver<EncodeResult>, EncoderError> {
        let (reply, rx) = mpsc::channel();
        self.tx
            .send(Command::Encode { batch, reply })
            .map_err(|_| EncoderError::Internal("the GPU thread has stopped".into()))?;
        Ok(rx)
    }
}

impl Encoder for CudaEncoder {
    fn dim(&self) -> usize {
        self.dim
    }

    fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    fn device_name(&self) -> String {
        self.name.clone()
    }

    fn encode_packed(&mut self, batch: &PackedBatch) -> Result<Vec<f32>, EncoderError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        self.submit(batch.clone())?
            .recv()
            .map_err(|_| EncoderError::Internal("the GPU thread stopped before replying".into()))?
    }
}

// The `Encoder` trait's errors carry text, and the infer stage turns their
// variant into a dead-letter kind. The typed errors of this crate become that
// text here, at the boundary, with their whole chain of sources.

impl From<ToolkitError> for EncoderError {
    fn from(e: ToolkitError) -> Self {
        EncoderError::DeviceUnavailable(with_sources(&e))
    }
}

impl From<KernelError> for EncoderError {
    fn from(e: KernelError) -> Self {
        match e {
            KernelError::Compile(CompileError::Toolkit(t)) => t.into(),
            e => EncoderError::Internal(with_sources(&e)),
        }
    }
}

/// `error: source: source of the source …`
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        text.push_str(": ");
        text.push_str(&s.to_string());
        next = s.source();
    }
    text
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
        assert!(matches!(&e, EncoderError::Internal(m) if m == "gemm: N = 100 must be a multiple of 128"), "{e:?}");
        let e: EncoderError = KernelError::Compile(CompileError::Toolkit(ToolkitError::NoNvrtc { tried: vec!["/x".into()] })).into();
        assert!(matches!(&e, EncoderError::DeviceUnavailable(m) if m.contains("NVRTC") && m.contains("/x")), "{e:?}");
        let e: EncoderError = ToolkitError::NoDriver.into();
        assert!(matches!(e, EncoderError::DeviceUnavailable(_)));
    }
}
