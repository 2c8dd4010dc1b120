//! The infer stage with the tiny model: the batcher's two closing rules
//! (token budget, max wait) measured on the encoder thread, and the stage
//! against a real broker (batches fill to the budget under load, model
//! version on every output, cache hits on repeated text).

mod common;

use common::*;
use docflow_model::{BertTokenizer, CpuEncoder, CpuOptions, OneAtATime, Worker};
use docflow_testkit::kafka;
use docflow_schemas::{embedding_from_bytes, BusinessFields, EmbeddedDocument, ParsedDocument};
use docflow_stages::encoder_thread::{BatchPolicy, BatchStats, EncoderThread};
use docflow_stages::InferStage;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WORDS: [&str; 12] = ["invoice", "total", "due", "payment", "contract", "order", "date", "from", "bill", "amount", "tax", "net"];

/// ~`words` tokens of tiny-vocabulary text, unique per `seed`.
fn text(seed: usize, words: usize) -> String {
    let mut s = format!("{seed}");
    for i in 0..words {
        s.push(' ');
        s.push_str(WORDS[(seed * 7 + i * 5 + i / 3) % WORDS.len()]);
    }
    s
}

fn encoder_thread(dir: &docflow_model::tiny::TinyModelDir, policy: BatchPolicy) -> (EncoderThread, BertTokenizer) {
    let path = dir.path().to_path_buf();
    let tok = BertTokenizer::from_file(&path.join("tokenizer.json"), 256).unwrap();
    let warm = vec![tok.encode("invoice").unwrap()];
    let make = move || Ok(OneAtATime::new(Box::new(CpuEncoder::load(&path, CpuOptions { threads: 1, ..Default::default() })?)));
    let worker = Worker::spawn("docflow-encoder", make).unwrap();
    let t = EncoderThread::spawn(Arc::new(worker), warm, policy).unwrap();
    (t, tok)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_document_waits_max_wait_and_a_full_batch_does_not() {
    let dir = tiny_model();
    // Lone document: its batch closes when max_wait has passed, not before, not much after.
    let (t, tok) = encoder_thread(&dir, BatchPolicy { batch_tokens: 16_384, max_wait: Duration::from_millis(300) });
    let start = Instant::now();
    let e = t.encode(vec![tok.encode(&text(1, 20)).unwrap()]).await.unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(290) && waited < Duration::from_millis(300 + 250), "lone document took {waited:?}");
    assert_eq!(e.len(), t.dim());
    assert_eq!(BatchStats::get(&t.stats().timed_batches), 1);

    let (t, tok) = encoder_thread(&dir, BatchPolicy { batch_tokens: 16_384, max_wait: Duration::from_millis(20) });
    let start = Instant::now();
    t.encode(vec![tok.encode(&text(2, 20)).unwrap()]).await.unwrap();
    assert!(start.elapsed() < Duration::from_millis(20 + 150), "default-like max wait: {:?}", start.elapsed());

    // Enough tokens for the budget: the batch closes at once although max_wait is long.
    let docs: Vec<Vec<u32>> = (0..4).map(|i| tok.encode(&text(i, 98)).unwrap()).collect();
    let budget = docs.iter().map(Vec::len).sum();
    let (t, _) = encoder_thread(&dir, BatchPolicy { batch_tokens: budget, max_wait: Duration::from_secs(3) });
    let start = Instant::now();
    let all = futures::future::join_all(docs.into_iter().map(|d| t.encode(vec![d]))).await;
    assert!(all.iter().all(Result::is_ok));
    assert!(start.elapsed() < Duration::from_millis(1_500), "full batch waited: {:?}", start.elapsed());
    assert!(BatchStats::get(&t.stats().full_batches) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_batches_fill_to_the_token_budget() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let dir = tiny_model();
    let p = kafka::unique("infer");
    let (input, out, dlq) = (format!("{p}.docs.parsed"), format!("{p}.docs.embedded"), format!("{p}.docs.dlq"));
    kafka::create_topics(&kafka::brokers(), &[(&input, 2), (&out, 1), (&dlq, 1)]).await.unwrap();

    const N: usize = 300;
    const BUDGET: usize = 1_024;
    let producer = kafka::producer(&kafka::brokers()).unwrap();
    let doc = |i: usize, t: String| ParsedDocument {
        id: format!("d{i:04}"),
        content_type: "text/plain".into(),
        text: t,
        fields: BusinessFields::default(),
        warnings: vec![],
        created_at_ms: 1,
        priority: docflow_schemas::Priority::Normal,
        locale: None,
    };
    // The backlog is there before the stage starts: load.
    for i in 0..N {
        send(&producer, &input, &format!("d{i:04}"), &doc(i, text(i, 100)));
    }
    kafka::flush(&producer).unwrap();

    let cfg = docflow_stages::InferConfig { batch_tokens: BUDGET, max_wait_ms: 50, ..tiny_infer(&dir) };
    let stage = InferStage::start(cfg).await.unwrap();
    let (stats, metrics, version) = (stage.batch_stats(), stage.metrics(), stage.version().to_owned());
    assert_eq!(version, docflow_model::model_version(dir.path()).unwrap());
    let shutdown = docflow_runtime::ShutdownSignal::new();
    let _stop = StopOnDrop(shutdown.clone());
    let task = tokio::spawn(docflow_runtime::run_stage(stage, stage_config(&[&input], Some(&out), &dlq), shutdown.clone()));

    let first = read_n(&out, N, Duration::from_secs(60));
    assert_eq!(first.len(), N);
    let batches = BatchStats::get(&stats.batches);
    let tokens = BatchStats::get(&stats.tokens);
    let full = BatchStats::get(&stats.full_batches);
    println!("batches={batches} full={full} tokens={tokens} mean_tokens={} max={}", tokens / batches.max(1), BatchStats::get(&stats.max_batch_tokens));
    assert_eq!(BatchStats::get(&stats.documents), N as u64);
    // ~103 tokens a document: a batch holds 9 of them (927 tokens) before the 10th would exceed 1,024.
    assert!(full as f64 >= 0.8 * batches as f64, "most batches close at the budget: {full} of {batches}");
    assert!(tokens / batches >= (BUDGET as u64) * 3 / 4, "mean batch {} tokens of {BUDGET}", tokens / batches);
    assert!(BatchStats::get(&stats.max_batch_tokens) <= BUDGET as u64);

    let mut by_text: HashMap<String, Vec<f32>> = HashMap::new();
    for c in &first {
        let d: EmbeddedDocument = decoded(c);
        assert_eq!(d.encoder_version, version);
        let e = embedding_from_bytes(&d.embedding_f32le).unwrap();
        let norm: f32 = e.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "unit length: {norm}");
        by_text.insert(d.parsed.text.clone(), e);
    }

    // The same texts again (other ids, other layout): served by the cache, same embeddings.
    for i in 0..20 {
        send(&producer, &input, &format!("again{i}"), &doc(1000 + i, text(i, 100).replace(' ', "  ")));
    }
    kafka::flush(&producer).unwrap();
    let all = read_n(&out, N + 20, Duration::from_secs(30));
    shutdown.trigger();
    task.await.unwrap().unwrap();
    assert_eq!(all.len(), N + 20);
    assert_eq!(metrics.cache_hits_total.load(std::sync::atomic::Ordering::Relaxed), 20);
    for c in &all[N..] {
        let d: EmbeddedDocument = decoded(c);
        let original = &by_text[&d.parsed.text.replace("  ", " ")];
        assert_eq!(&embedding_from_bytes(&d.embedding_f32le).unwrap(), original);
    }
}

