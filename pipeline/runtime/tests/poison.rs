//! Acceptance: poison records. 1% malformed records (garbage bytes, wrong
//! schema version, oversized, LZ4 decompression bombs) are interleaved with
//! valid ones, plus records whose processing fails with retryable errors
//! (some recover on retry, some never do). Every valid record is processed,
//! every bad one is in the dead-letter topic with its reason and original
//! bytes, and the stage keeps running throughout.

mod common;

use common::*;
use docflow_core::StageError;
use docflow_runtime::passthrough::TestDoc;
use docflow_runtime::{Input, Output, ProcessResult, ShutdownSignal, Stage, StageConfig, StageMetrics};
use docflow_testkit::kafka;
use docflow_schemas::{DeadLetter, HEADER_CODEC, HEADER_SCHEMA};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const N: u64 = 10_000;

/// Pass-through that fails `flaky-*` twice (retryable) and `down-*` always.
struct Flaky {
    attempts: Mutex<HashMap<String, u32>>,
}

impl Stage for Flaky {
    type Input = TestDoc;
    type Output = TestDoc;

    fn name(&self) -> &str {
        "flaky"
    }

    async fn process(&self, batch: Vec<Input<TestDoc>>) -> Vec<ProcessResult<TestDoc>> {
        let mut attempts = self.attempts.lock().unwrap();
        batch
            .into_iter()
            .map(|i| {
                let n = attempts.entry(i.value.id.clone()).or_insert(0);
                *n += 1;
                if i.value.id.starts_with("down-") || (i.value.id.starts_with("flaky-") && *n <= 2) {
                    return Err(StageError::external("db_timeout", format!("attempt {n} timed out")));
                }
                Ok(vec![Output::new(i.value.id.clone(), i.value)])
            })
            .collect()
    }
}

enum Kind {
    Valid,
    Flaky,
    Down,
    Garbage,
    WrongSchema,
    Oversized,
    Bomb,
}

