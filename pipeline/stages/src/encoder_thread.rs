//! [`EncoderThread`]: the infer stage's handle on the one inference path —
//! `docflow_model`'s [`Batcher`] feeding the encoder's [`Worker`] thread
//! (a CUDA context must stay on the thread that made it; the CPU encoder
//! has its own pool), as in TEI's backend thread. The GPU benchmark
//! (`docflow_cuda::bench`) drives the same two.
//!
//! Async callers queue one job per document — its token windows — and await
//! its embedding. The batcher packs every waiting job up to the token
//! budget (or until `max_wait` has passed since the first was enqueued;
//! zero, the default, closes a batch as soon as a slot of the worker is
//! free) and the worker keeps its slots busy: two batches in flight on a
//! GPU, so it never waits for the host, one on the CPU.
//!
//! [`Worker`]: docflow_model::Worker

use docflow_core::StageError;
use docflow_model::{Batcher, EncoderError, PackedBatch, SubmitBatch};
use std::sync::Arc;
use tokio::sync::oneshot;

pub use docflow_model::{BatchPolicy, BatchStats};

/// Handle to the batcher and worker; cheap to share. Both threads end when
/// the last handle is dropped.
#[derive(Clone)]
pub struct EncoderThread {
    batcher: Batcher,
}

impl std::fmt::Debug for EncoderThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncoderThread").field("worker", self.batcher.info()).finish()
    }
}

/// Maps an encoder failure to a stage error: a bad batch is the input's
/// fault (DLQ), anything else is internal.
pub fn encoder_error(e: EncoderError) -> StageError {
    let text = e.kind().with_sources();
    match e.kind() {
        EncoderError::InvalidBatch(m) => StageError::user_input("invalid_batch", m.clone()),
        EncoderError::Model(m) => StageError::internal("model", m.clone()),
        EncoderError::ModelFile { .. } | EncoderError::ModelFormat { .. } => StageError::internal("model", text),
        EncoderError::DeviceUnavailable(m) => StageError::internal("device_unavailable", m.clone()),
        EncoderError::Unavailable(_) => StageError::internal("device_unavailable", text),
        EncoderError::Internal(m) => StageError::internal("encoder", m.clone()),
        EncoderError::Device(_) | EncoderError::Shared(_) => StageError::internal("encoder", text),
        EncoderError::Thread(_) | EncoderError::Stopped(_) => StageError::internal("encoder_stopped", text),
    }
}

impl EncoderThread {
    /// Starts the batcher in front of `worker` once `warmup` windows have
    /// been encoded by the worker as one batch (first-call costs: kernel
    /// compilation, allocations; not counted in the batcher's stats).
    /// Blocks; call from a blocking context.
    pub fn spawn(worker: Arc<dyn SubmitBatch>, warmup: Vec<Vec<u32>>, policy: BatchPolicy) -> Result<Self, EncoderError> {
        if !warmup.is_empty() {
            let (tx, rx) = std::sync::mpsc::channel();
            worker.submit(PackedBatch::from_sequences(&warmup), Box::new(move |r| drop(tx.send(r))))?;
            rx.recv().map_err(|_| EncoderError::Stopped("the encoder worker stopped during warm-up"))??;
        }
        let batcher = Batcher::start(worker, policy)?;
        let info = batcher.info();
        tracing::info!(device = %info.device, dim = info.dim, slots = info.slots, batch_tokens = policy.batch_tokens, max_wait_ms = policy.max_wait.as_millis() as u64, "encoder ready");
        Ok(Self { batcher })
    }

    pub fn dim(&self) -> usize {
        self.batcher.info().dim
    }

    pub fn device(&self) -> &str {
        &self.batcher.info().device
    }

    pub fn stats(&self) -> &Arc<BatchStats> {
        self.batcher.stats()
    }

    /// Queues one document (its token windows) and waits for its embedding
    /// (windows averaged and re-normalised when there are several).
    pub async fn encode(&self, windows: Vec<Vec<u32>>) -> Result<Vec<f32>, StageError> {
        let (reply, rx) = oneshot::channel();
        self.batcher.submit(windows, Box::new(move |r| drop(reply.send(r)))).map_err(encoder_error)?;
        rx.await.map_err(|_| StageError::internal("encoder_stopped", "the encoder dropped the request"))?.map_err(encoder_error)
    }
}
