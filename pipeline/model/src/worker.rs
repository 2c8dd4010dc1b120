//! [`Worker`]: the one thread that owns an encoder and runs its batches,
//! whatever the device.
//!
//! A device runs batches in *slots* ([`BatchDevice`]): `enqueue` starts a
//! batch on a free slot and returns at once where the device is
//! asynchronous (the CUDA encoder: upload, forward and download queued on
//! streams), `finish` waits for it. The worker keeps every slot busy:
//! while one batch runs it takes the next command and starts it on another
//! slot, so a GPU never waits for the host between batches. A synchronous
//! device (the CPU encoder, through [`OneAtATime`]) has one slot: `enqueue`
//! computes, `finish` hands the result over, and nothing waits for company.
//!
//! Callers send a batch with a [`Reply`], called on the worker thread when
//! the batch's embeddings are on the host (or with the reason they are
//! not). The worker is the thread that built the device (a CUDA context
//! must stay on the thread that made it); it ends when the last handle is
//! dropped and every batch in flight has been answered.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

use crate::{Encoder, EncoderError, PackedBatch};

/// Embeddings of one batch (row-major, `sequences × dim` floats), or why not.
pub type EncodeResult = Result<Vec<f32>, EncoderError>;

/// What the worker calls, on its thread, with a batch's result.
pub type Reply = Box<dyn FnOnce(EncodeResult) + Send>;

/// An encoder that runs batches in slots (see the module doc).
pub trait BatchDevice {
    /// Embedding width.
    fn dim(&self) -> usize;
    /// Longest sequence accepted, in tokens.
    fn max_tokens(&self) -> usize;
    /// Short name for logs and metrics (`"cpu"`, `"cuda:0"`).
    fn device_name(&self) -> String;
    /// Batches that may be in flight at once (at least 1).
    fn slots(&self) -> usize;
    /// Starts `batch` on `slot`, which holds no batch.
    fn enqueue(&mut self, slot: usize, batch: &PackedBatch) -> Result<(), EncoderError>;
    /// Whether `slot`'s batch has finished (so `finish` will not block).
    fn is_done(&self, slot: usize) -> bool;
    /// Waits for `slot`'s batch and returns its embeddings; the slot is free after.
    fn finish(&mut self, slot: usize) -> EncodeResult;
}

/// A synchronous [`Encoder`] as a one-slot device: `enqueue` encodes.
pub struct OneAtATime {
    encoder: Box<dyn Encoder>,
    done: Option<Vec<f32>>,
}

impl OneAtATime {
    pub fn new(encoder: Box<dyn Encoder>) -> Self {
        Self { encoder, done: None }
    }
}

impl BatchDevice for OneAtATime {
    fn dim(&self) -> usize {
        self.encoder.dim()
    }

    fn max_tokens(&self) -> usize {
        self.encoder.max_tokens()
    }

    fn device_name(&self) -> String {
        self.encoder.device_name()
    }

    fn slots(&self) -> usize {
        1
    }

    fn enqueue(&mut self, _slot: usize, batch: &PackedBatch) -> Result<(), EncoderError> {
        self.done = Some(self.encoder.encode_packed(batch)?);
        Ok(())
    }

    fn is_done(&self, _slot: usize) -> bool {
        true
    }

    fn finish(&mut self, _slot: usize) -> EncodeResult {
        self.done.take().ok_or_else(|| EncoderError::Internal("finish on a slot with no batch".into()))
    }
}

/// Start-up facts of a worker's device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInfo {
    pub device: String,
    pub dim: usize,
    pub max_tokens: usize,
    pub slots: usize,
}

/// What a batcher needs of a worker, whatever its device type.
pub trait SubmitBatch: Send + Sync {
    /// Queues a batch; `reply` is called with its embeddings.
    fn submit(&self, batch: PackedBatch, reply: Reply) -> Result<(), EncoderError>;
    fn info(&self) -> &WorkerInfo;
}

enum Command<D> {
    Encode { batch: PackedBatch, reply: Reply },
    Call(Box<dyn FnOnce(&mut D) + Send>),
}

/// Handle to a worker thread; cheap to clone.
pub struct Worker<D> {
    tx: Sender<Command<D>>,
    info: Arc<WorkerInfo>,
}

impl<D> Clone for Worker<D> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone(), info: self.info.clone() }
    }
}

