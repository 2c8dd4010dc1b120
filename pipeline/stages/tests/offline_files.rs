//! `docflow process --offline` end to end on files: the project's corpus,
//! the real parser, a tiny random BERT (the real encoder code, small weights)
//! for speed. Checks the output format, reproducibility, training labels,
//! duplicate detection and the dead-letter file.

use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use docflow_core::StageError;
use docflow_corpus::{AnomalyPlan, Corpus, CorpusConfig};
use docflow_model::tiny::{TinyModelDir, TinySpec};
use docflow_model::{CpuEncoder, CpuOptions, TextEncoder, TextEncoderOptions};
use docflow_schemas::{embedding_to_bytes, EmbeddedDocument, ParsedDocument, RawDocument};
use docflow_stages::offline::{run, InputLine, NoProgress, OfflineOptions, OfflineStages, OfflineSummary, OutputLine};

struct Stages {
    encoder: TextEncoder,
    layouts: docflow_score::model::LayoutDeployment,
}

impl OfflineStages for Stages {
    fn parse(&mut self, raw: RawDocument) -> Result<ParsedDocument, StageError> {
        let out = docflow_parse::parse_document_learned(&raw, &docflow_parse::ParseLimits::default(), self.layouts.select(&raw.id))
            .map_err(|e| StageError::user_input("parse", e.to_string()))?;
        Ok(ParsedDocument {
            id: raw.id,
            content_type: out.content_type,
            text: out.text,
            fields: out.fields,
            warnings: out.warnings,
            created_at_ms: raw.created_at_ms,
            priority: docflow_schemas::Priority::Normal,
            locale: raw.metadata.get("locale").cloned(),
        })
    }

    fn embed(&mut self, docs: Vec<ParsedDocument>) -> Vec<Result<EmbeddedDocument, StageError>> {
        let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
        match self.encoder.encode_texts(&texts) {
            Ok(vectors) => docs
                .into_iter()
                .zip(vectors)
                .map(|(parsed, v)| {
                    Ok(EmbeddedDocument { parsed, embedding_f32le: embedding_to_bytes(&v), encoder_version: "tiny".into() })
                })
                .collect(),
            Err(e) => docs.iter().map(|_| Err(StageError::internal("encode", e.to_string()))).collect(),
        }
    }

    fn use_layouts(&mut self, layouts: docflow_score::model::LayoutDeployment) {
        self.layouts = layouts;
    }
}

