//! Hostile input against the real parse stage (`docflow stage parse`, its
//! own process): PDF decompression bombs (two Flate layers, and one layer of
//! 1 GiB), a 10 MiB PDF, a 20 MiB body, 10,000-deep JSON and MessagePack, an
//! e-mail of 2,000 parts, 200,000 nested HTML elements, a 100 KiB id, a
//! record key that is not the id, and every codec. Each record must end as a
//! parsed document or a dead letter of the named kind (none lost), and the
//! stage's resident memory must stay at or below 512 MB throughout (sampled
//! every 20 ms, and its peak `VmHWM` at the end).
//!
//! Needs Kafka (`deploy/local/stack.sh up`); with DOCFLOW_SKIP_INTEGRATION=1
//! and no broker it says so and skips.

mod common;

use common::{create_parse_topics, spawn_parse_stage};
use docflow_corpus::hostile;
use docflow_testkit::kafka;
use docflow_schemas::{encode, encode_with, Codec, DeadLetter, Limits, RawDocument, HEADER_CODEC, HEADER_SCHEMA};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RSS_LIMIT_KIB: u64 = 512 * 1000;

#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// A `ParsedDocument` on `docs.parsed`.
    Parsed,
    /// A dead letter of this kind.
    Dead(&'static str),
    /// The producer itself refuses it (larger than any docflow topic takes).
    Refused,
}

