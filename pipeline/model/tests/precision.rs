//! The real all-MiniLM-L6-v2 at bf16 and int8 against fp32: every golden
//! text and 200 generated documents (`tests/data/generated_docs_200.jsonl`,
//! `scripts/gen_bench_docs.py 200 - 11`) must keep cosine ≥ 0.99 (int8)
//! and ≥ 0.999 (bf16); every int8 kernel (VNNI, AVX2, scalar) must give
//! the same embeddings, bit for bit, so a CPU without VNNI is only slower.
//!
//! Needs the model like `tests/golden.rs` (`DOCFLOW_SKIP_MODEL=1` skips).

use std::path::{Path, PathBuf};

use docflow_model::device::default_model_dir;
use docflow_model::precision::{Bf16Kernel, Int8Kernel};
use docflow_model::precision_check::agreement;
use docflow_model::{CpuEncoder, CpuKernels, CpuOptions, Precision, TextEncoder, TextEncoderOptions};

fn model_dir() -> Option<PathBuf> {
    let dir = default_model_dir();
    if dir.join("model.safetensors").is_file() && dir.join("tokenizer.json").is_file() {
        return Some(dir);
    }
    if std::env::var("DOCFLOW_SKIP_MODEL").as_deref() == Ok("1") {
        println!("skipped: no model at {} (DOCFLOW_SKIP_MODEL=1)", dir.display());
        return None;
    }
    panic!("no model at {}: run `docflow model fetch` (or DOCFLOW_SKIP_MODEL=1 to skip)", dir.display());
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// Golden texts, then the generated documents.
fn texts() -> Vec<String> {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden/minilm_golden.json");
    let golden = if shared.exists() { shared } else { data("minilm_golden.json") };
    let golden: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(golden).unwrap()).unwrap();
    let mut texts: Vec<String> =
        golden["items"].as_array().unwrap().iter().map(|i| i["text"].as_str().unwrap().to_string()).collect();
    for line in std::fs::read_to_string(data("generated_docs_200.jsonl")).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        texts.push(v["text"].as_str().unwrap().to_string());
    }
    texts
}

fn embed(dir: &Path, precision: Precision, kernels: Option<CpuKernels>, texts: &[String]) -> Vec<Vec<f32>> {
    let options = CpuOptions { threads: 2, precision, kernels, ..CpuOptions::default() };
    let encoder = CpuEncoder::load(dir, options).unwrap();
    let mut text = TextEncoder::load(dir, Box::new(encoder), TextEncoderOptions::default()).unwrap();
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    text.encode_texts(&refs).unwrap()
}

#[test]
fn reduced_precisions_stay_close_to_fp32() {
    let Some(dir) = model_dir() else { return };
    let texts = texts();
    let reference = embed(&dir, Precision::Fp32, None, &texts);
    for (precision, bar) in [(Precision::Int8, 0.99f32), (Precision::Bf16, 0.999)] {
        let got = embed(&dir, precision, None, &texts);
        let a = agreement(precision, precision.to_string(), &reference, &got);
        println!(
            "{precision}: {} texts, min cosine {:.5} (text {}), mean {:.6}",
            texts.len(),
            a.min_cosine,
            a.worst_doc,
            a.mean_cosine
        );
        assert!(a.min_cosine >= bar, "{precision}: cosine {} < {bar} for {:?}", a.min_cosine, texts[a.worst_doc]);
    }
}

#[test]
fn int8_kernels_give_identical_embeddings() {
    let Some(dir) = model_dir() else { return };
    // Short and long texts; the scalar kernel is slow, so a handful.
    let mut texts = texts();
    texts.truncate(4);
    texts.push(texts[2].repeat(20)); // past 256 tokens: truncated
    let detected = CpuKernels::detect();
    let scalar = CpuKernels { int8: Int8Kernel::Scalar, bf16: Bf16Kernel::Scalar };
    let want = embed(&dir, Precision::Int8, Some(scalar), &texts);
    let mut kernels = vec![];
    if Int8Kernel::Avx2.is_supported() {
        kernels.push(Int8Kernel::Avx2);
    }
    if detected.int8 == Int8Kernel::Avx512Vnni {
        kernels.push(Int8Kernel::Avx512Vnni);
    }
    for int8 in kernels {
        let got = embed(&dir, Precision::Int8, Some(CpuKernels { int8, ..scalar }), &texts);
        assert_eq!(got, want, "{int8:?} differs from the scalar kernel");
    }
}

#[test]
fn bf16_kernels_agree() {
    let Some(dir) = model_dir() else { return };
    if CpuKernels::detect().bf16 != Bf16Kernel::Avx512Bf16 {
        println!("skipped: this CPU has no AVX512_BF16 (the portable kernel is checked by the fp32 comparison)");
        return;
    }
    let mut texts = texts();
    texts.truncate(4);
    let scalar = embed(&dir, Precision::Bf16, Some(CpuKernels::scalar()), &texts);
    let fast = embed(&dir, Precision::Bf16, None, &texts);
    let a = agreement(Precision::Bf16, "bf16".into(), &scalar, &fast);
    // Same bf16 inputs; only the order of f32 sums differs.
    assert!(a.min_cosine >= 0.99999, "{}", a.min_cosine);
}
