//! `docflow embed` and `docflow bench encode` bodies on the tiny model.

use std::path::PathBuf;

use docflow_model::tiny::{TinyModelDir, TinySpec};
use docflow_model::tools::{bench_encode, cpu_factory, embed_stream, BenchEncode, EncoderSettings, ToolError};
use docflow_model::{DeviceChoice, EncoderSpec, LongText};

fn settings(dir: &TinyModelDir) -> EncoderSettings {
    EncoderSettings {
        spec: EncoderSpec { device: DeviceChoice::Cpu, threads: 2, ..EncoderSpec::default() },
        model: Some(dir.path().to_path_buf()),
        batch_tokens: 64,
        long_text: LongText::Truncate,
    }
}

/// The error and its sources, as the command line prints them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        text.push_str(": ");
        text.push_str(&s.to_string());
        next = s.source();
    }
    text
}

fn run_embed(settings: &EncoderSettings, input: &str) -> Result<Vec<serde_json::Value>, String> {
    let mut out = Vec::new();
    embed_stream(settings, &cpu_factory, input.as_bytes(), &mut out).map_err(|e: ToolError| chain(&e))?;
    Ok(String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect())
}

#[test]
fn embed_keeps_order_and_ids() {
    let dir = TinyModelDir::new(&TinySpec::default()).unwrap();
    let args = settings(&dir);
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
    let args = settings(&dir);
    let err = run_embed(&args, "{\"text\": \"ok\"}\n{\"id\": 1}\n").unwrap_err();
    assert!(err.contains("line 2") && err.contains("text"), "{err}");
    let err = run_embed(&args, "not json\n").unwrap_err();
    assert!(err.contains("line 1") && err.contains("not JSON"), "{err}");
}

#[test]
fn missing_model_and_missing_device_are_explained() {
    let mut args =
        EncoderSettings { model: Some(PathBuf::from("/nonexistent/docflow-model")), ..settings(&TinyModelDir::new(&TinySpec::default()).unwrap()) };
    let err = run_embed(&args, "\"x\"\n").unwrap_err();
    assert!(err.contains("docflow model fetch"), "{err}");
    let dir = TinyModelDir::new(&TinySpec::default()).unwrap();
    args = settings(&dir);
    args.spec.device = DeviceChoice::Cuda;
    let err = run_embed(&args, "\"x\"\n").unwrap_err();
    assert!(err.contains("cannot start the Cuda encoder: device unavailable"), "{err}");
}

#[test]
fn bench_reports_throughput() {
    let dir = TinyModelDir::new(&TinySpec::default()).unwrap();
    let docs = dir.path().join("docs.jsonl");
    let lines: Vec<String> = (0..40)
        .map(|i| serde_json::json!({"id": i, "text": "invoice total due ".repeat(1 + i % 9)}).to_string())
        .collect();
    std::fs::write(&docs, lines.join("\n")).unwrap();
    let args = BenchEncode { encoder: settings(&dir), docs, warmup: 4, repeat: 1 };
    let report = bench_encode(&args, &cpu_factory).unwrap();
    assert_eq!(report.docs, 40);
    assert!(report.tokens > 40 * 2);
    assert!(report.docs_per_s > 0.0 && report.tokens_per_s > report.docs_per_s);
    // batch_tokens 64: several documents per batch, never all 40.
    assert!(report.mean_batch_size > 1.0 && report.mean_batch_size < 40.0, "{report:?}");
    assert!(report.peak_rss_mb > 1.0);
}
