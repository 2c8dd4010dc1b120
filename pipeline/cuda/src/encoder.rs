//! [`CudaEncoder`]: the [`Encoder`] trait over the GPU thread. Cheap to
//! call from any thread; every call is a command to the thread that owns
//! the context (see `worker`).

use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};

use docflow_model::{BertWeights, Encoder, EncoderError, LoadOptions, PackedBatch};

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
        crate::libs::driver_available().map_err(EncoderError::DeviceUnavailable)?;
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
