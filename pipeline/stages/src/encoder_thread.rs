//! [`EncoderThread`]: one OS thread owns the encoder (a CUDA context must
//! stay on the thread that made it; the CPU encoder has its own pool), as in
//! TEI's backend thread. Async callers send one job per document — its token
//! windows and a oneshot reply — over a channel.
//!
//! Dynamic batching: the thread takes the first waiting job and keeps adding
//! jobs until the batch holds `batch_tokens` tokens or `max_wait` has passed
//! since that first job was *enqueued* (so no document waits longer than
//! `max_wait` for its batch to close, a carried-over one included). Under
//! load the channel fills while the encoder runs, so batches close full and
//! at once; a lone document pays at most `max_wait`. With `max_wait` zero
//! (the infer stage's default) a batch is whatever is queued when the
//! encoder becomes free: no document ever waits for company.

use docflow_core::StageError;
use docflow_model::pooling::combine_chunks;
use docflow_model::{Encoder, EncoderError, PackedBatch};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// When a batch closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Token budget of one encoder call (at least one document per batch).
    pub batch_tokens: usize,
    /// Longest a document waits for its batch to fill.
    pub max_wait: Duration,
}

/// Counters of the batcher (read while it runs).
#[derive(Debug, Default)]
pub struct BatchStats {
    /// Encoder calls.
    pub batches: AtomicU64,
    /// Batches closed because the token budget was reached.
    pub full_batches: AtomicU64,
    /// Batches closed by `max_wait` (or an empty queue at shutdown).
    pub timed_batches: AtomicU64,
    /// Tokens encoded.
    pub tokens: AtomicU64,
    /// Documents encoded.
    pub documents: AtomicU64,
    /// Tokens of the largest batch.
    pub max_batch_tokens: AtomicU64,
}