struct Case {
    name: &'static str,
    lane: &'static str,
    key: Vec<u8>,
    value: Vec<u8>,
    headers: Vec<(&'static str, Vec<u8>)>,
    expect: Expect,
}

fn raw(id: &str, content_type: &str, body: Vec<u8>) -> RawDocument {
    RawDocument { id: id.into(), content_type: Some(content_type.into()), body, metadata: BTreeMap::new(), created_at_ms: 1_764_000_000_000 }
}

fn case(name: &'static str, lane: &'static str, doc: &RawDocument, codec: Option<Codec>, expect: Expect) -> Case {
    let enc = match codec {
        Some(c) => encode_with(doc, c, &Limits::DEFAULT),
        None => encode(doc, &Limits::DEFAULT),
    }
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    Case {
        name,
        lane,
        key: doc.id.clone().into_bytes(),
        value: enc.bytes,
        headers: vec![(HEADER_CODEC, enc.codec.header_value().into()), (HEADER_SCHEMA, docflow_schemas::schema_header_value().into_bytes())],
        expect,
    }
}

/// A MessagePack `RawDocument` with an unknown key holding `depth` nested arrays.
fn deep_msgpack_envelope(id: &str, depth: usize) -> Vec<u8> {
    fn str8(v: &mut Vec<u8>, s: &str) {
        v.push(0xd9);
        v.push(s.len() as u8);
        v.extend_from_slice(s.as_bytes());
    }
    let mut v = vec![0x84];
    str8(&mut v, "id");
    str8(&mut v, id);
    str8(&mut v, "body");
    v.extend_from_slice(&[0xc4, 2, b'h', b'i']);
    str8(&mut v, "created_at_ms");
    v.push(0x01);
    str8(&mut v, "junk");
    v.extend(hostile::deep_msgpack_array(depth));
    v
}

fn cases(run: &str) -> Vec<Case> {
    let id = |s: &str| format!("{run}-{s}");
    let text = b"INVOICE INV-1\nACME GmbH\nTotal: 1,234.56 EUR\n".to_vec();
    let mut out = vec![
        case("double-Flate PDF bomb", "low", &raw(&id("bomb2"), "application/pdf", hostile::double_flate_bomb_pdf()), None, Expect::Dead("decompression_bomb")),
        case("1 GiB single-layer Flate bomb", "low", &raw(&id("bomb1"), "application/pdf", hostile::flate_bomb_pdf()), None, Expect::Dead("decompression_bomb")),
        case("10 MiB PDF", "normal", &raw(&id("pdf10"), "application/pdf", hostile::padded_text_pdf("INVOICE INV-10 Total 10.00 EUR", 10 << 20, 7)), None, Expect::Parsed),
        case("20 MiB body (LZ4 on the wire)", "normal", &raw(&id("body20"), "text/plain", vec![b'a'; 20 << 20]), None, Expect::Dead("too_large")),
        case("10k-deep JSON body", "normal", &raw(&id("jsonbody"), "application/json", hostile::deep_json_array(10_000).into_bytes()), None, Expect::Dead("json_too_deep")),
        case("2,000-part e-mail", "normal", &raw(&id("mail2000"), "message/rfc822", hostile::many_part_email(2_000)), None, Expect::Parsed),
        case("200k nested HTML elements", "normal", &raw(&id("html200k"), "text/html", hostile::deep_html(200_000)), None, Expect::Parsed),
        case("100 KiB id", "normal", &raw(&"i".repeat(100 << 10), "text/plain", text.clone()), None, Expect::Dead("id_too_long")),
        case("msgpack", "critical", &raw(&id("msgpack"), "text/plain", text.clone()), Some(Codec::MsgPack), Expect::Parsed),
        case("msgpack+lz4", "high", &raw(&id("lz4"), "text/plain", text.repeat(100)), Some(Codec::MsgPackLz4), Expect::Parsed),
        case("json", "normal", &raw(&id("json"), "text/plain", text.clone()), Some(Codec::Json), Expect::Parsed),
    ];
    let mut mismatch = case("key/id mismatch", "normal", &raw(&id("mismatch-id"), "text/plain", text.clone()), None, Expect::Dead("key_id_mismatch"));
    mismatch.key = id("mismatch-key").into_bytes();
    out.push(mismatch);
    let deep_json = format!(r#"{{"id":"{}","body":"hi","created_at_ms":1,"junk":{}}}"#, id("jsonenv"), hostile::deep_json_array(10_000));
    out.push(Case { name: "10k-deep JSON envelope", lane: "normal", key: id("jsonenv").into_bytes(), value: deep_json.into_bytes(), headers: vec![("content-type", b"application/json".to_vec())], expect: Expect::Dead("too_deep") });
    out.push(Case { name: "10k-deep msgpack envelope", lane: "normal", key: id("mpenv").into_bytes(), value: deep_msgpack_envelope(&id("mpenv"), 10_000), headers: vec![(HEADER_CODEC, b"msgpack".to_vec())], expect: Expect::Dead("too_deep") });
    out.push(Case { name: "unknown codec", lane: "normal", key: id("avro").into_bytes(), value: b"x".to_vec(), headers: vec![(HEADER_CODEC, b"avro".to_vec())], expect: Expect::Dead("unsupported_codec") });
    out.push(Case { name: "garbage", lane: "normal", key: id("garbage").into_bytes(), value: vec![0xc1, 0xff, 0x00], headers: vec![(HEADER_CODEC, b"msgpack".to_vec())], expect: Expect::Dead("malformed") });
    // Between the wire limit and the topic limit: refused by the stage, kept (cut) in the DLQ.
    out.push(Case { name: "16.5 MiB value", lane: "normal", key: id("v16").into_bytes(), value: hostile::incompressible_bytes((16 << 20) + (512 << 10), 1), headers: vec![(HEADER_CODEC, b"msgpack".to_vec())], expect: Expect::Dead("too_large") });
    out.push(Case { name: "20 MiB incompressible value", lane: "normal", key: id("v20").into_bytes(), value: hostile::incompressible_bytes(20 << 20, 2), headers: vec![(HEADER_CODEC, b"msgpack".to_vec())], expect: Expect::Refused });
    out
}

fn vm_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn hostile_records_get_named_outcomes_none_lost_with_bounded_memory() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let brokers = kafka::brokers();
    let prefix = kafka::unique("hostile");
    let (parsed, dlq) = create_parse_topics(&prefix, 2);
    let log = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{prefix}.log"));
    let mut child = spawn_parse_stage(&prefix, None, Some(&log));
    let pid = child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let max_rss = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, max_rss) = (stop.clone(), max_rss.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(kib) = docflow_testkit::probe::rss_kib(pid) {
                    max_rss.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let run = prefix.clone();
    let cases = cases(&run);
    let producer = kafka::producer(&brokers).unwrap();
    let started = Instant::now();
    let mut expected: HashMap<Vec<u8>, (&str, Expect)> = HashMap::new();
    for c in &cases {
        let topic = format!("{prefix}.docs.raw.{}", c.lane);
        let headers: Vec<(&str, &[u8])> = c.headers.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        let sent = kafka::send_raw(&producer, &topic, &c.key, &c.value, &headers);
        match (&c.expect, sent) {
            (Expect::Refused, Err(e)) => println!("{}: refused by the producer as expected ({e})", c.name),
            (Expect::Refused, Ok(())) => panic!("{}: a {} byte record was accepted by the producer", c.name, c.value.len()),
            (_, Err(e)) => panic!("{}: publishing failed: {e}", c.name),
            (expect, Ok(())) => {
                expected.insert(c.key.clone(), (c.name, expect.clone()));
            }
        }
    }
    kafka::flush(&producer).unwrap();

    let want_parsed = expected.values().filter(|(_, e)| *e == Expect::Parsed).count();
    let want_dead = expected.len() - want_parsed;
    let timeout = Duration::from_secs(180);
    let parsed_records = kafka::read_topic(&brokers, &parsed, timeout, |r| r.len() >= want_parsed).unwrap();
    let dead_records = kafka::read_topic(&brokers, &dlq, timeout, |r| r.len() >= want_dead).unwrap();
    let elapsed = started.elapsed();
    let peak_hwm = vm_kib(pid, "VmHWM:");
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let log_tail = || std::fs::read_to_string(&log).unwrap_or_default().lines().rev().take(30).collect::<Vec<_>>().join("\n");

    let mut outcome: HashMap<Vec<u8>, Vec<String>> = HashMap::new();
    for r in &parsed_records {
        outcome.entry(r.key.clone().unwrap_or_default()).or_default().push("parsed".into());
    }
    for r in &dead_records {
        let codec = Codec::from_header(r.header(HEADER_CODEC).unwrap_or("msgpack")).unwrap();
        let dl: DeadLetter = docflow_schemas::decode(r.payload.as_deref().unwrap(), codec, &Limits::DEAD_LETTER).unwrap();
        let kept = dl.original_value.len();
        let key = r.key.clone().unwrap_or_default();
        if let Some(c) = cases.iter().find(|c| c.key == key) {
            // The whole value is kept up to the wire limit, cut above it.
            assert_eq!(kept, c.value.len().min(Limits::DEFAULT.max_encoded_bytes), "{}: dead letter keeps {kept} bytes", c.name);
        }
        outcome.entry(key).or_default().push(dl.error_kind);
    }
    let mut failures = Vec::new();
    for (key, (name, expect)) in &expected {
        let got = outcome.get(key).cloned().unwrap_or_default();
        let want = match expect {
            Expect::Parsed => "parsed".to_string(),
            Expect::Dead(kind) => kind.to_string(),
            Expect::Refused => unreachable!(),
        };
        println!("{name}: {got:?}");
        if got != vec![want.clone()] {
            failures.push(format!("{name}: want [{want}], got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}\nstage log (newest first):\n{}", log_tail());
    let sampled = max_rss.load(Ordering::Relaxed);
    println!(
        "hostile inputs: {} records answered in {elapsed:.1?}; parse stage peak RSS {} MB sampled, VmHWM {:?} MB",
        expected.len(),
        sampled / 1000,
        peak_hwm.map(|k| k / 1000)
    );
    assert!(sampled > 0, "no RSS sample of the stage process");
    assert!(sampled <= RSS_LIMIT_KIB, "the parse stage reached {} MB RSS", sampled / 1000);
    if let Some(hwm) = peak_hwm {
        assert!(hwm <= RSS_LIMIT_KIB, "the parse stage's peak (VmHWM) was {} MB", hwm / 1000);
    }
}