/// How often a worker with a batch in flight and a free slot looks at the
/// oldest batch when no command arrives.
const POLL: Duration = Duration::from_micros(100);

impl<D: BatchDevice + 'static> Worker<D> {
    /// Starts thread `name`; `make` builds the device on it. Returns once
    /// the device is ready, or with the reason it could not be built.
    pub fn spawn(name: &str, make: impl FnOnce() -> Result<D, EncoderError> + Send + 'static) -> Result<Self, EncoderError> {
        let (tx, rx) = mpsc::channel::<Command<D>>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<WorkerInfo, EncoderError>>();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || match make() {
                Ok(device) => {
                    let info = WorkerInfo {
                        device: device.device_name(),
                        dim: device.dim(),
                        max_tokens: device.max_tokens(),
                        slots: device.slots().max(1),
                    };
                    let _ = ready_tx.send(Ok(info));
                    run(device, rx);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| EncoderError::Thread(Box::new(e)))?;
        let info = ready_rx.recv().map_err(|_| EncoderError::Stopped("the encoder worker died during start-up"))??;
        Ok(Self { tx, info: Arc::new(info) })
    }

    /// Queues a batch; `reply` is called on the worker thread with its result.
    pub fn submit(&self, batch: PackedBatch, reply: Reply) -> Result<(), EncoderError> {
        self.tx.send(Command::Encode { batch, reply }).map_err(|_| EncoderError::Stopped("the encoder worker has stopped"))
    }

    /// Queues a batch and waits for its embeddings.
    pub fn encode(&self, batch: PackedBatch) -> EncodeResult {
        let (tx, rx) = mpsc::channel();
        self.submit(batch, Box::new(move |r| drop(tx.send(r))))?;
        rx.recv().map_err(|_| EncoderError::Stopped("the encoder worker stopped before replying"))?
    }

    /// Runs `f` on the device, between batches, and returns its result.
    pub fn call<R: Send + 'static>(&self, f: impl FnOnce(&mut D) -> R + Send + 'static) -> Result<R, EncoderError> {
        let (tx, rx) = mpsc::channel();
        self.tx
            .send(Command::Call(Box::new(move |d: &mut D| drop(tx.send(f(d))))))
            .map_err(|_| EncoderError::Stopped("the encoder worker has stopped"))?;
        rx.recv().map_err(|_| EncoderError::Stopped("the encoder worker stopped before replying"))
    }

    pub fn info(&self) -> &WorkerInfo {
        &self.info
    }
}

impl<D: BatchDevice + 'static> SubmitBatch for Worker<D> {
    fn submit(&self, batch: PackedBatch, reply: Reply) -> Result<(), EncoderError> {
        Worker::submit(self, batch, reply)
    }

    fn info(&self) -> &WorkerInfo {
        &self.info
    }
}

/// The command loop: fill free slots from the queue, answer batches as they finish.
fn run<D: BatchDevice>(mut device: D, rx: Receiver<Command<D>>) {
    let slots = device.slots().max(1);
    let mut inflight: VecDeque<(usize, Reply)> = VecDeque::new();
    let mut free: Vec<usize> = (0..slots).rev().collect();
    let mut open = true;
    loop {
        let cmd = if inflight.is_empty() {
            if !open {
                return;
            }
            match rx.recv() {
                Ok(c) => Some(c),
                Err(_) => return,
            }
        } else if open && !free.is_empty() {
            // Something is running: take more work if it arrives soon, else look at the oldest batch.
            match rx.recv_timeout(POLL) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    None
                }
            }
        } else {
            None
        };
        match cmd {
            Some(Command::Encode { batch, reply }) if batch.is_empty() => reply(Ok(Vec::new())),
            Some(Command::Encode { batch, reply }) => {
                let slot = free.pop().expect("commands are taken only with a free slot");
                match device.enqueue(slot, &batch) {
                    Ok(()) => inflight.push_back((slot, reply)),
                    Err(e) => {
                        free.push(slot);
                        reply(Err(e));
                    }
                }
            }
            Some(Command::Call(f)) => f(&mut device),
            None => {
                let Some(&(slot, _)) = inflight.front() else { continue };
                // With a free slot and an open queue, only finish what is already done.
                if open && !free.is_empty() && !device.is_done(slot) {
                    continue;
                }
                let (slot, reply) = inflight.pop_front().expect("checked above");
                let r = device.finish(slot);
                free.push(slot);
                reply(r);
            }
        }
    }
}