/// A model whose position table is shorter than `max_tokens` (256): long
/// documents are cut at the model's 64 positions and embedded, not
/// dead-lettered as too long for the encoder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_documents_are_cut_at_a_short_position_table() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let dir = docflow_model::tiny::TinyModelDir::new(&docflow_model::tiny::TinySpec { max_positions: 64, ..Default::default() }).unwrap();
    let p = kafka::unique("infer64");
    let (input, out, dlq) = (format!("{p}.docs.parsed"), format!("{p}.docs.embedded"), format!("{p}.docs.dlq"));
    kafka::create_topics(&kafka::brokers(), &[(&input, 1), (&out, 1), (&dlq, 1)]).await.unwrap();
    let producer = kafka::producer(&kafka::brokers()).unwrap();
    for i in 0..5 {
        let doc = ParsedDocument {
            id: format!("long{i}"),
            content_type: "text/plain".into(),
            text: text(i, 400),
            fields: BusinessFields::default(),
            warnings: vec![],
            created_at_ms: 1,
            priority: docflow_schemas::Priority::Normal,
            locale: None,
        };
        send(&producer, &input, &doc.id, &doc);
    }
    kafka::flush(&producer).unwrap();

    let stage = InferStage::start(tiny_infer(&dir)).await.unwrap();
    let shutdown = docflow_runtime::ShutdownSignal::new();
    let _stop = StopOnDrop(shutdown.clone());
    let metrics = std::sync::Arc::new(docflow_runtime::StageMetrics::default());
    let task = tokio::spawn(docflow_runtime::run_stage_with_metrics(stage, stage_config(&[&input], Some(&out), &dlq), shutdown.clone(), metrics.clone()));
    let embedded = read_n(&out, 5, Duration::from_secs(60));
    shutdown.trigger();
    task.await.unwrap().unwrap();
    assert_eq!(embedded.len(), 5, "every long document embedded");
    assert_eq!(docflow_runtime::StageMetrics::get(&metrics.dead_lettered), 0, "none dead-lettered");
}
