//! Lane isolation, measured on the real parse stage (`docflow stage parse`,
//! its own process): a flood of slow PDFs sits in `docs.raw.low` while small
//! documents arrive in `docs.raw.critical` every 100 ms. The critical
//! documents' latency (producer send → parsed record written by the stage,
//! both timestamps from this machine's clock) must have p99 ≤ 1 s.
//!
//! Prints the figures (p50, p99, max; the flood's parse time per PDF) for
//! the record. Needs Kafka (`deploy/local/stack.sh up`); with
//! DOCFLOW_SKIP_INTEGRATION=1 and no broker it says so and skips.

mod common;

use common::{create_parse_topics, spawn_parse_stage};
use docflow_testkit::kafka;
use docflow_schemas::{decode, encode, Codec, Limits, ParsedDocument, RawDocument, HEADER_CODEC, HEADER_SCHEMA};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const FLOOD: usize = 80;
const CRITICAL: usize = 50;
const SLOW_PDF_WORDS: usize = 30_000;

fn raw(id: &str, content_type: &str, body: Vec<u8>) -> RawDocument {
    RawDocument { id: id.into(), content_type: Some(content_type.into()), body, metadata: BTreeMap::new(), created_at_ms: docflow_runtime::dlq::now_ms() }
}

fn send(producer: &rdkafka::producer::ThreadedProducer<rdkafka::producer::DefaultProducerContext>, topic: &str, doc: &RawDocument) {
    let enc = encode(doc, &Limits::DEFAULT).unwrap();
    let schema = docflow_schemas::schema_header_value();
    kafka::send_raw(producer, topic, doc.id.as_bytes(), &enc.bytes, &[(HEADER_CODEC, enc.codec.header_value().as_bytes()), (HEADER_SCHEMA, schema.as_bytes())]).unwrap();
}

/// A genuine PDF that takes hundreds of milliseconds to parse.
fn slow_pdf() -> Vec<u8> {
    docflow_corpus::hostile::slow_text_pdf(SLOW_PDF_WORDS)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[test]
fn critical_lane_p99_under_a_low_lane_flood_of_slow_pdfs() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let brokers = kafka::brokers();
    let prefix = kafka::unique("lanes");
    let (parsed, _dlq) = create_parse_topics(&prefix, 2);

    let pdf = slow_pdf();
    let one = Instant::now();
    docflow_parse::parse_document(&raw("calibrate", "application/pdf", pdf.clone()), &Default::default()).unwrap();
    let per_pdf = one.elapsed();

    let log = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{prefix}.log"));
    let mut child = spawn_parse_stage(&prefix, None, Some(&log));

    let producer = kafka::producer(&brokers).unwrap();
    let critical = format!("{prefix}.docs.raw.critical");
    // Warm up: the stage has joined and parses once the first document is back.
    send(&producer, &critical, &raw("warmup", "text/plain", b"INVOICE INV-0 Total 1.00 EUR".to_vec()));
    kafka::flush(&producer).unwrap();
    let warm = kafka::read_topic(&brokers, &parsed, Duration::from_secs(60), |r| !r.is_empty()).unwrap();
    assert!(!warm.is_empty(), "the parse stage did not start");

    for i in 0..FLOOD {
        send(&producer, &format!("{prefix}.docs.raw.low"), &raw(&format!("slow-{i}"), "application/pdf", pdf.clone()));
    }
    kafka::flush(&producer).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let flood_started = Instant::now();
    for i in 0..CRITICAL {
        send(&producer, &critical, &raw(&format!("crit-{i}"), "text/plain", format!("INVOICE INV-{i}\nTotal: {i}.00 EUR\n").into_bytes()));
        kafka::flush(&producer).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    let records = kafka::read_topic(&brokers, &parsed, Duration::from_secs(300), |r| r.len() > CRITICAL + FLOOD).unwrap();
    let _ = child.kill();
    let _ = child.wait();

    let mut latencies = Vec::new();
    let mut slow_done = 0;
    for r in &records {
        let codec = Codec::from_header(r.header(HEADER_CODEC).unwrap_or("msgpack")).unwrap();
        let doc: ParsedDocument = decode(r.payload.as_deref().unwrap(), codec, &Limits::DEFAULT).unwrap();
        let written = r.timestamp_ms.unwrap();
        if doc.id.starts_with("crit-") {
            latencies.push(written - doc.created_at_ms);
        } else if doc.id.starts_with("slow-") {
            slow_done += 1;
        }
    }
    latencies.sort_unstable();
    assert_eq!(latencies.len(), CRITICAL, "critical documents missing; stage log: {}", log.display());
    let (p50, p99, max) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99), *latencies.last().unwrap());
    println!(
        "lane isolation: {FLOOD} slow PDFs in low ({per_pdf:.0?} each to parse here, {slow_done} done), {CRITICAL} critical docs every 100 ms \
         over {:.1?}: critical latency p50 {p50} ms, p99 {p99} ms, max {max} ms",
        flood_started.elapsed()
    );
    assert!(slow_done > 0, "the flood was not parsed at all");
    assert!(p99 <= 1_000, "critical-lane p99 {p99} ms under a low-lane flood (p50 {p50} ms, max {max} ms)");
}
