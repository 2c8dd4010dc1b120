//! The CPU encoder on a tiny random BERT written by `docflow_model::tiny`:
//! the real loading and encoding code, no download.

use std::io::Write;

use docflow_model::pooling::cosine;
use docflow_model::tiny::{write_tiny_model, TinyDtype, TinyModelDir, TinySpec};
use docflow_model::{
    BertTokenizer, BertWeights, ChunkParams, CpuEncoder, CpuOptions, Encoder, EncoderError, LoadOptions, LongText,
    PackedBatch, TextEncoder, TextEncoderOptions,
};

fn tiny() -> TinyModelDir {
    TinyModelDir::new(&TinySpec::default()).unwrap()
}

fn cpu(dir: &TinyModelDir, threads: usize) -> CpuEncoder {
    CpuEncoder::load(dir.path(), CpuOptions { threads, ..CpuOptions::default() }).unwrap()
}

fn text_encoder(dir: &TinyModelDir, long_text: LongText) -> TextEncoder {
    let options = TextEncoderOptions { long_text, batch_tokens: 600, ..TextEncoderOptions::default() };
    TextEncoder::load(dir.path(), Box::new(cpu(dir, 2)), options).unwrap()
}

fn assert_unit(v: &[f32]) {
    assert!(v.iter().all(|x| x.is_finite()), "non-finite embedding");
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
}

const TEXTS: [&str; 5] = [
    "Invoice total due in 30 days",
    "please pay the amount by the due date",
    "contract",
    "order 1234 from acme, net amount 99.50 tax 19",
    "the the the the the the the the the the the the the the the the",
];

#[test]
fn packed_batch_equals_one_sequence_at_a_time() {
    let dir = tiny();
    let tok = BertTokenizer::from_file(&dir.path().join("tokenizer.json"), 256).unwrap();
    let mut enc = cpu(&dir, 2);
    let seqs = tok.encode_batch(&TEXTS).unwrap();
    let packed = enc.encode_packed(&PackedBatch::from_sequences(&seqs)).unwrap();
    assert_eq!(packed.len(), TEXTS.len() * enc.dim());
    for (i, seq) in seqs.iter().enumerate() {
        let alone = enc.encode_packed(&PackedBatch::from_sequences(&[seq])).unwrap();
        let in_batch = &packed[i * enc.dim()..(i + 1) * enc.dim()];
        let max_diff = alone.iter().zip(in_batch).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(max_diff < 1e-5, "sequence {i} differs by {max_diff} when packed");
        assert_unit(in_batch);
    }
    // Different texts give different embeddings (the model is not degenerate).
    let c = cosine(&packed[..enc.dim()], &packed[enc.dim()..2 * enc.dim()]);
    assert!(c < 0.999, "two different texts have cosine {c}");
}

#[test]
fn thread_count_does_not_change_results() {
    let dir = tiny();
    let tok = BertTokenizer::from_file(&dir.path().join("tokenizer.json"), 256).unwrap();
    let batch = tok.pack(&TEXTS).unwrap();
    let one = cpu(&dir, 1).encode_packed(&batch).unwrap();
    let two = cpu(&dir, 2);
    assert_eq!(two.threads(), 2);
    let mut two = two;
    let two = two.encode_packed(&batch).unwrap();
    for (a, b) in one.iter().zip(&two) {
        assert!((a - b).abs() < 1e-5);
    }
}