fn stages(dir: &Path) -> Stages {
    let enc = CpuEncoder::load(dir, CpuOptions { threads: 1, ..Default::default() }).unwrap();
    Stages { encoder: TextEncoder::load(dir, Box::new(enc), TextEncoderOptions::default()).unwrap(), layouts: Default::default() }
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut f = std::fs::File::create(path).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

#[test]
fn offline_mode_scores_files_reproducibly() {
    let tiny = TinyModelDir::new(&TinySpec::default()).unwrap();
    let tmp = std::env::temp_dir().join(format!("docflow-offline-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let plan = AnomalyPlan { duplicated_content: 0.05, ..AnomalyPlan::none() };
    let corpus: Vec<_> = Corpus::new(CorpusConfig { seed: 3, anomalies: plan, ..Default::default() }).take(240).collect();
    let line = |d: &docflow_corpus::LabeledDoc, label: Option<&str>| {
        let (text, body_base64) = match std::str::from_utf8(&d.raw.body) {
            Ok(t) => (Some(t.to_string()), None),
            Err(_) => (None, Some(base64::engine::general_purpose::STANDARD.encode(&d.raw.body))),
        };
        serde_json::to_string(&InputLine {
            id: d.raw.id.clone(),
            content_type: d.raw.content_type.clone(),
            text,
            body_base64,
            label: label.map(Into::into),
            fields: Default::default(),
        })
        .unwrap()
    };
    let train: Vec<String> = corpus[..40].iter().map(|d| line(d, Some(&d.class))).collect();
    let mut input: Vec<String> = corpus[40..].iter().map(|d| line(d, None)).collect();
    input.insert(5, "{not json".to_string());
    input.insert(9, r#"{"id":"x","text":"a","body_base64":"YQ=="}"#.to_string());
    write_lines(&tmp.join("train.jsonl"), &train);
    write_lines(&tmp.join("in.jsonl"), &input);
    let args = |out: &str| OfflineOptions {
        input: tmp.join("in.jsonl"),
        train: Some(tmp.join("train.jsonl")),
        output: tmp.join(out),
        batch_size: 16,
        publish_every_labels: 10,
        publish_every_results: 50,
        save_model: Some(tmp.join(format!("{out}.model"))),
        update_ranker: false,
    };
    let s1 = run(&args("a.jsonl"), &mut stages(tiny.path()), &mut NoProgress).unwrap();
    let s2 = run(&args("b.jsonl"), &mut stages(tiny.path()), &mut NoProgress).unwrap();
    assert_eq!((s1.dead_letter_file.clone(), s2.dead_letter_file.clone()), (tmp.join("a.jsonl.dlq"), tmp.join("b.jsonl.dlq")));
    assert_eq!(s1, OfflineSummary { dead_letter_file: s1.dead_letter_file.clone(), ..s2 }, "a rerun does the same");
    assert_eq!((s1.documents, s1.dead_letters, s1.trained_labels), (200, 2, 40));
    let a = std::fs::read_to_string(tmp.join("a.jsonl")).unwrap();
    assert_eq!(a, std::fs::read_to_string(tmp.join("b.jsonl")).unwrap(), "offline output is reproducible");
    let out: Vec<OutputLine> = a.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(out.len(), 200);
    // Input order is kept, every line names the model version that scored it.
    let ids: Vec<&str> = corpus[40..].iter().map(|d| d.raw.id.as_str()).collect();
    assert_eq!(out.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ids);
    assert!(out.iter().all(|o| o.model_version >= 2 && (0.0..=1.0).contains(&o.anomaly_score)));
    let raw: serde_json::Value = serde_json::from_str(a.lines().next().unwrap()).unwrap();
    for key in ["id", "class", "class_confidence", "fields", "anomaly_score", "anomaly_reasons", "model_version"] {
        assert!(raw.get(key).is_some(), "output lacks {key}");
    }
    // Planted duplicates (beyond the training range) are flagged as such.
    let planted: Vec<&str> = corpus[40..]
        .iter()
        .filter(|d| d.planted.iter().any(|r| r == "duplicate_content"))
        .map(|d| d.raw.id.as_str())
        .collect();
    assert!(!planted.is_empty());
    for o in out.iter().filter(|o| planted.contains(&o.id.as_str())) {
        assert!(o.anomaly_reasons.iter().any(|r| r.reason == "duplicate_content"), "{o:?}");
    }
    // The saved model is the version in service at the end (published after
    // the last document at the latest).
    let saved = docflow_stages::offline::load_update(&tmp.join("a.jsonl.model")).unwrap();
    assert_eq!(saved.version, s1.model_version);
    assert!(saved.version >= out.last().unwrap().model_version);
    let dlq = std::fs::read_to_string(tmp.join("a.jsonl.dlq")).unwrap();
    assert_eq!(dlq.lines().count(), 2);
    assert!(dlq.contains("\"error_kind\":\"json\"") && dlq.contains("\"error_kind\":\"body\""), "{dlq}");
    std::fs::remove_dir_all(&tmp).ok();
}

/// A sender whose invoices print an order value and a voucher before the
/// amount due, under a label the extractor does not know.
fn voucher_invoice(i: u32) -> (String, String) {
    let order = 1000 + 37 * i;
    let voucher = 100 + 3 * (i % 7);
    let due = order - voucher;
    (format!("Nordlicht Versand GmbH\nLagerweg 3, Kiel\nBeleg {i}\nOrder value {order}.00\nVoucher {voucher}.00\nRemaining {due}.00\n"), format!("{due}.00"))
}

/// Field corrections in the input are learned after their document, in
/// order: the documents after the corrected one are read right, the ones
/// before it are not, and a correction the document contradicts is
/// reported, not learned.
#[test]
fn offline_mode_learns_field_corrections_in_order() {
    let tiny = TinyModelDir::new(&TinySpec::default()).unwrap();
    let tmp = std::env::temp_dir().join(format!("docflow-offline-fields-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut input = Vec::new();
    let mut dues = Vec::new();
    for i in 0..30u32 {
        let (text, due) = voucher_invoice(i);
        let mut fields = std::collections::BTreeMap::new();
        if i == 10 {
            fields.insert("total".to_string(), due.clone());
        }
        if i == 11 {
            fields.insert("total".to_string(), "1.23".to_string()); // appears nowhere in it
        }
        let line = InputLine { id: format!("v{i}"), content_type: Some("text/plain".into()), text: Some(text), body_base64: None, label: None, fields };
        input.push(serde_json::to_string(&line).unwrap());
        dues.push(due);
    }
    write_lines(&tmp.join("in.jsonl"), &input);
    let args = OfflineOptions {
        input: tmp.join("in.jsonl"),
        train: None,
        output: tmp.join("out.jsonl"),
        batch_size: 16,
        publish_every_labels: 10,
        publish_every_results: 50,
        save_model: None,
        update_ranker: false,
    };
    let summary = run(&args, &mut stages(tiny.path()), &mut NoProgress).unwrap();
    assert_eq!(summary.fields_learned, 1);
    assert_eq!(summary.fields_rejected.len(), 1, "{:?}", summary.fields_rejected);
    let out: Vec<OutputLine> =
        std::fs::read_to_string(tmp.join("out.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(out.len(), 30);
    let right = |range: std::ops::Range<usize>| range.filter(|&i| out[i].fields.total.map(|t| t.to_string()).as_deref() == Some(dues[i].as_str())).count();
    assert_eq!(right(11..30), 19, "after the correction");
    assert!(right(0..10) < 10, "before it the layout is misread (else this test shows nothing)");
    std::fs::remove_dir_all(&tmp).ok();
}
