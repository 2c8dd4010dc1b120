//! One field correction on `docs.feedback` teaches the running pipeline a
//! sender's layout, and a rollback takes it back; offline mode, fed the same
//! documents and correction, reads the same fields.
//!
//! The whole pipeline runs in one process (`run_all`, what `docflow run`
//! runs; tiny model, memory store) against the local Kafka. The sender
//! prints an order value, a voucher and the amount due under a label the
//! extractor does not know, so without a correction the total is misread.
//! 1. Its first document comes out with the wrong total.
//! 2. `Feedback { fields: { total } }` for it is published; the learn stage
//!    publishes a model version carrying the layout; the parse stage
//!    follows it. The next documents of that sender come out with the
//!    amount due, `field_source` `learned`; another sender's does not change.
//! 3. `docflow model rollback` restores the version before the correction:
//!    the sender's documents are misread again.
//! 4. `docflow process --offline` on the first document (carrying the
//!    correction) and the next one gives the streaming fields.

mod common;

use common::*;
use docflow_testkit::kafka;
use docflow_schemas::{BusinessFields, Feedback, RawDocument, ResultRecord};
use docflow_stages::config::StoreBackend;
use docflow_stages::model_admin::{self, UpdatesTopic};
use docflow_stages::score::RegistryKind;
use docflow_stages::PipelineConfig;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::{Duration, Instant};

/// A document of the voucher sender: (text, amount due).
fn voucher_invoice(i: u32) -> (String, String) {
    let order = 1000 + 37 * i;
    let voucher = 100 + 3 * (i % 7);
    let due = order - voucher;
    (format!("Nordlicht Versand GmbH\nLagerweg 3, Kiel\nBeleg {i}\nOrder value {order}.00\nVoucher {voucher}.00\nRemaining {due}.00\nThank you"), format!("{due}.00"))
}

/// Another sender, never corrected.
fn other_invoice(i: u32) -> String {
    format!("Blue Harbour Supplies Ltd\n12 Quay Street, Cork\nInvoice No. BH-{i}\nDate: 2026-03-{:02}\nTotal: EUR {}.50\n", 1 + i % 27, 200 + i)
}

fn raw(id: &str, text: &str) -> RawDocument {
    RawDocument { id: id.into(), content_type: Some("text/plain".into()), body: text.as_bytes().to_vec(), metadata: Default::default(), created_at_ms: docflow_runtime::dlq::now_ms() }
}

fn total(f: &BusinessFields) -> Option<String> {
    f.total.map(|t| t.to_string())
}

/// The result of `id`, waiting for it at most `within`.
fn result_of(cfg: &PipelineConfig, id: &str, within: Duration) -> ResultRecord {
    let records = kafka::read_topic(&kafka::brokers(), &cfg.name("docs.results"), within, |r| r.iter().any(|c| c.key.as_deref() == Some(id.as_bytes()))).unwrap();
    let found = records.iter().find(|c| c.key.as_deref() == Some(id.as_bytes())).unwrap_or_else(|| panic!("no result for {id} within {within:?}"));
    decoded(found)
}

