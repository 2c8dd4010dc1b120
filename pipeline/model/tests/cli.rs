//! `docflow embed` and `docflow bench encode` bodies on the tiny model.

use std::path::PathBuf;

use docflow_model::cli::{
    bench_encode, cpu_factory, embed_stream, BenchEncodeArgs, DeviceChoice, EmbedArgs, LongTextChoice, ModelArgs,
};
use docflow_model::tiny::{TinyModelDir, TinySpec};

fn model_args(dir: &TinyModelDir) -> ModelArgs {
    ModelArgs {
        device: DeviceChoice::Cpu,
        model: Some(dir.path().to_path_buf()),
        threads: 2,
        precision: docflow_model::Precision::Fp32,
        batch_tokens: 64,
        long_text: LongTextChoice::Truncate,
        chunk_overlap: 32,
        max_chunks: 16,
    }
}

fn run_embed(args: &EmbedArgs, input: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    embed_stream(args, &cpu_factory, input.as_bytes(), &mut out)?;
    Ok(String::from_utf8(out)?.lines().map(|l| serde_json::from_str(l).unwrap()).collect())
}

#[test]
fn embed_keeps_order_and_ids() {
    let dir = TinyModelDir::new(&TinySpec::default()).unwrap();
    let args = EmbedArgs { model: model_args(&dir), input: None };
    let input = concat!(
        "{\"id\": \"a\", \"text\": \"invoice total due\"}\n",
        "\n",
        "{\"text\": \"contract\"}\n",
        "\"a bare string\"\n",
        "{\"id\": 7, \"text\": \"\"}\n",
        "{\"id\": \"a-again\", \"text\": \"invoice total due\"}\n",
    );
    let lines = run_embed(&args, input).unwrap();
    let ids: Vec<String> = lines.iter().map(|l| l["id"].to_string()).collect();
    assert_eq!(ids, ["\"a\"", "1", "2", "7", "\"a-again\""]);
    for l in &lines {
        let e = l["embedding"].as_array().unwrap();
        assert_eq!(e.len(), 32);
        let norm: f64 = e.iter().map(|v| v.as_f64().unwrap().powi(2)).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
    assert_eq!(lines[0]["embedding"], lines[4]["embedding"]);
    assert_ne!(lines[0]["embedding"], lines[1]["embedding"]);
}

#[test]
fn embed_reports_bad_input_by_line() {
    let dir = TinyModelDir::new(&TinySpec::default()).unwrap();
    let args = EmbedArgs { model: model_args(&dir), input: None };
    let err = run_embed(&args, "{\"text\": \"ok\"}\n{\"id\": 1}\n").unwrap_err();
    assert!(format!("{err:#}").contains("line 2") && format!("{err:#}").contains("text"), "{err:#}");
    let err = run_embed(&args, "not json\n").unwrap_err();
    assert!(format!("{err:#}").contains("line 1"), "{err:#}");
}

#[test]
fn missing_model_and_missing_device_are_explained() {
    let mut args = EmbedArgs {
        model: ModelArgs {
            model: Some(PathBuf::from("/nonexistent/docflow-model")),
            ..model_args(&TinyModelDir::new(&TinySpec::default()).unwrap())
        },
        input: None,
    };
    let err = run_embed(&args, "\"x\"\n").unwrap_err();
    assert!(format!("{err:#}").contains("docflow model fetch"), "{err:#}");
    let dir = TinyModelDir::new(&TinySpec::default()).unwrap();
    args.model = ModelArgs { device: DeviceChoice::Cuda, ..model_args(&dir) };
    let err = run_embed(&args, "\"x\"\n").unwrap_err();
    assert!(format!("{err:#}").contains("device unavailable"), "{err:#}");
}

#[test]
fn bench_reports_throughput() {
    let dir = TinyModelDir::new(&TinySpec::default()).unwrap();
    let docs = dir.path().join("docs.jsonl");
    let lines: Vec<String> = (0..40)
        .map(|i| serde_json::json!({"id": i, "text": "invoice total due ".repeat(1 + i % 9)}).to_string())
        .collect();
    std::fs::write(&docs, lines.join("\n")).unwrap();
    let args = BenchEncodeArgs { model: model_args(&dir), docs, warmup: 4, repeat: 1 };
    let report = bench_encode(&args, &cpu_factory).unwrap();
    assert_eq!(report.docs, 40);
    assert!(report.tokens > 40 * 2);
    assert!(report.docs_per_s > 0.0 && report.tokens_per_s > report.docs_per_s);
    // batch_tokens 64: several documents per batch, never all 40.
    assert!(report.mean_batch_size > 1.0 && report.mean_batch_size < 40.0, "{report:?}");
    assert!(report.peak_rss_mb > 1.0);
}