fn kind_of(i: u64) -> Kind {
    if i % 100 == 7 {
        [Kind::Garbage, Kind::WrongSchema, Kind::Oversized, Kind::Bomb].into_iter().nth(((i / 100) % 4) as usize).unwrap()
    } else if i % 2_000 == 17 {
        Kind::Down
    } else if i % 500 == 13 {
        Kind::Flaky
    } else {
        Kind::Valid
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_records_go_to_the_dlq_with_reasons() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let brokers = kafka::brokers();
    let (input, out, dlq) = (kafka::unique("ps-in"), kafka::unique("ps-out"), kafka::unique("ps-dlq"));
    kafka::create_topics(&brokers, &[(&input, 4), (&out, 4), (&dlq, 2)]).await.unwrap();

    // Publish, remembering what each bad record was and its exact bytes.
    let schema = docflow_schemas::schema_header_value();
    let mut expected_ok = HashSet::new();
    let mut expected_dead: HashMap<String, (&str, Vec<u8>)> = HashMap::new();
    {
        let p = kafka::producer(&brokers).unwrap();
        for i in 0..N {
            let mut doc = kafka::test_doc(i, 300);
            match kind_of(i) {
                Kind::Valid | Kind::Flaky | Kind::Down => {
                    doc.id = match kind_of(i) {
                        Kind::Flaky => format!("flaky-{i}"),
                        Kind::Down => format!("down-{i}"),
                        _ => doc.id,
                    };
                    kafka::send_doc(&p, &input, &doc).unwrap();
                    if matches!(kind_of(i), Kind::Down) {
                        let enc = docflow_schemas::encode(&doc, &docflow_schemas::Limits::DEFAULT).unwrap();
                        expected_dead.insert(doc.id.clone(), ("db_timeout", enc.bytes));
                    } else {
                        expected_ok.insert(doc.id);
                    }
                }
                Kind::Garbage => {
                    let key = format!("garbage-{i}");
                    let mut bytes: Vec<u8> = (0..200).map(|_| rand::random::<u8>()).collect();
                    bytes[0] = 0xc1; // a reserved MessagePack marker: never a valid value
                    kafka::send_raw(&p, &input, key.as_bytes(), &bytes, &[(HEADER_CODEC, b"msgpack")]).unwrap();
                    expected_dead.insert(key, ("malformed", bytes));
                }
                Kind::WrongSchema => {
                    let key = format!("schema-{i}");
                    let enc = docflow_schemas::encode(&doc, &docflow_schemas::Limits::DEFAULT).unwrap();
                    kafka::send_raw(&p, &input, key.as_bytes(), &enc.bytes, &[(HEADER_CODEC, enc.codec.header_value().as_bytes()), (HEADER_SCHEMA, b"docflow.v9")]).unwrap();
                    expected_dead.insert(key, ("unsupported_schema_version", enc.bytes));
                }
                Kind::Oversized => {
                    let key = format!("big-{i}");
                    doc.body = vec![b'x'; 80 << 10];
                    let enc = docflow_schemas::encode_with(&doc, docflow_schemas::Codec::MsgPack, &docflow_schemas::Limits::DEFAULT).unwrap();
                    kafka::send_raw(&p, &input, key.as_bytes(), &enc.bytes, &[(HEADER_CODEC, b"msgpack"), (HEADER_SCHEMA, schema.as_bytes())]).unwrap();
                    expected_dead.insert(key, ("too_large", enc.bytes));
                }
                Kind::Bomb => {
                    let key = format!("bomb-{i}");
                    // LZ4 frame claiming 4 GiB decompressed from a 16-byte block.
                    let mut bytes = b"DFL4".to_vec();
                    bytes.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
                    bytes.extend_from_slice(&[0xF0; 16]);
                    kafka::send_raw(&p, &input, key.as_bytes(), &bytes, &[(HEADER_CODEC, b"msgpack+lz4")]).unwrap();
                    expected_dead.insert(key, ("decompression_bomb", bytes));
                }
            }
        }
        kafka::flush(&p).unwrap();
    }
    assert_eq!(expected_dead.len(), 105);

    let mut cfg = StageConfig::new(kafka::unique("ps-group"), vec![input.clone()], Some(out.clone()));
    cfg.brokers = brokers.clone();
    cfg.dlq_topic = dlq.clone();
    cfg.delivery = kafka::delivery_mode().expect("DOCFLOW_DELIVERY");
    cfg.max_record_bytes = 64 << 10;
    cfg.batch_size = 100;
    cfg.retry.max_attempts = 3;
    cfg.retry.initial_backoff_ms = 20;
    cfg.retry.max_backoff_ms = 100;
    let metrics = Arc::new(StageMetrics::default());
    let shutdown = ShutdownSignal::new();
    let stage = Flaky { attempts: Mutex::new(HashMap::new()) };
    let run = tokio::spawn(docflow_runtime::run_stage_with_metrics(stage, cfg, shutdown.clone(), metrics.clone()));

    let outputs = tokio::task::spawn_blocking({
        let (out, n) = (out.clone(), expected_ok.len());
        move || read_until_ids(&out, n, Duration::from_secs(90))
    })
    .await
    .unwrap();
    let dead = tokio::task::spawn_blocking({
        let (brokers, dlq) = (brokers.clone(), dlq.clone());
        move || kafka::read_topic(&brokers, &dlq, Duration::from_secs(60), |r| r.len() >= 105).unwrap()
    })
    .await
    .unwrap();

    assert!(!run.is_finished(), "the stage must keep running through poison records");
    let ids: HashSet<String> = id_counts(&outputs).into_keys().collect();
    assert_eq!(ids, expected_ok, "exactly the valid records are processed");

    let mut reasons: HashMap<&str, usize> = HashMap::new();
    for d in &dead {
        let dl: DeadLetter = doc_dead_letter(d);
        let key = String::from_utf8(dl.original_key.clone().unwrap()).unwrap();
        let (kind, bytes) = expected_dead.get(&key).unwrap_or_else(|| panic!("unexpected dead letter {key}: {dl:?}"));
        assert_eq!(dl.error_kind, *kind, "{key}: {}", dl.error_message);
        assert_eq!(&dl.original_value, bytes, "{key}: original bytes kept");
        assert_eq!((dl.stage.as_str(), dl.original_topic.as_str()), ("flaky", input.as_str()));
        assert_eq!(d.header("docflow-dlq-error-kind"), Some(*kind));
        assert_eq!(d.header("docflow-dlq-original-offset"), Some(dl.original_offset.to_string().as_str()));
        if *kind == "db_timeout" {
            assert!(dl.error_message.contains("gave up after 3 attempts"), "{}", dl.error_message);
            assert_eq!(dl.error_domain, "external");
        } else {
            assert_eq!(dl.error_domain, "user_input");
        }
        *reasons.entry(kind).or_insert(0) += 1;
    }
    let distinct: HashSet<Vec<u8>> = dead.iter().map(|d| d.key.clone().unwrap()).collect();
    println!("poison: {} valid processed, {} dead letters by reason {reasons:?}, retries {}", ids.len(), dead.len(), metrics.retries.load(Ordering::Relaxed));
    assert_eq!(distinct.len(), 105, "every bad record is dead-lettered");
    // 20 flaky records × 2 retries + 5 down records × 2 retries.
    assert!(metrics.retries.load(Ordering::Relaxed) >= 50);

    shutdown.trigger();
    run.await.unwrap().expect("clean stop");
}

fn doc_dead_letter(c: &kafka::Consumed) -> DeadLetter {
    let codec = docflow_schemas::codec_from_headers(c.headers.iter().map(|(k, v)| (k.as_str(), Some(v.as_slice())))).unwrap();
    docflow_schemas::decode(c.payload.as_deref().unwrap(), codec, &docflow_schemas::Limits::DEFAULT).unwrap()
}
