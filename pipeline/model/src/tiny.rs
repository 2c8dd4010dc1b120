//! A tiny random BERT written to disk in the real model's formats —
//! `config.json`, `model.safetensors`, a WordPiece `tokenizer.json` — so
//! tests of any crate can run the real loading and encoding code without
//! the 90 MB download. Weights are seeded: the same spec gives the same
//! files and embeddings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use safetensors::tensor::{Dtype, TensorView};
use serde_json::json;

use crate::EncoderError;

/// Storage type of the generated weights (the loader converts to f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TinyDtype {
    F32,
    F16,
    BF16,
}

/// Shape and seed of a tiny model.
#[derive(Debug, Clone, PartialEq)]
pub struct TinySpec {
    pub layers: usize,
    pub hidden: usize,
    pub heads: usize,
    pub intermediate: usize,
    /// Position-table rows (≥ 256 so sentence-transformers truncation fits).
    pub max_positions: usize,
    pub seed: u64,
    pub dtype: TinyDtype,
}

impl Default for TinySpec {
    fn default() -> Self {
        TinySpec {
            layers: 2,
            hidden: 32,
            heads: 4,
            intermediate: 64,
            max_positions: 512,
            seed: 42,
            dtype: TinyDtype::F32,
        }
    }
}

/// A tiny model in a fresh temporary directory, removed on drop.
#[derive(Debug)]
pub struct TinyModelDir {
    path: PathBuf,
}

impl TinyModelDir {
    /// Writes a model for `spec` under the system temp directory.
    pub fn new(spec: &TinySpec) -> Result<Self, EncoderError> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("docflow-tiny-bert-{}-{n}-{nanos}", std::process::id()));
        write_tiny_model(&path, spec)?;
        Ok(TinyModelDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TinyModelDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The tiny vocabulary: BERT's special tokens at BERT's positions relative
/// to each other, then characters, `##` continuations and a few words, so
/// WordPiece has real choices to make.
pub fn tiny_vocab() -> Vec<String> {
    let mut v: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].iter().map(|s| s.to_string()).collect();
    for c in (b'!'..=b'~').filter(|c| !c.is_ascii_uppercase()) {
        v.push((c as char).to_string());
    }
    for c in (b'a'..=b'z').chain(b'0'..=b'9') {
        v.push(format!("##{}", c as char));
    }
    for w in [
        "the", "and", "invoice", "total", "due", "payment", "contract", "order", "date", "from", "to", "bill",
        "amount", "tax", "net", "days", "please", "pay", "by", "of", "for", "in", "##ing", "##ed",
        "##er", "##ment", "##tion", "€", "£", "中", "文", "日", "本",
    ] {
        v.push(w.to_string());
    }
    v
}

/// Writes `config.json`, `model.safetensors` and `tokenizer.json` into `dir`
/// (created if missing).
pub fn write_tiny_model(dir: &Path, spec: &TinySpec) -> Result<(), EncoderError> {
    let io = |source: std::io::Error| EncoderError::ModelFile { path: dir.into(), source };
    std::fs::create_dir_all(dir).map_err(io)?;
    let vocab = tiny_vocab();
    let config = json!({
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_act": "gelu",
        "hidden_size": spec.hidden,
        "intermediate_size": spec.intermediate,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": spec.max_positions,
        "num_attention_heads": spec.heads,
        "num_hidden_layers": spec.layers,
        "position_embedding_type": "absolute",
        "type_vocab_size": 2,
        "vocab_size": vocab.len(),
        "pad_token_id": 0,
    });
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&config).unwrap_or_default()).map_err(io)?;
    std::fs::write(dir.join("tokenizer.json"), tokenizer_json(&vocab)).map_err(io)?;
    let bytes = weights_file(spec, vocab.len())?;
    std::fs::write(dir.join("model.safetensors"), bytes).map_err(io)?;
    Ok(())
}

/// A tensor ready to serialise: name, shape, little-endian bytes.
type Encoded = (String, Vec<usize>, Vec<u8>);