/// Sends voucher documents `tag-k` (one every half second, at most
/// `within`) until one's total satisfies `want`; returns it.
fn until_total(p: &Producer, cfg: &PipelineConfig, tag: &str, first: u32, want: impl Fn(&ResultRecord, &str) -> bool, within: Duration) -> Option<ResultRecord> {
    let start = Instant::now();
    let mut i = first;
    while start.elapsed() < within {
        let id = format!("{tag}-{i}");
        let (text, due) = voucher_invoice(i);
        send(p, &cfg.name("docs.raw.normal"), &id, &raw(&id, &text));
        kafka::flush(p).unwrap();
        let r = result_of(cfg, &id, Duration::from_secs(30));
        if want(&r, &due) {
            return Some(r);
        }
        i += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_correction_on_docs_feedback_teaches_the_running_pipeline_and_rollback_takes_it_back() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    if std::env::var_os("RUST_LOG").is_some() {
        docflow_runtime::init_tracing(); // stage logs, for a failing run
    }
    let dir = tiny_model();
    let p = kafka::unique("learned");
    let mut stage = BTreeMap::new();
    for name in docflow_stages::topology::STAGES {
        stage.insert(name.to_string(), toml::toml! { drain_timeout_ms = 3000 });
    }
    let mut cfg = PipelineConfig {
        brokers: Some(kafka::brokers()),
        topic_prefix: Some(p.clone()),
        store_backend: StoreBackend::Memory,
        stage,
        infer: tiny_infer(&dir),
        ..Default::default()
    };
    cfg.score.invoice_registry = RegistryKind::Memory;
    let topics = cfg.topics().unwrap();
    let specs: Vec<(&str, i32)> = topics.iter().map(|t| (t.as_str(), 1)).collect();
    kafka::create_topics(&kafka::brokers(), &specs).await.unwrap();

    let shutdown = docflow_runtime::ShutdownSignal::new();
    let _stop = StopOnDrop(shutdown.clone());
    let running = tokio::spawn(docflow_stages::run_all(cfg.clone(), shutdown.clone()));
    let producer = kafka::producer(&kafka::brokers()).unwrap();

    // 1. Uncorrected, the sender's total is misread.
    let (first_text, first_due) = voucher_invoice(0);
    send(&producer, &cfg.name("docs.raw.normal"), "first", &raw("first", &first_text));
    let other_before = other_invoice(1);
    send(&producer, &cfg.name("docs.raw.normal"), "other-before", &raw("other-before", &other_before));
    kafka::flush(&producer).unwrap();
    let first = result_of(&cfg, "first", Duration::from_secs(120));
    assert!(!running.is_finished(), "the pipeline stopped");
    assert_ne!(total(&first.fields).as_deref(), Some(first_due.as_str()), "the layout must be one the extractor misreads for this test to mean anything");
    let other_before = result_of(&cfg, "other-before", Duration::from_secs(30));

    // 2. One correction, published as `docflow feedback first --field total=…` does.
    let fb = Feedback {
        id: "first".into(),
        label: None,
        is_anomaly: None,
        embedding_f32le: None,
        note: None,
        created_at_ms: docflow_runtime::dlq::now_ms(),
        fields: [("total".to_string(), first_due.clone())].into(),
    };
    send(&producer, &cfg.name("docs.feedback"), "first", &fb);
    kafka::flush(&producer).unwrap();
    let corrected = until_total(&producer, &cfg, "after", 1, |r, due| total(&r.fields).as_deref() == Some(due), Duration::from_secs(60))
        .expect("no document of the corrected sender came out corrected within 60 s");
    assert_eq!(corrected.fields.field_source.get("total").map(String::as_str), Some("learned"));
    println!("corrected: {} total {:?} (model version {})", corrected.id, total(&corrected.fields), corrected.model_version);
    // The same document as the first one read after the correction (streaming), for the offline comparison.
    let (next_text, _) = voucher_invoice(99);
    send(&producer, &cfg.name("docs.raw.normal"), "next", &raw("next", &next_text));
    send(&producer, &cfg.name("docs.raw.normal"), "other-after", &raw("other-after", &other_invoice(1)));
    kafka::flush(&producer).unwrap();
    let next = result_of(&cfg, "next", Duration::from_secs(30));
    let other_after = result_of(&cfg, "other-after", Duration::from_secs(30));
    assert_eq!(other_after.fields, other_before.fields, "another sender's document changed");

    // 3. Rollback restores the version before the correction.
    let brokers = kafka::brokers();
    let topic = UpdatesTopic { name: cfg.name("model.updates"), timeout: Duration::from_secs(20) };
    let back = model_admin::rollback(&topic, &brokers, &BTreeMap::new()).await.unwrap();
    println!("rolled back: version {} restores the state before the correction", back.version);
    let misread = until_total(&producer, &cfg, "rolled-back", 200, |r, due| total(&r.fields).as_deref() != Some(due), Duration::from_secs(60))
        .expect("after the rollback the sender's documents still came out corrected");
    assert_ne!(misread.fields.field_source.get("total").map(String::as_str), Some("learned"));

    shutdown.trigger();
    running.await.unwrap().unwrap();

    // 4. Offline, the same two documents and the correction in one file.
    let work = std::env::temp_dir().join(&p);
    std::fs::create_dir_all(&work).unwrap();
    let input = work.join("in.jsonl");
    let output = work.join("out.jsonl");
    let mut f = std::fs::File::create(&input).unwrap();
    writeln!(f, "{}", serde_json::json!({"id": "first", "content_type": "text/plain", "text": first_text, "fields": {"total": first_due}})).unwrap();
    writeln!(f, "{}", serde_json::json!({"id": "next", "content_type": "text/plain", "text": next_text})).unwrap();
    drop(f);
    let settings = docflow_stages::offline::OfflineSettings {
        files: docflow_stages::offline::OfflineOptions {
            input,
            train: None,
            output: output.clone(),
            batch_size: 64,
            publish_every_labels: 10,
            publish_every_results: 0,
            save_model: None,
            update_ranker: false,
        },
        model: Some(dir.path().to_path_buf()),
        device: docflow_stages::infer::Device::Cpu,
        threads: 1,
        precision: docflow_model::Precision::Fp32,
        parse_deadline_ms: None,
    };
    // (The offline adapter runs its own runtime: off this test's.)
    let summary = tokio::task::spawn_blocking(move || docflow_stages::offline::process_offline(&settings, &mut docflow_stages::offline::NoProgress))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.fields_learned, 1);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&output).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let offline_first: BusinessFields = serde_json::from_value(lines[0]["fields"].clone()).unwrap();
    let offline_next: BusinessFields = serde_json::from_value(lines[1]["fields"].clone()).unwrap();
    assert_eq!(offline_first, first.fields, "offline read the first document differently");
    assert_eq!(offline_next, next.fields, "offline read the corrected sender's next document differently");
    let _ = std::fs::remove_dir_all(&work);
}