/// A plain, unpacked reference BERT written from the definitions (no
/// GEMM crate, no packing, no fused ops), to check the optimised path.
fn reference_embedding(w: &BertWeights, ids: &[u32]) -> Vec<f32> {
    let c = &w.config;
    let (h, n) = (c.hidden_size, ids.len());
    let eps = c.layer_norm_eps as f32;
    let ln = |x: &mut [f32], g: &[f32], b: &[f32]| {
        for row in x.chunks_mut(h) {
            let mean = row.iter().sum::<f32>() / h as f32;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / h as f32;
            for j in 0..h {
                row[j] = (row[j] - mean) / (var + eps).sqrt() * g[j] + b[j];
            }
        }
    };
    let linear = |x: &[f32], lw: &docflow_model::weights::LinearWeights| -> Vec<f32> {
        let (out, inp) = (lw.weight.shape[0], lw.weight.shape[1]);
        let rows = x.len() / inp;
        let mut y = vec![0.0; rows * out];
        for r in 0..rows {
            for o in 0..out {
                y[r * out + o] = lw.bias.data[o]
                    + (0..inp).map(|i| x[r * inp + i] * lw.weight.data[o * inp + i]).sum::<f32>();
            }
        }
        y
    };
    let e = &w.embeddings;
    let mut x = vec![0.0; n * h];
    for (p, &id) in ids.iter().enumerate() {
        for j in 0..h {
            x[p * h + j] = e.word.data[id as usize * h + j] + e.position.data[p * h + j] + e.token_type.data[j];
        }
    }
    ln(&mut x, &e.ln_gamma.data, &e.ln_beta.data);
    let (heads, d) = (c.num_attention_heads, c.head_dim());
    for l in &w.layers {
        let (q, k, v) = (linear(&x, &l.query), linear(&x, &l.key), linear(&x, &l.value));
        let mut ctx = vec![0.0; n * h];
        for hd in 0..heads {
            for i in 0..n {
                let scores: Vec<f32> = (0..n)
                    .map(|j| (0..d).map(|t| q[i * h + hd * d + t] * k[j * h + hd * d + t]).sum::<f32>() / (d as f32).sqrt())
                    .collect();
                let max = scores.iter().cloned().fold(f32::MIN, f32::max);
                let exps: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
                let sum: f32 = exps.iter().sum();
                for t in 0..d {
                    ctx[i * h + hd * d + t] = (0..n).map(|j| exps[j] / sum * v[j * h + hd * d + t]).sum();
                }
            }
        }
        let mut a = linear(&ctx, &l.attention_output);
        a.iter_mut().zip(&x).for_each(|(a, x)| *a += x);
        ln(&mut a, &l.attention_ln.gamma.data, &l.attention_ln.beta.data);
        let mut inter = linear(&a, &l.intermediate);
        inter.iter_mut().for_each(|v| *v = 0.5 * *v * (1.0 + libm::erff(*v / 2f32.sqrt())));
        let mut o = linear(&inter, &l.output);
        o.iter_mut().zip(&a).for_each(|(o, a)| *o += a);
        ln(&mut o, &l.output_ln.gamma.data, &l.output_ln.beta.data);
        x = o;
    }
    let mut mean = vec![0.0f32; h];
    for row in x.chunks(h) {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v / n as f32);
    }
    let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt();
    mean.iter().map(|v| v / norm).collect()
}

#[test]
fn matches_a_plain_reference_implementation() {
    let dir = tiny();
    let weights = BertWeights::load(dir.path(), LoadOptions::default()).unwrap();
    let tok = BertTokenizer::from_file(&dir.path().join("tokenizer.json"), 256).unwrap();
    let seqs = tok.encode_batch(&TEXTS).unwrap();
    let mut enc = CpuEncoder::from_weights(weights.clone(), CpuOptions { threads: 2, ..CpuOptions::default() }).unwrap();
    let got = enc.encode_packed(&PackedBatch::from_sequences(&seqs)).unwrap();
    for (i, seq) in seqs.iter().enumerate() {
        let want = reference_embedding(&weights, seq);
        let c = cosine(&got[i * 32..(i + 1) * 32], &want);
        assert!(c > 0.99999, "sequence {i}: cosine {c} with the reference");
    }
}

#[test]
fn odd_inputs_give_finite_unit_vectors() {
    let dir = tiny();
    let mut enc = text_encoder(&dir, LongText::Truncate);
    let megabyte = "lorem ipsum dolor sit amet, invoice 42 ".repeat((1 << 20) / 39 + 1);
    let no_spaces = "x".repeat(1 << 20);
    let texts = [
        "",
        "   \t\n   ",
        "\u{0}\u{1}\u{7}\u{1b}\u{7f}",
        megabyte.as_str(),
        no_spaces.as_str(),
        "請求書の合計金額は一万二千円です",
        "فاتورة رقم ١٢٣ المبلغ الإجمالي",
        "Payment received 👍🏽🎉 thanks",
        "Ünïcödé àccents",
    ];
    let out = enc.encode_texts(&texts).unwrap();
    assert_eq!(out.len(), texts.len());
    for v in &out {
        assert_eq!(v.len(), 32);
        assert_unit(v);
    }
    // Empty and whitespace-only text are both exactly `[CLS][SEP]`.
    assert_eq!(out[0], out[1]);
    assert_eq!(enc.tokenizer().encode("").unwrap().len(), 2);
    assert_eq!(enc.tokenizer().encode(&megabyte).unwrap().len(), 256);
}

