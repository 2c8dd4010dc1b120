//! [`Batcher`]: documents in, packed batches out to one [`Worker`], which
//! runs them — the one inference path of the infer stage and the GPU
//! benchmark.
//!
//! Callers submit one job per document (its token windows) with a reply.
//! The batcher thread takes the first waiting job, waits for a free slot of
//! the worker, then keeps adding jobs until the batch holds `batch_tokens`
//! tokens or `max_wait` has passed since that first job was *enqueued* (so
//! no document waits longer than `max_wait` for its batch to close, a
//! carried-over one included). Under load jobs queue while the worker's
//! slots are busy, so batches close full and at once; a lone document pays
//! at most `max_wait`. With `max_wait` zero (the infer stage's default) a
//! batch is whatever is queued when a slot frees: nobody waits for company.
//!
//! A worker with two slots (the CUDA encoder) runs one batch while the
//! batcher closes the next, so the GPU goes from batch to batch without
//! waiting for the host; a one-slot worker (the CPU encoder) gets its next
//! batch when it has answered the last.
//!
//! [`Worker`]: crate::worker::Worker

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::pooling::combine_chunks;
use crate::worker::{EncodeResult, SubmitBatch, WorkerInfo};
use crate::{EncoderError, PackedBatch};

/// When a batch closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Token budget of one batch (at least one document per batch).
    pub batch_tokens: usize,
    /// Longest a document waits for its batch to fill.
    pub max_wait: Duration,
}

/// Counters of the batcher (read while it runs).
#[derive(Debug, Default)]
pub struct BatchStats {
    /// Batches handed to the worker.
    pub batches: AtomicU64,
    /// Batches closed because the token budget was reached.
    pub full_batches: AtomicU64,
    /// Batches closed by `max_wait` (or an empty queue).
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

/// What the batcher calls with one document's embedding (its windows
/// averaged and re-normalised when there are several), on the worker thread.
pub type DocReply = Box<dyn FnOnce(Result<Vec<f32>, EncoderError>) + Send>;

struct Job {
    windows: Vec<Vec<u32>>,
    tokens: usize,
    enqueued: Instant,
    reply: DocReply,
}

/// Handle to the batcher thread; cheap to clone. The thread ends when the
/// last handle is dropped, and the worker when the batcher has gone.
#[derive(Clone)]
pub struct Batcher {
    tx: Sender<Job>,
    info: WorkerInfo,
    stats: Arc<BatchStats>,
}

impl Batcher {
    /// Starts the batcher thread in front of `worker`.
    pub fn start(worker: Arc<dyn SubmitBatch>, policy: BatchPolicy) -> Result<Self, EncoderError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let stats = Arc::new(BatchStats::default());
        let info = worker.info().clone();
        let thread_stats = stats.clone();
        let policy = BatchPolicy { batch_tokens: policy.batch_tokens.max(1), ..policy };
        std::thread::Builder::new()
            .name("docflow-batcher".into())
            .spawn(move || batch_loop(worker, &rx, policy, &thread_stats))
            .map_err(|e| EncoderError::Thread(Box::new(e)))?;
        Ok(Self { tx, info, stats })
    }

    /// Queues one document; `reply` gets its embedding.
    pub fn submit(&self, windows: Vec<Vec<u32>>, reply: DocReply) -> Result<(), EncoderError> {
        if windows.is_empty() || windows.iter().any(Vec::is_empty) {
            return Err(EncoderError::InvalidBatch("a document with no tokens".into()));
        }
        let tokens = windows.iter().map(Vec::len).sum();
        self.tx
            .send(Job { windows, tokens, enqueued: Instant::now(), reply })
            .map_err(|_| EncoderError::Stopped("the batcher has stopped"))
    }

    /// Queues one document and waits for its embedding.
    pub fn encode(&self, windows: Vec<Vec<u32>>) -> Result<Vec<f32>, EncoderError> {
        let (tx, rx) = mpsc::channel();
        self.submit(windows, Box::new(move |r| drop(tx.send(r))))?;
        rx.recv().map_err(|_| EncoderError::Stopped("the batcher dropped the document"))?
    }

    /// The worker's device, embedding width and slots.
    pub fn info(&self) -> &WorkerInfo {
        &self.info
    }

    pub fn stats(&self) -> &Arc<BatchStats> {
        &self.stats
    }
}

/// A free slot of the worker, held by a batch in flight; given back when
/// the batch is answered (or its reply dropped, should the worker die).
struct Credit(SyncSender<()>);

impl Drop for Credit {
    fn drop(&mut self) {
        let _ = self.0.try_send(());
    }
}

fn batch_loop(worker: Arc<dyn SubmitBatch>, rx: &Receiver<Job>, policy: BatchPolicy, stats: &BatchStats) {
    let slots = worker.info().slots.max(1);
    let (credit_tx, credits) = mpsc::sync_channel::<()>(slots);
    for _ in 0..slots {
        let _ = credit_tx.try_send(());
    }
    let mut carry: Option<Job> = None;
    loop {
        let first = match carry.take() {
            Some(j) => j,
            None => match rx.recv() {
                Ok(j) => j,
                Err(_) => return,
            },
        };
        // Wait for a slot before gathering: what queues meanwhile joins this batch.
        // (`credit_tx` is held here, so the channel never closes.)
        let _ = credits.recv();
        let credit = Credit(credit_tx.clone());
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
        submit_jobs(&worker, jobs, Some(credit));
    }
}

/// Sends the jobs to the worker as one packed batch; the reply answers each.
fn submit_jobs(worker: &Arc<dyn SubmitBatch>, jobs: Vec<Job>, credit: Option<Credit>) {
    let mut batch = PackedBatch::from_sequences::<&[u32]>(&[]);
    for w in jobs.iter().flat_map(|j| &j.windows) {
        batch.push(w);
    }
    let sequences = batch.len();
    let retry = worker.clone();
    let reply = Box::new(move |r: EncodeResult| {
        // The slot is free: let the batcher close the next batch while this one is split.
        drop(credit);
        answer(&retry, jobs, sequences, r);
    });
    // A refused submission drops the reply, and with it the jobs' replies:
    // their callers learn that the worker has stopped.
    let _ = worker.submit(batch, reply);
}

/// Answers each job from its batch's result. When the batch is refused as
/// invalid, each job is retried alone so one bad document cannot fail its
/// neighbours.
fn answer(worker: &Arc<dyn SubmitBatch>, jobs: Vec<Job>, sequences: usize, result: EncodeResult) {
    match result.and_then(|flat| split(&flat, &jobs, sequences, worker.info().dim)) {
        Ok(embeddings) => {
            for (job, e) in jobs.into_iter().zip(embeddings) {
                (job.reply)(Ok(e));
            }
        }
        Err(EncoderError::InvalidBatch(_)) if jobs.len() > 1 => {
            for job in jobs {
                submit_jobs(worker, vec![job], None);
            }
        }
        Err(e) if jobs.len() == 1 => {
            if let Some(job) = jobs.into_iter().next() {
                (job.reply)(Err(e));
            }
        }
        Err(e) => {
            // Every document of the batch gets the same failure.
            let shared = Arc::new(e);
            for job in jobs {
                (job.reply)(Err(EncoderError::Shared(shared.clone())));
            }
        }
    }
}

/// One embedding per job from a batch's rows.
fn split(flat: &[f32], jobs: &[Job], sequences: usize, dim: usize) -> Result<Vec<Vec<f32>>, EncoderError> {
    if flat.len() != sequences * dim {
        return Err(EncoderError::Internal(format!("encoder returned {} floats for {sequences} sequences of width {dim}", flat.len())));
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
