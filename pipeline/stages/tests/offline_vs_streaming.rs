//! `docflow process --offline` and the streaming path agree: the same
//! labeled corpus (with planted anomalies) goes once through the offline
//! mode ([`docflow_stages::offline::process_offline`], no Kafka) and once
//! through the Kafka stages parse → infer → score against the local broker,
//! both with the tiny random BERT. The streaming score stage serves the very
//! model version the offline run ended with (`--save-model`, published to
//! `model.updates`), and the offline run publishes no version while it
//! scores the input, so every document is scored by that one version on both
//! paths. Every document must get the same class, class confidence, fields,
//! anomaly score, reasons and model version.
//!
//! Registries are the in-memory ones on both sides and every topic has one
//! partition and the score stage one batch in flight, so the duplicate
//! claims happen in input order on both paths (with several partitions
//! either copy of a duplicate may be the one flagged).
//!
//! Size: `DOCFLOW_OFFLINE_EQ_DOCS` (default 2,000; the acceptance run is 10,000).
//!
//! Formats: all five (text, HTML, JSON, e-mail, PDF).

mod common;

use common::*;
use docflow_corpus::{AnomalyPlan, Corpus, CorpusConfig, DocFormat, LabeledDoc};
use docflow_testkit::kafka;
use docflow_schemas::ScoredDocument;
use docflow_stages::offline::{load_update, InputLine, NoProgress, OfflineOptions, OutputLine};
use docflow_stages::infer::Device;
use docflow_stages::offline::{process_offline, OfflineSettings};
use docflow_stages::score::{RegistryKind, ScoreConfig};
use docflow_stages::{InferStage, ParseStage, ParseStageConfig, ScoreStage};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const TRAIN: usize = 40;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn input_line(d: &LabeledDoc, label: Option<&str>) -> InputLine {
    InputLine::from_raw(&d.raw, label)
}

/// Equal up to the JSON round trip of the offline output file: serde_json
/// reads decimal text back to within one ulp (without its `float_roundtrip`
/// feature), so 0.9996702766971404 may come back as …403. Anything the
/// scoring itself did differently would be far larger.
fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

