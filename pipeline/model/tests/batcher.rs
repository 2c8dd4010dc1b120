//! The one inference path — [`Batcher`] feeding a [`Worker`] — with the CPU
//! encoder, on the tiny model: every document gets exactly the embedding the
//! encoder gives it directly, whatever batch it lands in; chunked documents
//! are averaged; a bad document fails alone; and on a device with two slots
//! (as the GPU's) two batches are in flight at once while answers still
//! reach the right documents.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use docflow_model::pooling::combine_chunks;
use docflow_model::tiny::{tiny_vocab, TinyModelDir, TinySpec};
use docflow_model::worker::EncodeResult;
use docflow_model::{
    BatchDevice, BatchPolicy, BatchStats, Batcher, CpuEncoder, CpuOptions, Encoder, EncoderError, OneAtATime, PackedBatch, Worker,
};
use rand::{Rng, SeedableRng};

fn cpu(dir: &TinyModelDir) -> CpuEncoder {
    CpuEncoder::load(dir.path(), CpuOptions { threads: 1, ..CpuOptions::default() }).unwrap()
}

/// `n` documents of 1–3 windows of random lengths.
fn documents(n: usize, max_len: usize) -> Vec<Vec<Vec<u32>>> {
    let vocab = tiny_vocab().len() as u32;
    let mut r = rand::rngs::StdRng::seed_from_u64(42);
    (0..n)
        .map(|_| (0..r.random_range(1..=3)).map(|_| (0..r.random_range(2..=max_len)).map(|_| r.random_range(0..vocab)).collect()).collect())
        .collect()
}

/// What the encoder gives a document by itself.
fn direct(encoder: &mut CpuEncoder, windows: &[Vec<u32>]) -> Vec<f32> {
    let flat = encoder.encode_packed(&PackedBatch::from_sequences(windows)).unwrap();
    if windows.len() == 1 {
        flat
    } else {
        combine_chunks(&flat, encoder.dim()).unwrap()
    }
}

/// Every document queued before any answer is awaited (as the infer stage
/// queues a poll's documents); answers in document order.
fn through(batcher: &Batcher, docs: &[Vec<Vec<u32>>]) -> Vec<Result<Vec<f32>, EncoderError>> {
    let (tx, rx) = mpsc::channel();
    for (i, d) in docs.iter().enumerate() {
        let tx = tx.clone();
        batcher.submit(d.clone(), Box::new(move |r| drop(tx.send((i, r))))).unwrap();
    }
    drop(tx);
    let mut out: Vec<Option<Result<Vec<f32>, EncoderError>>> = (0..docs.len()).map(|_| None).collect();
    for (i, r) in rx {
        assert!(out[i].is_none(), "document {i} answered twice");
        out[i] = Some(r);
    }
    out.into_iter().enumerate().map(|(i, r)| r.unwrap_or_else(|| panic!("document {i} never answered"))).collect()
}

fn assert_same(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    let worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    // Packed batches carry no padding, so a sequence's rows do not depend
    // on its neighbours: only the GEMM's summation order may differ.
    assert!(worst < 1e-5, "{what}: max |diff| {worst}");
}

#[test]
fn the_cpu_encoder_through_the_worker_gives_each_document_its_own_embedding() {
    let dir = TinyModelDir::new(&TinySpec::default()).unwrap();
    let docs = documents(120, 60);
    let mut reference = cpu(&dir);
    let want: Vec<Vec<f32>> = docs.iter().map(|d| direct(&mut reference, d)).collect();

    let encoder = cpu(&dir);
    let worker = Worker::spawn("test-encoder", move || Ok(OneAtATime::new(Box::new(encoder)))).unwrap();
    assert_eq!(worker.info().slots, 1);
    let batcher = Batcher::start(Arc::new(worker), BatchPolicy { batch_tokens: 256, max_wait: Duration::ZERO }).unwrap();
    let got = through(&batcher, &docs);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_same(g.as_ref().unwrap(), w, &format!("document {i}"));
    }
    let stats = batcher.stats();
    assert_eq!(BatchStats::get(&stats.documents), docs.len() as u64);
    // Several documents per batch, under the budget.
    let batches = BatchStats::get(&stats.batches);
    assert!(batches > 1 && batches < docs.len() as u64, "{batches} batches for {} documents", docs.len());
    assert!(BatchStats::get(&stats.max_batch_tokens) <= 256);
}

