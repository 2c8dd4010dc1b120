//! The infer stage's own path — `InferStage::process` → batcher → the
//! encoder's worker, the path the GPU benchmark drives — with the CPU
//! encoder, no Kafka: each document gets the embedding the encoder gives
//! it directly (long ones averaged over their windows), whichever of the
//! concurrent batches it came in and whichever encoder batch it landed in.

mod common;

use common::*;
use docflow_model::pooling::combine_chunks;
use docflow_model::{BertTokenizer, ChunkParams, CpuEncoder, CpuOptions, Encoder, PackedBatch};
use docflow_runtime::{Input, RecordMeta, Stage};
use docflow_schemas::embedding_from_bytes;
use docflow_stages::infer::LongTextMode;
use docflow_stages::{InferConfig, InferStage};

const WORDS: [&str; 12] = ["invoice", "total", "due", "payment", "contract", "order", "date", "from", "bill", "amount", "tax", "net"];

/// Documents of 3 to ~700 words: the longer ones span several windows.
fn texts(n: usize) -> Vec<String> {
    (0..n).map(|i| (0..3 + (i * 37) % 700).map(|w| WORDS[(i * 7 + w * 5 + w / 3) % WORDS.len()]).collect::<Vec<_>>().join(" ")).collect()
}

fn inputs(texts: &[String], first: usize) -> Vec<Input<docflow_schemas::ParsedDocument>> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let id = format!("doc-{}", first + i);
            let mut parsed = embedded_doc(&id, &[]).parsed;
            parsed.text = t.clone();
            let meta = RecordMeta { topic: "docs.parsed".into(), partition: 0, offset: (first + i) as i64, timestamp_ms: None };
            Input::new(parsed, Some(id.into_bytes()), meta)
        })
        .collect()
}

/// The embedding the encoder gives `text` by itself, under the stage's long-text policy.
fn direct(encoder: &mut CpuEncoder, tok: &BertTokenizer, chunks: ChunkParams, text: &str) -> Vec<f32> {
    let windows = tok.encode_chunks(text, chunks).unwrap();
    let flat = encoder.encode_packed(&PackedBatch::from_sequences(&windows)).unwrap();
    if windows.len() == 1 {
        flat
    } else {
        combine_chunks(&flat, encoder.dim()).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stage_path_gives_each_document_the_encoders_embedding() {
    let dir = tiny_model();
    let chunks = ChunkParams { overlap: 8, max_chunks: 4 };
    let config = InferConfig {
        long_text: LongTextMode::ChunkMean,
        chunk_overlap: chunks.overlap,
        max_chunks: chunks.max_chunks,
        batch_tokens: 300,
        cache_bytes: 0,
        ..tiny_infer(&dir)
    };
    let stage = InferStage::start(config).await.unwrap();
    let all = texts(60);
    // Two batches at once, as the runtime's workers call the stage.
    let (a, b) = tokio::join!(stage.process(inputs(&all[..30], 0)), stage.process(inputs(&all[30..], 30)));

    let positions = docflow_model::BertConfig::from_file(&dir.path().join("config.json")).unwrap().max_position_embeddings;
    let tok = BertTokenizer::from_file(&dir.path().join("tokenizer.json"), positions.min(docflow_model::DEFAULT_MAX_TOKENS)).unwrap();
    let mut encoder = CpuEncoder::load(dir.path(), CpuOptions { threads: 1, ..CpuOptions::default() }).unwrap();
    let mut several_windows = 0;
    for (i, r) in a.into_iter().chain(b).enumerate() {
        let out = r.unwrap_or_else(|e| panic!("document {i}: {e:?}"));
        assert_eq!(out.len(), 1);
        let doc = &out[0].value;
        assert_eq!(doc.parsed.id, format!("doc-{i}"), "answers out of order");
        let got = embedding_from_bytes(&doc.embedding_f32le).unwrap();
        let want = direct(&mut encoder, &tok, chunks, &all[i]);
        let worst = got.iter().zip(&want).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(got.len() == want.len() && worst < 1e-5, "document {i}: max |diff| {worst}");
        several_windows += (tok.encode_chunks(&all[i], chunks).unwrap().len() > 1) as usize;
    }
    assert!(several_windows > 5, "only {several_windows} documents span several windows");
    let stats = stage.batch_stats();
    assert_eq!(docflow_stages::encoder_thread::BatchStats::get(&stats.documents), 60);
    let batches = docflow_stages::encoder_thread::BatchStats::get(&stats.batches);
    assert!(batches > 1 && batches < 60, "{batches} encoder batches for 60 documents");
}