#[test]
fn long_text_truncation_keeps_the_first_256_tokens() {
    let dir = tiny();
    let tok = BertTokenizer::from_file(&dir.path().join("tokenizer.json"), 256).unwrap();
    let long = "total due ".repeat(400);
    let ids = tok.encode(&long).unwrap();
    assert_eq!(ids.len(), 256);
    // Prefix-only tokenising gives what tokenising the whole text gives.
    let whole = tokenizers::Tokenizer::from_file(dir.path().join("tokenizer.json")).unwrap();
    let full = whole.encode(long.as_str(), false).unwrap();
    assert_eq!(&ids[1..255], &full.get_ids()[..254]);
    // Whitespace before the words pushes them past the first cut: the
    // prefix must grow until it holds enough tokens.
    let padded = format!("{}{}", " ".repeat(40_000), long);
    assert_eq!(tok.encode(&padded).unwrap(), ids);
}

#[test]
fn chunk_mean_covers_long_documents() {
    let dir = tiny();
    let tok = BertTokenizer::from_file(&dir.path().join("tokenizer.json"), 256).unwrap();
    let words: Vec<String> = (0..600).map(|i| format!("order{i}")).collect();
    let long = words.join(" ");
    let params = ChunkParams { overlap: 32, max_chunks: 16 };
    let chunks = tok.encode_chunks(&long, params).unwrap();
    let pieces = tokenizers::Tokenizer::from_file(dir.path().join("tokenizer.json"))
        .unwrap()
        .encode(long.as_str(), false)
        .unwrap()
        .get_ids()
        .to_vec();
    // Windows: 254 pieces each, stepping 222, covering every piece.
    let expected = 1 + (pieces.len() - 254).div_ceil(222);
    assert_eq!(chunks.len(), expected);
    assert_eq!(chunks[0], tok.encode(&long).unwrap());
    assert_eq!(&chunks[1][1..33], &chunks[0][223..255]);
    assert_eq!(chunks.last().unwrap()[chunks.last().unwrap().len() - 2], *pieces.last().unwrap());
    let capped = tok.encode_chunks(&long, ChunkParams { overlap: 0, max_chunks: 2 }).unwrap();
    assert_eq!(capped.len(), 2);
    assert!(tok.encode_chunks(&long, ChunkParams { overlap: 254, max_chunks: 2 }).is_err());
    assert_eq!(tok.encode_chunks("", params).unwrap().len(), 1);

    let mut truncating = text_encoder(&dir, LongText::Truncate);
    let mut chunking = text_encoder(&dir, LongText::ChunkMean(params));
    let short = ["invoice total due"];
    assert_eq!(truncating.encode_texts(&short).unwrap(), chunking.encode_texts(&short).unwrap());
    let t = truncating.encode_texts(&[long.as_str()]).unwrap();
    let c = chunking.encode_texts(&[long.as_str(), "contract", long.as_str()]).unwrap();
    assert_unit(&c[0]);
    assert_ne!(t[0], c[0]);
    assert_eq!(c[0], c[2]);
    // Combined by hand: mean of the window embeddings, re-normalised.
    let mut enc = cpu(&dir, 2);
    let windows = enc.encode_packed(&PackedBatch::from_sequences(&chunks)).unwrap();
    let want = docflow_model::pooling::combine_chunks(&windows, 32).unwrap();
    assert!(cosine(&want, &c[0]) > 0.99999);
}

#[test]
fn batches_respect_the_token_budget() {
    let dir = tiny();
    let mut enc = text_encoder(&dir, LongText::Truncate); // budget 600 tokens
    let texts: Vec<String> = (0..50).map(|i| "invoice total ".repeat(10 + i % 7)).collect();
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let out = enc.encode_texts(&refs).unwrap();
    let stats = enc.stats();
    assert_eq!(out.len(), 50);
    assert_eq!(stats.sequences, 50);
    assert!(stats.batches > 1 && stats.tokens <= stats.batches * 600, "{stats:?}");
    // Batching does not change results.
    let alone = enc.encode_texts(&refs[7..8]).unwrap();
    assert!(cosine(&alone[0], &out[7]) > 0.99999);
}

#[test]
fn invalid_batches_are_typed_errors() {
    let dir = tiny();
    let mut enc = cpu(&dir, 1);
    let vocab = BertTokenizer::from_file(&dir.path().join("tokenizer.json"), 256).unwrap().vocab_size() as u32;
    let mut bad = |b: PackedBatch| match enc_call(&mut enc, &b) {
        Err(EncoderError::InvalidBatch(_)) => {}
        other => panic!("expected InvalidBatch, got {other:?}"),
    };
    fn enc_call(e: &mut CpuEncoder, b: &PackedBatch) -> Result<Vec<f32>, EncoderError> {
        e.encode_packed(b)
    }
    bad(PackedBatch::from_sequences(&[vec![2u32, vocab, 3]]));
    bad(PackedBatch::from_sequences(&[vec![2u32; 257]]));
    bad(PackedBatch { token_ids: vec![2, 3], cu_seqlens: vec![0, 2, 2] });
    bad(PackedBatch { token_ids: vec![2, 3], cu_seqlens: vec![0, 3] });
    bad(PackedBatch { token_ids: vec![2, 3], cu_seqlens: vec![1, 2] });
    bad(PackedBatch { token_ids: vec![2, 3], cu_seqlens: vec![] });
    assert!(enc.encode_packed(&PackedBatch::default()).unwrap().is_empty());
    assert!(enc.encode_packed(&PackedBatch::from_sequences::<Vec<u32>>(&[])).unwrap().is_empty());
}

