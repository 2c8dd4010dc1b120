//! `docflow process --offline` as a user runs it: the real binary over JSONL
//! files with the tiny model, no Kafka and no database. Training lines
//! publish model versions, every valid input line gets one result line in
//! input order, and an unreadable line goes to `<output>.dlq` with its reason.

use std::path::Path;
use std::process::Command;

fn write_lines(path: &Path, lines: &[serde_json::Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}

#[test]
fn offline_process_writes_one_result_per_document_and_dead_letters_bad_lines() {
    let model = docflow_model::tiny::TinyModelDir::new(&docflow_model::tiny::TinySpec::default()).expect("tiny model");
    let dir = std::env::temp_dir().join(format!("docflow-process-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (train, input, output) = (dir.join("train.jsonl"), dir.join("in.jsonl"), dir.join("out.jsonl"));

    let invoice = |i: usize| format!("INVOICE\nNo. INV-{i:04}\nACME GmbH\nDate: 2026-03-{:02}\nTotal: {}.00 EUR", 1 + i % 28, 100 + i);
    let mail = |i: usize| format!("From: bob{i}@example.com\nTo: alice@example.com\nSubject: lunch {i}\n\nsee you at noon");
    let mut training = Vec::new();
    for i in 0..6 {
        training.push(serde_json::json!({"id": format!("t-inv-{i}"), "text": invoice(i), "label": "invoice"}));
        training.push(serde_json::json!({"id": format!("t-mail-{i}"), "content_type": "message/rfc822", "text": mail(i), "label": "email"}));
    }
    write_lines(&train, &training);
    let inputs: Vec<serde_json::Value> = (0..20).map(|i| serde_json::json!({"id": format!("d-{i:02}"), "text": if i % 2 == 0 { invoice(100 + i) } else { mail(100 + i) }})).collect();
    let mut text: String = inputs.iter().map(|l| format!("{l}\n")).collect();
    text.push_str("{this is not json\n");
    std::fs::write(&input, text).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_docflow"))
        .args(["process", "--offline", "--no-progress", "--device", "cpu"])
        .arg("--model")
        .arg(model.path())
        .arg("--train")
        .arg(&train)
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "docflow process failed:\n{stderr}");

    let results: Vec<serde_json::Value> = std::fs::read_to_string(&output).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ids: Vec<&str> = results.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let expected: Vec<String> = (0..20).map(|i| format!("d-{i:02}")).collect();
    assert_eq!(ids, expected, "one result per valid input line, in input order");
    for r in &results {
        let score = r["anomaly_score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "score in [0, 1]: {r}");
        assert!(r["model_version"].as_u64().unwrap() >= 1, "scored by a trained model version: {r}");
        assert!(r["class"].is_string() && r["anomaly_reasons"].is_array(), "{r}");
    }
    let first = &results[0]["fields"];
    assert_eq!(first["currency"], "EUR", "fields come from the real parse stage: {first}");
    assert_eq!(first["total"], "200.00");

    let dlq = std::fs::read_to_string(dir.join("out.jsonl.dlq")).expect("dead-letter file");
    assert_eq!(dlq.lines().count(), 1, "the broken line is dead-lettered: {dlq}");
    println!("process --offline: {} results, dead letter: {}", results.len(), dlq.trim());
    let _ = std::fs::remove_dir_all(&dir);
}
