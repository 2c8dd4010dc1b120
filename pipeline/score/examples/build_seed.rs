//! Rebuilds `seed/default_classes.prototypes.json` from
//! `seed/default_classes.json` with the real all-MiniLM-L6-v2 on the CPU.
//!
//! `cargo run -p docflow-score --example build_seed [-- MODEL_DIR]`
//! (default model dir: `DOCFLOW_MODEL_DIR`, else ~/.cache/docflow/models/all-MiniLM-L6-v2).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use docflow_model::{CpuEncoder, CpuOptions, TextEncoder, TextEncoderOptions};
use docflow_score::seed::{texts, texts_sha256, SeedClass, SeedSet, TEXTS_JSON};

fn main() -> anyhow::Result<()> {
    let dir = std::env::args().nth(1).map(PathBuf::from).or_else(|| std::env::var_os("DOCFLOW_MODEL_DIR").map(PathBuf::from)).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/docflow/models/all-MiniLM-L6-v2")
    });
    let encoder = CpuEncoder::load(&dir, CpuOptions::default()).with_context(|| format!("loading the model from {}", dir.display()))?;
    let mut enc = TextEncoder::load(&dir, Box::new(encoder), TextEncoderOptions::default())?;
    let seed = texts()?;
    let mut classes = BTreeMap::new();
    let mut dim = 0;
    for (class, docs) in &seed.classes {
        let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
        let vectors = enc.encode_texts(&refs)?;
        dim = vectors.first().map_or(0, Vec::len);
        let mut mean = vec![0.0f64; dim];
        for v in &vectors {
            mean.iter_mut().zip(v).for_each(|(m, x)| *m += f64::from(*x));
        }
        let norm = mean.iter().map(|m| m * m).sum::<f64>().sqrt().max(1e-12);
        // Six decimals: far below the encoder's own precision, and a small file.
        let prototype = mean.iter().map(|m| ((m / norm) * 1e6).round() as f32 / 1e6).collect();
        classes.insert(class.clone(), SeedClass { examples: docs.len(), prototype });
    }
    let set = SeedSet {
        name: seed.name,
        version: seed.version,
        encoder: "all-MiniLM-L6-v2".into(),
        dim,
        texts_sha256: texts_sha256(TEXTS_JSON),
        classes,
    };
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seed/default_classes.prototypes.json");
    std::fs::write(&out, serde_json::to_string(&set)? + "\n")?;
    println!("wrote {} ({} classes, dim {dim})", out.display(), set.classes.len());
    Ok(())
}