#[test]
fn truncated_weights_are_a_model_error() {
    let dir = tiny();
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    for keep in [bytes.len() - 1, bytes.len() / 2, 100, 7, 0] {
        std::fs::write(&path, &bytes[..keep]).unwrap();
        match CpuEncoder::load(dir.path(), CpuOptions::default()) {
            Err(e @ EncoderError::ModelFormat { .. }) => assert!(e.to_string().contains("model.safetensors"), "{e}"),
            Err(e) => panic!("wrong error kind: {e}"),
            Ok(_) => panic!("loaded a file cut to {keep} bytes"),
        }
    }
    std::fs::write(&path, b"not a safetensors file at all").unwrap();
    assert!(matches!(CpuEncoder::load(dir.path(), CpuOptions::default()), Err(EncoderError::ModelFormat { .. })));
    std::fs::remove_file(&path).unwrap();
    match CpuEncoder::load(dir.path(), CpuOptions::default()) {
        // The I/O error itself is kept, not its text.
        Err(EncoderError::ModelFile { source, .. }) => assert_eq!(source.kind(), std::io::ErrorKind::NotFound),
        other => panic!("a missing file: {:?}", other.err()),
    }
}

#[test]
fn wrong_shape_error_names_the_tensor() {
    let dir = tiny();
    // The config says 3 layers and a wider FFN than the weights have.
    let config_path = dir.path().join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    config["intermediate_size"] = 96.into();
    std::fs::write(&config_path, config.to_string()).unwrap();
    let msg = CpuEncoder::load(dir.path(), CpuOptions::default()).err().expect("must fail").to_string();
    assert!(msg.contains("encoder.layer.0.intermediate.dense.weight") && msg.contains("[64, 32]"), "{msg}");

    config["intermediate_size"] = 64.into();
    config["num_hidden_layers"] = 3.into();
    std::fs::write(&config_path, config.to_string()).unwrap();
    let msg = CpuEncoder::load(dir.path(), CpuOptions::default()).err().expect("must fail").to_string();
    assert!(msg.contains("encoder.layer.2.") && msg.contains("missing"), "{msg}");

    config["num_hidden_layers"] = 1.into();
    std::fs::write(&config_path, config.to_string()).unwrap();
    let msg = CpuEncoder::load(dir.path(), CpuOptions::default()).err().expect("must fail").to_string();
    assert!(msg.contains("more layers"), "{msg}");

    std::fs::File::create(&config_path).unwrap().write_all(b"{\"hidden_size\": 32}").unwrap();
    assert!(matches!(CpuEncoder::load(dir.path(), CpuOptions::default()), Err(EncoderError::Model(_))));
}

#[test]
fn half_precision_files_load_like_rounded_f32() {
    let f32_dir = TinyModelDir::new(&TinySpec { seed: 7, ..TinySpec::default() }).unwrap();
    let f16_dir = TinyModelDir::new(&TinySpec { seed: 7, dtype: TinyDtype::F16, ..TinySpec::default() }).unwrap();
    let bf16_dir = TinyModelDir::new(&TinySpec { seed: 7, dtype: TinyDtype::BF16, ..TinySpec::default() }).unwrap();
    let rounded = BertWeights::load(f32_dir.path(), LoadOptions { round_to_f16: true }).unwrap();
    let from_f16 = BertWeights::load(f16_dir.path(), LoadOptions::default()).unwrap();
    assert_eq!(rounded.embeddings.word, from_f16.embeddings.word);
    assert_eq!(rounded.layers[1].output.weight, from_f16.layers[1].output.weight);
    let from_bf16 = BertWeights::load(bf16_dir.path(), LoadOptions::default()).unwrap();
    let exact = BertWeights::load(f32_dir.path(), LoadOptions::default()).unwrap();
    for (a, b) in from_bf16.embeddings.word.data.iter().zip(&exact.embeddings.word.data) {
        assert!((a - b).abs() <= b.abs() / 128.0 + 1e-30);
    }
}

