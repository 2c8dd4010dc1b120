//! `docflow dlq replay` after a fix: a parse stage with a tight size limit
//! dead-letters a document (`too_large`); the stage is restarted with the
//! default limits and `docflow dlq replay --error-kind too_large` republishes
//! the dead letter to its original topic, with its original headers, where
//! it is parsed. A document of another kind stays in the DLQ.
//!
//! Needs Kafka (`deploy/local/stack.sh up`); with DOCFLOW_SKIP_INTEGRATION=1
//! and no broker it says so and skips.

mod common;

use common::{create_parse_topics, spawn_parse_stage};
use docflow_testkit::kafka;
use docflow_schemas::{encode_with, Codec, Limits, RawDocument};
use std::process::{Child, Command};
use std::time::Duration;

fn raw(id: &str, body: &str) -> RawDocument {
    RawDocument { id: id.into(), content_type: Some("text/plain".into()), body: body.as_bytes().to_vec(), metadata: Default::default(), created_at_ms: 1_764_000_000_000 }
}

fn stop(mut child: Child) {
    // SIGTERM drains and commits; then wait.
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let _ = child.wait();
}

#[test]
fn replay_after_a_fix_republishes_to_the_original_topic() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let brokers = kafka::brokers();
    let prefix = kafka::unique("replay");
    let (parsed, dlq) = create_parse_topics(&prefix, 1);
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (tight, default) = (dir.join(format!("{prefix}-tight.toml")), dir.join(format!("{prefix}-default.toml")));
    std::fs::write(&tight, "store_backend = \"memory\"\n[parse.limits]\nmax_document_bytes = 100\n").unwrap();
    std::fs::write(&default, "store_backend = \"memory\"\n").unwrap();

    // JSON on the way in: the replay must restore the content-type header.
    let producer = kafka::producer(&brokers).unwrap();
    let input = format!("{prefix}.docs.raw.normal");
    let big = raw("big", &"INVOICE INV-42 Total 42.00 EUR. ".repeat(10));
    let empty = raw("empty", "");
    for doc in [&big, &empty] {
        let enc = encode_with(doc, Codec::Json, &Limits::DEFAULT).unwrap();
        kafka::send_raw(&producer, &input, doc.id.as_bytes(), &enc.bytes, &[("content-type", b"application/json")]).unwrap();
    }
    kafka::flush(&producer).unwrap();

    let stage = spawn_parse_stage(&prefix, Some(&tight), None);
    let dead = kafka::read_topic(&brokers, &dlq, Duration::from_secs(60), |r| r.len() >= 2).unwrap();
    stop(stage);
    assert_eq!(dead.len(), 2, "both documents dead-lettered");

    let stage = spawn_parse_stage(&prefix, Some(&default), None);
    let out = Command::new(env!("CARGO_BIN_EXE_docflow"))
        .args(["dlq", "replay", "--dlq", &dlq, "--error-kind", "too_large"])
        .env("DOCFLOW_KAFKA_BROKERS", &brokers)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "replay failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("1 dead letter(s) replayed"), "{stdout}");
    println!("{stdout}");

    let got = kafka::read_topic(&brokers, &parsed, Duration::from_secs(60), |r| !r.is_empty()).unwrap();
    stop(stage);
    assert_eq!(got.len(), 1, "the replayed document was parsed");
    assert_eq!(got[0].key.as_deref(), Some(b"big".as_slice()));
    // The empty document (`empty`, not selected) was not replayed.
    let dead_after = kafka::read_topic(&brokers, &dlq, Duration::from_secs(3), |r| r.len() > 2).unwrap();
    assert_eq!(dead_after.len(), 2, "nothing new was dead-lettered");
}