impl BatchStats {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

struct Job {
    windows: Vec<Vec<u32>>,
    tokens: usize,
    enqueued: Instant,
    reply: oneshot::Sender<Result<Vec<f32>, StageError>>,
}

/// Handle to the encoder thread; cheap to share. The thread ends when the
/// last handle is dropped.
#[derive(Debug, Clone)]
pub struct EncoderThread {
    tx: mpsc::Sender<Job>,
    dim: usize,
    device: String,
    stats: Arc<BatchStats>,
}

/// Maps an encoder failure to a stage error: a bad batch is the input's
/// fault (DLQ), anything else is internal.
pub fn encoder_error(e: EncoderError) -> StageError {
    match e {
        EncoderError::InvalidBatch(m) => StageError::user_input("invalid_batch", m),
        EncoderError::Model(m) => StageError::internal("model", m),
        EncoderError::DeviceUnavailable(m) => StageError::internal("device_unavailable", m),
        EncoderError::Internal(m) => StageError::internal("encoder", m),
    }
}

impl EncoderThread {
    /// Starts the thread: `make` builds the encoder on it, `warmup` windows
    /// are encoded once (first-call costs: kernel compilation, allocations)
    /// before this returns. Blocks until then; call from a blocking context.
    pub fn spawn(
        make: impl FnOnce() -> Result<Box<dyn Encoder>, EncoderError> + Send + 'static,
        warmup: Vec<Vec<u32>>,
        policy: BatchPolicy,
    ) -> Result<Self, EncoderError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let stats = Arc::new(BatchStats::default());
        let thread_stats = stats.clone();
        std::thread::Builder::new()
            .name("docflow-encoder".into())
            .spawn(move || {
                let mut encoder = match make() {
                    Ok(e) => e,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                if !warmup.is_empty() {
                    if let Err(e) = encoder.encode_packed(&PackedBatch::from_sequences(&warmup)) {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                }
                let _ = ready_tx.send(Ok((encoder.dim(), encoder.device_name())));
                batch_loop(encoder.as_mut(), &rx, policy, &thread_stats);
            })
            .map_err(|e| EncoderError::Internal(format!("cannot start the encoder thread: {e}")))?;
        let (dim, device) = ready_rx
            .recv()
            .map_err(|_| EncoderError::Internal("encoder thread died during start-up".into()))??;
        tracing::info!(%device, dim, batch_tokens = policy.batch_tokens, max_wait_ms = policy.max_wait.as_millis() as u64, "encoder ready");
        Ok(Self { tx, dim, device, stats })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    pub fn stats(&self) -> &Arc<BatchStats> {
        &self.stats
    }

    /// Queues one document (its token windows) and waits for its embedding
    /// (windows averaged and re-normalised when there are several).
    pub async fn encode(&self, windows: Vec<Vec<u32>>) -> Result<Vec<f32>, StageError> {
        if windows.is_empty() || windows.iter().any(Vec::is_empty) {
            return Err(StageError::user_input("invalid_batch", "a document with no tokens"));
        }
        let (reply, rx) = oneshot::channel();
        let tokens = windows.iter().map(Vec::len).sum();
        self.tx
            .send(Job { windows, tokens, enqueued: Instant::now(), reply })
            .map_err(|_| StageError::internal("encoder_stopped", "the encoder thread has stopped"))?;
        rx.await.map_err(|_| StageError::internal("encoder_stopped", "the encoder thread dropped the request"))?
    }
}

fn batch_loop(encoder: &mut dyn Encoder, rx: &mpsc::Receiver<Job>, policy: BatchPolicy, stats: &BatchStats) {
    let mut carry: Option<Job> = None;
    loop {
        let first = match carry.take() {
            Some(j) => j,
            None => match rx.recv() {
                Ok(j) => j,
                Err(_) => return,
            },
        };
        let deadline = first.enqueued + policy.max_wait;
        let mut tokens = first.tokens;
        let mut jobs = vec![first];
        let mut full = tokens >= policy.batch_tokens;
        while !full {
            let now = Instant::now();
            let next = if now >= deadline {
                // Past the deadline: take only what is already queued.
                rx.try_recv().map_err(|_| RecvTimeoutError::Timeout)
            } else {
                rx.recv_timeout(deadline - now)
            };
            match next {
                Ok(j) if tokens + j.tokens > policy.batch_tokens => {
                    carry = Some(j);
                    full = true;
                }
                Ok(j) => {
                    tokens += j.tokens;
                    jobs.push(j);
                    full = tokens >= policy.batch_tokens;
                }
                Err(_) => break,
            }
        }
        let counter = if full { &stats.full_batches } else { &stats.timed_batches };
        counter.fetch_add(1, Ordering::Relaxed);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.tokens.fetch_add(tokens as u64, Ordering::Relaxed);
        stats.documents.fetch_add(jobs.len() as u64, Ordering::Relaxed);
        stats.max_batch_tokens.fetch_max(tokens as u64, Ordering::Relaxed);
        run_batch(encoder, jobs);
    }
}

/// Encodes the jobs as one packed batch and answers each. When the batch is
/// refused as invalid, each job is retried alone so one bad document cannot
/// fail its neighbours.
fn run_batch(encoder: &mut dyn Encoder, jobs: Vec<Job>) {
    match encode_jobs(encoder, &jobs) {
        Ok(embeddings) => {
            for (job, e) in jobs.into_iter().zip(embeddings) {
                let _ = job.reply.send(Ok(e));
            }
        }
        Err(EncoderError::InvalidBatch(_)) if jobs.len() > 1 => {
            for job in jobs {
                let one = std::slice::from_ref(&job);
                let r = encode_jobs(encoder, one).map(|mut v| v.remove(0)).map_err(encoder_error);
                let _ = job.reply.send(r);
            }
        }
        Err(e) => {
            let e = encoder_error(e);
            for job in jobs {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
    }
}

fn encode_jobs(encoder: &mut dyn Encoder, jobs: &[Job]) -> Result<Vec<Vec<f32>>, EncoderError> {
    let dim = encoder.dim();
    let mut batch = PackedBatch::from_sequences::<&[u32]>(&[]);
    for w in jobs.iter().flat_map(|j| &j.windows) {
        batch.push(w);
    }
    let flat = encoder.encode_packed(&batch)?;
    if flat.len() != batch.len() * dim {
        return Err(EncoderError::Internal(format!("encoder returned {} floats for {} sequences of width {dim}", flat.len(), batch.len())));
    }
    let mut row = 0;
    jobs.iter()
        .map(|j| {
            let n = j.windows.len();
            let rows = &flat[row * dim..(row + n) * dim];
            row += n;
            // `combine_chunks` also re-normalises; one window is already unit length.
            if n == 1 {
                Ok(rows.to_vec())
            } else {
                combine_chunks(rows, dim)
            }
        })
        .collect()
}