#[test]
fn tiny_model_is_deterministic_and_versioned() {
    let a = tempdir("a");
    let b = tempdir("b");
    write_tiny_model(&a, &TinySpec::default()).unwrap();
    write_tiny_model(&b, &TinySpec::default()).unwrap();
    assert_eq!(std::fs::read(a.join("model.safetensors")).unwrap(), std::fs::read(b.join("model.safetensors")).unwrap());
    let va = docflow_model::model_version(&a).unwrap();
    let vb = docflow_model::model_version(&b).unwrap();
    assert_eq!(va.split_once('@').unwrap().1, vb.split_once('@').unwrap().1);
    let c = tempdir("c");
    write_tiny_model(&c, &TinySpec { seed: 1, ..TinySpec::default() }).unwrap();
    let vc = docflow_model::model_version(&c).unwrap();
    assert_ne!(va.split_once('@').unwrap().1, vc.split_once('@').unwrap().1);
    for d in [a, b, c] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    std::env::temp_dir().join(format!("docflow-model-test-{tag}-{}-{nanos}", std::process::id()))
}

#[test]
fn a_model_with_a_short_position_table_truncates_at_its_length() {
    let dir = TinyModelDir::new(&TinySpec { max_positions: 64, ..TinySpec::default() }).unwrap();
    let mut enc = TextEncoder::load(dir.path(), Box::new(cpu(&dir, 1)), TextEncoderOptions::default()).unwrap();
    assert_eq!(enc.tokenizer().max_tokens(), 64, "cut at the model's 64 positions, not the default 256");
    let long = "invoice total due ".repeat(200);
    let out = enc.encode_texts(&[long.as_str(), "short"]).unwrap();
    assert_eq!(out.len(), 2);
    out.iter().for_each(|v| assert_unit(v));
}

/// bf16 and int8 on a model whose widths (hidden 36, FFN 52) fill no whole
/// panel or tile: unit vectors close to fp32, the same ones on every int8
/// kernel, and the precision shows in the device name.
#[test]
fn reduced_precisions_on_odd_widths() {
    use docflow_model::precision::{Bf16Kernel, Int8Kernel};
    use docflow_model::{CpuKernels, Precision};
    let dir = TinyModelDir::new(&TinySpec { hidden: 36, heads: 3, intermediate: 52, ..TinySpec::default() }).unwrap();
    let tok = BertTokenizer::from_file(&dir.path().join("tokenizer.json"), 256).unwrap();
    let batch = tok.pack(&TEXTS).unwrap();
    let run = |precision, kernels| {
        let options = CpuOptions { threads: 2, precision, kernels, ..CpuOptions::default() };
        let mut enc = CpuEncoder::load(dir.path(), options).unwrap();
        (enc.device_name(), enc.encode_packed(&batch).unwrap())
    };
    let (name, fp32) = run(Precision::Fp32, None);
    assert_eq!(name, "cpu");
    let scalar = CpuKernels { int8: Int8Kernel::Scalar, bf16: Bf16Kernel::Scalar };
    let (name, int8) = run(Precision::Int8, Some(scalar));
    assert_eq!(name, "cpu-int8");
    let (_, int8_detected) = run(Precision::Int8, None);
    assert_eq!(int8, int8_detected, "the detected int8 kernel differs from the scalar one");
    let (name, bf16) = run(Precision::Bf16, None);
    assert_eq!(name, "cpu-bf16");
    for (got, bar) in [(&int8, 0.98f32), (&bf16, 0.999)] {
        for (g, f) in got.chunks_exact(36).zip(fp32.chunks_exact(36)) {
            assert_unit(g);
            let c = cosine(g, f);
            assert!(c >= bar, "cosine {c} < {bar}");
        }
    }
}

#[test]
fn kernels_this_cpu_cannot_run_are_refused() {
    use docflow_model::precision::{Bf16Kernel, Int8Kernel};
    use docflow_model::{CpuKernels, Precision};
    let dir = tiny();
    for kernels in [
        CpuKernels { int8: Int8Kernel::Avx512Vnni, bf16: Bf16Kernel::Scalar },
        CpuKernels { int8: Int8Kernel::Scalar, bf16: Bf16Kernel::Avx512Bf16 },
    ] {
        let options = CpuOptions { precision: Precision::Int8, kernels: Some(kernels), ..CpuOptions::default() };
        match CpuEncoder::load(dir.path(), options) {
            Ok(_) => assert!(kernels.int8.is_supported() && kernels.bf16.is_supported()),
            Err(e) => assert!(matches!(e, EncoderError::DeviceUnavailable(_)) && e.to_string().contains("cannot run"), "{e}"),
        }
    }
}
