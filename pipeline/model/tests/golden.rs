//! The real all-MiniLM-L6-v2 against sentence-transformers' output:
//! embeddings (`shared/golden/minilm_golden.json`, cosine ≥ 0.9999) and
//! token ids (`tests/data/golden_token_ids.json`, made by
//! `scripts/golden_token_ids.py` with Hugging Face transformers).
//!
//! Needs the model (`docflow model fetch`; `DOCFLOW_MODEL_DIR` overrides the
//! directory). Without it these tests fail, unless `DOCFLOW_SKIP_MODEL=1`,
//! in which case they print why they skip.

use std::path::{Path, PathBuf};

use docflow_model::device::default_model_dir;
use docflow_model::pooling::cosine;
use docflow_model::{BertTokenizer, CpuEncoder, CpuOptions, LoadOptions, TextEncoder, TextEncoderOptions};

/// The model directory, or `None` (after printing why) when the model is
/// absent and `DOCFLOW_SKIP_MODEL=1`.
fn model_dir() -> Option<PathBuf> {
    let dir = default_model_dir();
    if dir.join("model.safetensors").is_file() && dir.join("tokenizer.json").is_file() {
        return Some(dir);
    }
    if std::env::var("DOCFLOW_SKIP_MODEL").as_deref() == Ok("1") {
        println!("skipped: no model at {} (DOCFLOW_SKIP_MODEL=1)", dir.display());
        return None;
    }
    panic!(
        "no model at {}: run `docflow model fetch` (or set DOCFLOW_MODEL_DIR, or DOCFLOW_SKIP_MODEL=1 to skip)",
        dir.display()
    );
}

fn golden_path() -> PathBuf {
    // shared/ sits beside the repository (../shared from the repo root); a
    // byte-identical copy is committed in tests/data for clones without it.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden/minilm_golden.json");
    if shared.exists() {
        return shared;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/minilm_golden.json")
}

fn load_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Embeddings of every golden text with `options`, and the golden ones.
fn embed_golden(dir: &Path, load: LoadOptions) -> Vec<(String, Vec<f32>, Vec<f32>)> {
    let golden = load_json(&golden_path());
    let items = golden["items"].as_array().expect("items");
    let texts: Vec<&str> = items.iter().map(|i| i["text"].as_str().unwrap()).collect();
    let encoder = CpuEncoder::load(dir, CpuOptions { threads: 2, load, ..CpuOptions::default() }).unwrap();
    let mut text_encoder = TextEncoder::load(dir, Box::new(encoder), TextEncoderOptions::default()).unwrap();
    let got = text_encoder.encode_texts(&texts).unwrap();
    items
        .iter()
        .zip(got)
        .map(|(item, emb)| {
            let want: Vec<f32> =
                item["embedding"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            (item["text"].as_str().unwrap().to_string(), emb, want)
        })
        .collect()
}

#[test]
fn cpu_embeddings_match_sentence_transformers() {
    let Some(dir) = model_dir() else { return };
    // The golden file says its weights were rounded to fp16 (fp32 compute):
    // load them the same way.
    let golden = load_json(&golden_path());
    let produced_by = golden["produced_by"].as_str().unwrap_or("");
    let load = LoadOptions { round_to_f16: produced_by.contains("rounded to fp16") };
    let results = embed_golden(&dir, load);
    assert_eq!(results.len(), golden["items"].as_array().unwrap().len());
    let mut worst = 1.0f32;
    for (text, got, want) in &results {
        assert_eq!(got.len(), 384);
        let c = cosine(got, want);
        worst = worst.min(c);
        assert!(c >= 0.9999, "cosine {c} < 0.9999 for {text:?}");
    }
    println!("{} golden texts, worst cosine {worst:.7} (fp16-rounded weights: {})", results.len(), load.round_to_f16);
}

#[test]
fn unrounded_fp32_weights_stay_close_to_golden() {
    // The plain fp32 weights differ from the golden's fp16-rounded ones only
    // by rounding; the embeddings must still agree closely.
    let Some(dir) = model_dir() else { return };
    for (text, got, want) in embed_golden(&dir, LoadOptions::default()) {
        let c = cosine(&got, &want);
        assert!(c >= 0.999, "cosine {c} for {text:?}");
    }
}

#[test]
fn token_ids_match_hugging_face() {
    let Some(dir) = model_dir() else { return };
    let fixture = load_json(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden_token_ids.json"));
    let tokenizer = BertTokenizer::from_file(&dir.join("tokenizer.json"), 256).unwrap();
    let items = fixture["items"].as_array().unwrap();
    assert!(items.len() >= 32);
    for item in items {
        let text = item["text"].as_str().unwrap();
        let want: Vec<u32> = item["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(tokenizer.encode(text).unwrap(), want, "ids differ for {text:?}");
    }
    // The batch path gives the same ids.
    let texts: Vec<&str> = items.iter().map(|i| i["text"].as_str().unwrap()).collect();
    let batch = tokenizer.encode_batch(&texts).unwrap();
    for (ids, item) in batch.iter().zip(items) {
        assert_eq!(ids.len(), item["ids"].as_array().unwrap().len());
    }
}

#[test]
fn golden_texts_are_in_the_token_fixture() {
    // Guards against the golden file changing without regenerating the
    // token fixture (scripts/golden_token_ids.py).
    let golden = load_json(&golden_path());
    let fixture = load_json(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden_token_ids.json"));
    let fixture_texts: Vec<&str> = fixture["items"].as_array().unwrap().iter().map(|i| i["text"].as_str().unwrap()).collect();
    for item in golden["items"].as_array().unwrap() {
        let text = item["text"].as_str().unwrap();
        assert!(fixture_texts.contains(&text), "golden text missing from the token fixture: {text:?}");
    }
}

#[test]
fn model_version_names_the_model_and_its_hash() {
    let Some(dir) = model_dir() else { return };
    let v = docflow_model::model_version(&dir).unwrap();
    let (name, hash) = v.split_once('@').unwrap();
    assert_eq!(name, dir.canonicalize().unwrap().file_name().unwrap().to_string_lossy());
    assert_eq!(hash.len(), 12);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
}