fn write_lines(path: &Path, lines: &[InputLine]) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for l in lines {
        serde_json::to_writer(&mut f, l).unwrap();
        f.write_all(b"\n").unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_and_streaming_give_the_same_classes_and_scores() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let n = env_usize("DOCFLOW_OFFLINE_EQ_DOCS", 2_000);
    let tiny = tiny_model();
    let tmp = std::env::temp_dir().join(kafka::unique("docflow-offline-eq"));
    std::fs::create_dir_all(&tmp).unwrap();
    let plan = AnomalyPlan { outlier_amount: 0.012, reused_invoice_number: 0.012, mismatched_total: 0.012, duplicated_content: 0.006 };
    let formats: Vec<DocFormat> = DocFormat::ALL.into_iter().collect();
    let corpus: Vec<LabeledDoc> =
        Corpus::new(CorpusConfig { seed: 17, anomalies: plan, formats, ..Default::default() }).take(TRAIN + n).collect();
    let train: Vec<InputLine> = corpus[..TRAIN].iter().map(|d| input_line(d, Some(&d.class))).collect();
    let input: Vec<InputLine> = corpus[TRAIN..].iter().map(|d| input_line(d, None)).collect();
    write_lines(&tmp.join("train.jsonl"), &train);
    write_lines(&tmp.join("in.jsonl"), &input);

    // --- offline ---
    let settings = OfflineSettings {
        files: OfflineOptions {
            input: tmp.join("in.jsonl"),
            train: Some(tmp.join("train.jsonl")),
            output: tmp.join("out.jsonl"),
            batch_size: 64,
            publish_every_labels: 10,
            // One version for the whole input: the comparison needs the same version on both paths.
            publish_every_results: u64::MAX,
            save_model: Some(tmp.join("model.msgpack")),
            update_ranker: false,
        },
        model: Some(tiny.path().to_path_buf()),
        device: Device::Cpu,
        threads: 2,
        precision: docflow_model::Precision::Fp32,
        parse_deadline_ms: Some(120_000),
    };
    let t0 = Instant::now();
    let summary = tokio::task::spawn_blocking(move || process_offline(&settings, &mut NoProgress)).await.unwrap().unwrap();
    let offline_took = t0.elapsed();
    assert_eq!((summary.documents, summary.dead_letters), (n as u64, 0), "{summary:?}");
    let offline: Vec<OutputLine> =
        std::fs::read_to_string(tmp.join("out.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let model = load_update(&tmp.join("model.msgpack")).unwrap();
    assert!(model.version >= 2, "trained and history-folded version, got {}", model.version);
    assert!(offline.iter().all(|o| o.model_version == model.version));

    // --- streaming: parse → infer → score on Kafka, serving the saved version ---
    let p = kafka::unique("offeq");
    let t = |s: &str| format!("{p}.{s}");
    let (raw_t, parsed_t, embedded_t, scored_t, updates_t, dlq) =
        (t("docs.raw.normal"), t("docs.parsed"), t("docs.embedded"), t("docs.scored"), t("model.updates"), t("docs.dlq"));
    let brokers = kafka::brokers();
    kafka::create_topics(&brokers, &[(&raw_t, 1), (&parsed_t, 1), (&embedded_t, 1), (&scored_t, 1), (&updates_t, 1), (&dlq, 1)])
        .await
        .unwrap();
    let kafka = BTreeMap::new();
    docflow_stages::model_admin::publish_update(&brokers, &updates_t, &kafka, &model).await.unwrap();

    let shutdown = docflow_runtime::ShutdownSignal::new();
    let _stop = StopOnDrop(shutdown.clone());
    let parse_cfg = ParseStageConfig { limits: docflow_parse::ParseLimits { deadline_ms: 120_000, ..Default::default() }, ..Default::default() };
    let infer = InferStage::start(tiny_infer(&tiny)).await.unwrap();
    let score_cfg = ScoreConfig { updates_topic: updates_t.clone(), invoice_registry: RegistryKind::Memory, ..Default::default() };
    let score = ScoreStage::start(score_cfg, &brokers, &kafka, None).await.unwrap();
    assert_eq!(score.model_version(), model.version, "the score stage serves the saved version from its first record");
    let mut score_stage_cfg = stage_config(&[&embedded_t], Some(&scored_t), &dlq);
    score_stage_cfg.concurrency = 1;
    let tasks = vec![
        docflow_runtime::stage_task(ParseStage::new(parse_cfg), stage_config(&[&raw_t], Some(&parsed_t), &dlq), shutdown.clone()),
        docflow_runtime::stage_task(infer, stage_config(&[&parsed_t], Some(&embedded_t), &dlq), shutdown.clone()),
        docflow_runtime::stage_task(score, score_stage_cfg, shutdown.clone()),
    ];
    let running = tokio::spawn(docflow_runtime::run_stages(tasks, shutdown.clone()));

    let t1 = Instant::now();
    let producer = kafka::producer(&brokers).unwrap();
    for line in &input {
        let raw = line.to_raw().unwrap();
        send(&producer, &raw_t, &raw.id, &raw);
    }
    kafka::flush(&producer).unwrap();
    let timeout = Duration::from_secs(120 + n as u64 / 20);
    let records = tokio::task::spawn_blocking({
        let scored_t = scored_t.clone();
        move || read_n(&scored_t, n, timeout)
    })
    .await
    .unwrap();
    let streaming_took = t1.elapsed();
    let dead = kafka::read_topic(&brokers, &dlq, Duration::from_secs(1), |_| false).unwrap();
    shutdown.trigger();
    running.await.unwrap().unwrap();
    assert!(dead.is_empty(), "{} dead letters on the streaming path", dead.len());

    let streamed: HashMap<String, ScoredDocument> =
        records.iter().map(decoded::<ScoredDocument>).map(|s| (s.embedded.parsed.id.clone(), s)).collect();
    assert_eq!(records.len(), n, "each document exactly once on docs.scored");
    assert_eq!(streamed.len(), n);

    let mut differences = Vec::new();
    let (mut anomalies, mut classes) = (0usize, BTreeMap::<String, usize>::new());
    for o in &offline {
        let s = streamed.get(&o.id).unwrap_or_else(|| panic!("{} missing from the streaming output", o.id));
        *classes.entry(o.class.clone()).or_default() += 1;
        anomalies += usize::from(o.anomaly_score > 0.7);
        let what = [
            ("class", s.class == o.class),
            ("class_confidence", close(s.class_confidence, o.class_confidence)),
            ("anomaly_score", close(s.anomaly_score, o.anomaly_score)),
            (
                "anomaly_reasons",
                s.anomaly_reasons.len() == o.anomaly_reasons.len()
                    && s.anomaly_reasons.iter().zip(&o.anomaly_reasons).all(|(a, b)| {
                        a.reason == b.reason && close(a.value, b.value) && close(a.contribution, b.contribution)
                    }),
            ),
            ("model_version", s.model_version == o.model_version),
            ("fields", serde_json::to_value(&s.embedded.parsed.fields).unwrap() == serde_json::to_value(&o.fields).unwrap()),
        ];
        let differ: Vec<&str> = what.iter().filter(|(_, same)| !same).map(|(w, _)| *w).collect();
        if !differ.is_empty() {
            differences.push((o.id.clone(), differ, (o.class.clone(), o.class_confidence, o.anomaly_score), (s.class.clone(), s.class_confidence, s.anomaly_score)));
        }
    }
    println!(
        "{n} documents, model version {}: offline {:.1}s, streaming {:.1}s; classes {classes:?}; {anomalies} above 0.7; {} differences",
        model.version,
        offline_took.as_secs_f64(),
        streaming_took.as_secs_f64(),
        differences.len()
    );
    for d in differences.iter().take(5) {
        println!("  differs: {d:?}");
    }
    assert!(differences.is_empty(), "{} of {n} documents differ between offline and streaming", differences.len());
    assert!(anomalies > 0, "the planted anomalies are scored on both paths");
    std::fs::remove_dir_all(&tmp).ok();
}