#[test]
fn a_bad_document_fails_alone() {
    let dir = TinyModelDir::new(&TinySpec::default()).unwrap();
    let encoder = cpu(&dir);
    let worker = Worker::spawn("test-encoder", move || Ok(OneAtATime::new(Box::new(encoder)))).unwrap();
    let batcher = Batcher::start(Arc::new(worker), BatchPolicy { batch_tokens: 4096, max_wait: Duration::from_millis(50) }).unwrap();
    let vocab = tiny_vocab().len() as u32;
    let mut docs = documents(6, 20);
    docs[3] = vec![vec![vocab + 7, 1, 2]];
    let got = through(&batcher, &docs);
    for (i, r) in got.iter().enumerate() {
        match (i, r) {
            (3, Err(e)) => assert!(matches!(e.kind(), EncoderError::InvalidBatch(_)), "{e:?}"),
            (3, Ok(_)) => panic!("a token id outside the vocabulary was embedded"),
            (_, r) => assert!(r.is_ok(), "document {i} failed with its neighbour: {r:?}"),
        }
    }
    assert!(matches!(batcher.submit(vec![], Box::new(|_| {})), Err(EncoderError::InvalidBatch(_))));
}

/// The CPU encoder as an asynchronous device of two slots: each batch runs
/// on a thread of its own, as a GPU batch runs on its streams. Counts the
/// batches in flight.
struct TwoSlots {
    dir: std::path::PathBuf,
    dim: usize,
    running: [Option<JoinHandle<EncodeResult>>; 2],
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
}

impl BatchDevice for TwoSlots {
    fn dim(&self) -> usize {
        self.dim
    }
    fn max_tokens(&self) -> usize {
        64
    }
    fn device_name(&self) -> String {
        "cpu-two-slots".into()
    }
    fn slots(&self) -> usize {
        2
    }
    fn enqueue(&mut self, slot: usize, batch: &PackedBatch) -> Result<(), EncoderError> {
        assert!(self.running[slot].is_none(), "slot {slot} given a batch while busy");
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let (dir, batch) = (self.dir.clone(), batch.clone());
        self.running[slot] = Some(std::thread::spawn(move || {
            let mut e = CpuEncoder::load(&dir, CpuOptions { threads: 1, ..CpuOptions::default() })?;
            // Long enough that the next batch is queued while this one runs.
            std::thread::sleep(Duration::from_millis(20));
            e.encode_packed(&batch)
        }));
        Ok(())
    }
    fn is_done(&self, slot: usize) -> bool {
        self.running[slot].as_ref().is_none_or(|h| h.is_finished())
    }
    fn finish(&mut self, slot: usize) -> EncodeResult {
        let r = self.running[slot].take().expect("a batch on this slot").join().expect("batch thread");
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        r
    }
}

#[test]
fn two_slots_keep_two_batches_in_flight_and_answer_the_right_documents() {
    let dir = TinyModelDir::new(&TinySpec::default()).unwrap();
    let docs = documents(200, 60);
    let mut reference = cpu(&dir);
    let want: Vec<Vec<f32>> = docs.iter().map(|d| direct(&mut reference, d)).collect();

    let most = Arc::new(AtomicUsize::new(0));
    let device = TwoSlots {
        dir: dir.path().to_path_buf(),
        dim: reference.dim(),
        running: [None, None],
        in_flight: Arc::new(AtomicUsize::new(0)),
        most_in_flight: most.clone(),
    };
    let worker = Worker::spawn("test-two-slots", move || Ok(device)).unwrap();
    assert_eq!(worker.info().slots, 2);
    let batcher = Batcher::start(Arc::new(worker), BatchPolicy { batch_tokens: 512, max_wait: Duration::ZERO }).unwrap();
    let got = through(&batcher, &docs);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_same(g.as_ref().unwrap(), w, &format!("document {i}"));
    }
    assert_eq!(most.load(Ordering::SeqCst), 2, "the batcher never had a second batch in flight");
    assert!(BatchStats::get(&batcher.stats().batches) >= 4);
}