/// Random weights with HF names and shapes, serialised with `safetensors`.
fn weights_file(spec: &TinySpec, vocab: usize) -> Result<Vec<u8>, EncoderError> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let (h, f) = (spec.hidden, spec.intermediate);
    let mut tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)> = BTreeMap::new();
    let mut add = |name: String, shape: Vec<usize>, mean: f32, std: f32, rng: &mut StdRng| {
        let n: usize = shape.iter().product();
        // Sum of 4 uniforms: a cheap, bounded, roughly normal draw.
        let data = (0..n)
            .map(|_| mean + std * ((0..4).map(|_| rng.random::<f32>()).sum::<f32>() - 2.0) * 1.73)
            .collect();
        tensors.insert(name, (shape, data));
    };
    add("embeddings.word_embeddings.weight".into(), vec![vocab, h], 0.0, 0.5, &mut rng);
    add("embeddings.position_embeddings.weight".into(), vec![spec.max_positions, h], 0.0, 0.2, &mut rng);
    add("embeddings.token_type_embeddings.weight".into(), vec![2, h], 0.0, 0.1, &mut rng);
    add("embeddings.LayerNorm.weight".into(), vec![h], 1.0, 0.1, &mut rng);
    add("embeddings.LayerNorm.bias".into(), vec![h], 0.0, 0.1, &mut rng);
    for i in 0..spec.layers {
        let p = format!("encoder.layer.{i}");
        for (name, out, inp) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", f, h),
            ("output.dense", h, f),
        ] {
            add(format!("{p}.{name}.weight"), vec![out, inp], 0.0, 1.0 / (inp as f32).sqrt(), &mut rng);
            add(format!("{p}.{name}.bias"), vec![out], 0.0, 0.05, &mut rng);
        }
        for name in ["attention.output.LayerNorm", "output.LayerNorm"] {
            add(format!("{p}.{name}.weight"), vec![h], 1.0, 0.1, &mut rng);
            add(format!("{p}.{name}.bias"), vec![h], 0.0, 0.1, &mut rng);
        }
    }
    let (dtype, encoded): (Dtype, Vec<Encoded>) = match spec.dtype {
        TinyDtype::F32 => (
            Dtype::F32,
            tensors.into_iter().map(|(n, (s, d))| (n, s, d.iter().flat_map(|v| v.to_le_bytes()).collect())).collect(),
        ),
        TinyDtype::F16 => (
            Dtype::F16,
            tensors
                .into_iter()
                .map(|(n, (s, d))| (n, s, d.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect()))
                .collect(),
        ),
        TinyDtype::BF16 => (
            Dtype::BF16,
            tensors
                .into_iter()
                .map(|(n, (s, d))| (n, s, d.iter().flat_map(|v| half::bf16::from_f32(*v).to_le_bytes()).collect()))
                .collect(),
        ),
    };
    let views = encoded
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(dtype, shape.clone(), bytes).map(|v| (name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| EncoderError::Internal(format!("tiny weights: {e}")))?;
    let metadata = Some([("format".to_string(), "pt".to_string())].into_iter().collect());
    safetensors::serialize(views, metadata).map_err(|e| EncoderError::Internal(format!("tiny weights: {e}")))
}

/// A `tokenizer.json` of the same shape as MiniLM's (BertNormalizer,
/// BertPreTokenizer, WordPiece, `[CLS] $A [SEP]` template) over `vocab`.
fn tokenizer_json(vocab: &[String]) -> Vec<u8> {
    let id = |t: &str| vocab.iter().position(|v| v == t).expect("special token in tiny vocab");
    let added: Vec<_> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .map(|t| {
            json!({"id": id(t), "content": t, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    let vocab_map: serde_json::Map<String, serde_json::Value> =
        vocab.iter().enumerate().map(|(i, t)| (t.clone(), json!(i))).collect();
    let (cls, sep) = (id("[CLS]"), id("[SEP]"));
    let tokenizer = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [cls], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [sep], "tokens": ["[SEP]"]}
            }
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab_map}
    });
    serde_json::to_vec_pretty(&tokenizer).unwrap_or_default()
}
