//! Round trips of every envelope through every codec path: fixed samples,
//! the pinned wire bytes, JSON input on `docs.raw.*` (including the README's
//! examples), and property tests over arbitrary values.

mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;

use common::*;
use docflow_schemas::*;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Encodes through `encode` (auto), plain MessagePack and forced LZ4, and
/// checks each decodes back equal, with the codec found from the headers.
fn roundtrip_msgpack<T: Serialize + DeserializeOwned + PartialEq + Debug>(v: &T) {
    let limits = Limits::default();
    let auto = encode(v, &limits).unwrap();
    for enc in [
        auto,
        encode_with(v, Codec::MsgPack, &limits).unwrap(),
        encode_with(v, Codec::MsgPackLz4, &limits).unwrap(),
    ] {
        let headers = enc.headers();
        let codec =
            codec_from_headers(headers.iter().map(|(k, v)| (*k, Some(v.as_bytes())))).unwrap();
        assert_eq!(codec, enc.codec);
        let back: T = decode(&enc.bytes, codec, &limits).unwrap();
        assert_eq!(&back, v, "codec {codec}");
    }
}

#[test]
fn every_envelope_round_trips_on_msgpack_and_lz4() {
    roundtrip_msgpack(&raw());
    roundtrip_msgpack(&parsed());
    roundtrip_msgpack(&embedded());
    roundtrip_msgpack(&scored());
    roundtrip_msgpack(&result());
    roundtrip_msgpack(&dead_letter());
    roundtrip_msgpack(&feedback());
    roundtrip_msgpack(&model_update());
    roundtrip_msgpack(&fields());
    let bare = DeadLetter {
        original_key: None,
        original_headers: Default::default(),
        ..dead_letter()
    };
    roundtrip_msgpack(&bare);
    let bare = Feedback {
        label: None,
        is_anomaly: None,
        embedding_f32le: None,
        note: None,
        fields: Default::default(),
        ..feedback()
    };
    roundtrip_msgpack(&bare);
    // A feedback without corrections writes no `fields` key, as before it existed.
    let json = serde_json::to_value(&bare).unwrap();
    assert!(json.get("fields").is_none(), "{json}");
}

#[test]
fn encode_picks_lz4_only_above_threshold_and_when_smaller() {
    let limits = Limits::default();
    assert_eq!(
        encode(&raw(), &limits).unwrap().codec,
        Codec::MsgPack,
        "small stays plain"
    );
    let text = RawDocument {
        body: "total 1234.56 EUR\n".repeat(2000).into_bytes(),
        ..raw()
    };
    let enc = encode(&text, &limits).unwrap();
    assert_eq!(enc.codec, Codec::MsgPackLz4);
    assert!(
        enc.bytes.len() * 10 < text.body.len(),
        "{} bytes",
        enc.bytes.len()
    );
    assert_eq!(
        decode::<RawDocument>(&enc.bytes, enc.codec, &limits).unwrap(),
        text
    );
    // Incompressible (pseudo-random) bytes: framing would only add bytes.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..50_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let noisy = RawDocument {
        body: noise,
        ..raw()
    };
    let enc = encode(&noisy, &limits).unwrap();
    assert_eq!(enc.codec, Codec::MsgPack);
    assert_eq!(
        decode::<RawDocument>(&enc.bytes, enc.codec, &limits).unwrap(),
        noisy
    );
}

#[test]
fn encode_refuses_values_over_the_limits() {
    let big = RawDocument {
        body: vec![b'a'; 10_000],
        ..raw()
    };
    let tight = Limits {
        max_decoded_bytes: 5_000,
        ..Limits::default()
    };
    let e = encode(&big, &tight).unwrap_err();
    assert_eq!(e.kind(), "too_large");
    assert!(
        matches!(
            e,
            CodecError::TooLarge {
                what: "decoded",
                ..
            }
        ),
        "{e}"
    );
    // Compressible: the payload fits when framed, the wire limit is what bites.
    let tight = Limits {
        max_encoded_bytes: 100,
        ..Limits::default()
    };
    assert!(matches!(
        encode(&big, &tight).unwrap_err(),
        CodecError::TooLarge {
            what: "encoded",
            ..
        }
    ));
    let ok = Limits {
        max_encoded_bytes: 1_000,
        ..Limits::default()
    };
    assert_eq!(encode(&big, &ok).unwrap().codec, Codec::MsgPackLz4);
}

/// The wire bytes of a minimal RawDocument, pinned: named fields, `body` as
/// `bin`, absent options and empty maps omitted. A change here is a wire change.
#[test]
fn raw_document_wire_bytes_are_pinned() {
    let doc = RawDocument {
        id: "d1".into(),
        content_type: None,
        body: b"hi".to_vec(),
        metadata: BTreeMap::new(),
        created_at_ms: 1,
    };
    let enc = encode(&doc, &Limits::default()).unwrap();
    let mut want = vec![0x83, 0xa2, b'i', b'd', 0xa2, b'd', b'1', 0xa4];
    want.extend_from_slice(b"body");
    want.extend_from_slice(&[0xc4, 0x02, b'h', b'i', 0xad]);
    want.extend_from_slice(b"created_at_ms");
    want.push(0x01);
    assert_eq!(enc.bytes, want);
    assert_eq!(enc.headers()[0], ("docflow-codec", "msgpack".to_string()));
    assert_eq!(
        enc.headers()[1],
        ("docflow-schema", "docflow.v1".to_string())
    );
}

#[test]
fn money_is_a_decimal_string_on_the_wire() {
    let item = LineItem {
        description: "x".into(),
        amount: Some(common::dec("1234.50")),
        ..Default::default()
    };
    let bytes = encode(&item, &Limits::default()).unwrap().bytes;
    // "amount" then the fixstr "1234.50" (0xa7), not a float marker.
    let needle = [&[0xa6][..], b"amount", &[0xa7], b"1234.50"].concat();
    assert!(
        bytes.windows(needle.len()).any(|w| w == needle),
        "{bytes:02x?}"
    );
    let json = encode_with(&item, Codec::Json, &Limits::default())
        .unwrap()
        .bytes;
    assert_eq!(
        std::str::from_utf8(&json).unwrap(),
        r#"{"description":"x","amount":"1234.50"}"#
    );
    // A JSON number for money is refused: floats are not money.
    let e = decode::<LineItem>(
        br#"{"description":"x","amount":1234.5}"#,
        Codec::Json,
        &Limits::default(),
    );
    assert_eq!(e.unwrap_err().kind(), "malformed");
}

#[test]
fn unknown_fields_are_ignored_for_additive_changes() {
    #[derive(Serialize)]
    struct FeedbackV1Plus<'a> {
        id: &'a str,
        created_at_ms: i64,
        label: &'a str,
        added_later: BTreeMap<&'a str, Vec<u32>>,
    }
    let newer = FeedbackV1Plus {
        id: "d",
        created_at_ms: 5,
        label: "l",
        added_later: BTreeMap::from([("k", vec![1, 2])]),
    };
    let enc = encode(&newer, &Limits::default()).unwrap();
    let fb: Feedback = decode(&enc.bytes, enc.codec, &Limits::default()).unwrap();
    assert_eq!(fb.label.as_deref(), Some("l"));
    assert_eq!(fb.created_at_ms, 5);
}

#[test]
fn missing_required_field_is_malformed() {
    #[derive(Serialize)]
    struct NoCreatedAt {
        id: &'static str,
        body: &'static str,
    }
    let enc = encode(&NoCreatedAt { id: "d", body: "b" }, &Limits::default()).unwrap();
    let e = decode::<RawDocument>(&enc.bytes, enc.codec, &Limits::default()).unwrap_err();
    assert_eq!(e.kind(), "malformed");
    assert!(e.to_string().contains("created_at_ms"), "{e}");
}

// ---- JSON on docs.raw.* -------------------------------------------------

fn json_raw(s: &str) -> Result<RawDocument, CodecError> {
    let codec = codec_from_headers([("content-type", Some(&b"application/json"[..]))]).unwrap();
    assert_eq!(codec, Codec::Json);
    decode(s.as_bytes(), codec, &Limits::default())
}

#[test]
fn json_raw_document_body_forms() {
    let text = json_raw(r#"{"id":"a","body":"héllo","created_at_ms":1}"#).unwrap();
    assert_eq!(text.body, "héllo".as_bytes());
    assert_eq!(text.content_type, None);
    assert!(text.metadata.is_empty());
    let b64 = json_raw(r#"{"id":"a","body_base64":"/wABAg==","created_at_ms":1}"#).unwrap();
    assert_eq!(b64.body, [0xff, 0x00, 0x01, 0x02]);
    let unpadded = json_raw(r#"{"id":"a","body_base64":"/wABAg","created_at_ms":1}"#).unwrap();
    assert_eq!(unpadded.body, b64.body);
    let array = json_raw(r#"{"id":"a","body":[104,105],"created_at_ms":1}"#).unwrap();
    assert_eq!(array.body, b"hi");

    for (bad, why) in [
        (
            r#"{"id":"a","body":"x","body_base64":"eA==","created_at_ms":1}"#,
            "both",
        ),
        (r#"{"id":"a","created_at_ms":1}"#, "missing field `body`"),
        (
            r#"{"id":"a","body_base64":"***","created_at_ms":1}"#,
            "base64",
        ),
        (r#"{"id":"a","body":[300],"created_at_ms":1}"#, "300"),
        (r#"{"id":"a","body":"x"}"#, "created_at_ms"),
        (
            r#"{"id":"a","body":"x","created_at_ms":1} trailing"#,
            "trailing",
        ),
    ] {
        let e = json_raw(bad).unwrap_err();
        assert_eq!(e.kind(), "malformed", "{bad}");
        assert!(e.to_string().contains(why), "{bad}: {e}");
    }
    assert_eq!(
        json_raw(r#"{"id":"a","body":"#).unwrap_err().kind(),
        "truncated"
    );
}

#[test]
fn json_encoding_of_raw_document_chooses_body_or_base64() {
    let l = Limits::default();
    let text = raw();
    let j = encode_with(&text, Codec::Json, &l).unwrap();
    assert_eq!(j.codec, Codec::Json);
    let v: serde_json::Value = serde_json::from_slice(&j.bytes).unwrap();
    assert!(
        v["body"].is_string() && v.get("body_base64").is_none(),
        "{v}"
    );
    assert_eq!(
        decode::<RawDocument>(&j.bytes, Codec::Json, &l).unwrap(),
        text
    );

    let binary = RawDocument {
        body: vec![0xff, 0xfe, 0x00],
        ..raw()
    };
    let j = encode_with(&binary, Codec::Json, &l).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&j.bytes).unwrap();
    assert_eq!(v["body_base64"], "//4A");
    assert!(v.get("body").is_none());
    assert_eq!(
        decode::<RawDocument>(&j.bytes, Codec::Json, &l).unwrap(),
        binary
    );
}

#[test]
fn msgpack_raw_document_accepts_a_str_body() {
    #[derive(Serialize)]
    struct StrBody<'a> {
        id: &'a str,
        body: &'a str,
        created_at_ms: i64,
    }
    let enc = encode(
        &StrBody {
            id: "a",
            body: "plain text",
            created_at_ms: 3,
        },
        &Limits::default(),
    )
    .unwrap();
    let doc: RawDocument = decode(&enc.bytes, enc.codec, &Limits::default()).unwrap();
    assert_eq!(doc.body, b"plain text");
}

/// Every ```json block of schemas/README.md is a RawDocument example that must decode.
#[test]
fn readme_json_examples_decode() {
    let readme = include_str!("../README.md");
    let mut found = 0;
    let mut rest = readme;
    while let Some(start) = rest.find("```json\n") {
        let block = &rest[start + 8..];
        let end = block.find("```").expect("unterminated block");
        let doc = json_raw(&block[..end])
            .unwrap_or_else(|e| panic!("README example {found}: {e}\n{}", &block[..end]));
        assert!(!doc.id.is_empty() && !doc.body.is_empty());
        found += 1;
        rest = &block[end + 3..];
    }
    assert!(
        found >= 2,
        "expected the README's JSON examples, found {found}"
    );
}

// ---- property tests -----------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    any::<String>().prop_map(|s| s.chars().take(24).collect())
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn decimal() -> impl Strategy<Value = Decimal> {
    (any::<i64>(), 0u32..=28).prop_map(|(m, s)| Decimal::new(m, s))
}

fn float() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("NaN never equals itself", |v| !v.is_nan())
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..64)
}

fn texts() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(text(), 0..3)
}

prop_compose! {
    fn raw_doc()(id in text(), content_type in opt_text(), body in bytes(),
                 metadata in proptest::collection::btree_map(text(), text(), 0..3),
                 created_at_ms in any::<i64>()) -> RawDocument {
        RawDocument { id, content_type, body, metadata, created_at_ms }
    }
}

prop_compose! {
    fn line_item()(description in text(), quantity in proptest::option::of(decimal()),
                   unit_price in proptest::option::of(decimal()), amount in proptest::option::of(decimal())) -> LineItem {
        LineItem { description, quantity, unit_price, amount }
    }
}

prop_compose! {
    fn business_fields()(a in (opt_text(), opt_text(), opt_text(), opt_text(), proptest::option::of(decimal()), opt_text()),
                         b in (proptest::collection::vec(line_item(), 0..3), opt_text(), texts(), texts(), texts(), texts(), opt_text()),
                         c in (proptest::option::of(any::<bool>()),
                               proptest::collection::btree_map(text(), (0u32..=1000).prop_map(|k| k as f64 / 1000.0), 0..4),
                               proptest::collection::btree_map(text(), text(), 0..4)))
                         -> BusinessFields {
        BusinessFields {
            doc_type_hint: a.0, vendor: a.1, invoice_number: a.2, date: a.3, total: a.4, currency: a.5,
            line_items: b.0, iban: b.1, invalid_ibans: b.2, emails: b.3, phones: b.4, parties: b.5, subject: b.6,
            line_items_consistent: c.0, field_confidence: c.1, field_source: c.2,
        }
    }
}

prop_compose! {
    fn parsed_doc()(id in text(), content_type in text(), text in text(), fields in business_fields(),
                    warnings in texts(), created_at_ms in any::<i64>(), priority in proptest::sample::select(Priority::ALL.to_vec()), locale in opt_text()) -> ParsedDocument {
        ParsedDocument { id, content_type, text, fields, warnings, created_at_ms, priority, locale }
    }
}

prop_compose! {
    fn embedded_doc()(parsed in parsed_doc(), embedding_f32le in bytes(), encoder_version in text()) -> EmbeddedDocument {
        EmbeddedDocument { parsed, embedding_f32le, encoder_version }
    }
}

prop_compose! {
    fn reasons()(v in proptest::collection::vec((text(), float(), float()), 0..3)) -> Vec<AnomalyReason> {
        v.into_iter().map(|(reason, value, contribution)| AnomalyReason { reason, value, contribution, evidence: None }).collect()
    }
}

prop_compose! {
    fn scored_doc()(embedded in embedded_doc(), class in text(), class_confidence in float(),
                    anomaly_score in float(), anomaly_reasons in reasons(), model_version in any::<u64>()) -> ScoredDocument {
        ScoredDocument { embedded, class, class_confidence, anomaly_score, anomaly_reasons, model_version }
    }
}

prop_compose! {
    fn result_record()(a in (text(), text(), float(), business_fields(), float(), reasons()),
                       b in (proptest::sample::select(ResultStatus::ALL.to_vec()), any::<u64>(), any::<i64>(), any::<i64>())) -> ResultRecord {
        ResultRecord {
            id: a.0, class: a.1, class_confidence: a.2, fields: a.3, anomaly_score: a.4, anomaly_reasons: a.5,
            status: b.0, model_version: b.1, created_at_ms: b.2, persisted_at_ms: b.3,
        }
    }
}

prop_compose! {
    fn dead_letter_any()(a in (text(), text(), text(), text(), text()),
                         b in (any::<i32>(), any::<i64>(), proptest::option::of(bytes()), bytes(), any::<i64>())) -> DeadLetter {
        DeadLetter {
            stage: a.0, error_domain: a.1, error_kind: a.2, error_message: a.3, original_topic: a.4,
            original_partition: b.0, original_offset: b.1, original_key: b.2, original_value: b.3, failed_at_ms: b.4,
            original_headers: Default::default(),
        }
    }
}

prop_compose! {
    fn feedback_any()(id in text(), label in opt_text(), is_anomaly in proptest::option::of(any::<bool>()),
                      embedding_f32le in proptest::option::of(bytes()), note in opt_text(), created_at_ms in any::<i64>(),
                      fields in proptest::collection::btree_map(text(), text(), 0..4)) -> Feedback {
        Feedback { id, label, is_anomaly, embedding_f32le, note, created_at_ms, fields }
    }
}

prop_compose! {
    fn model_update_any()(version in any::<u64>(), rollout_fraction in float(), previous_version in proptest::option::of(any::<u64>()),
                          state in proptest::collection::vec(any::<u8>(), 0..3000), created_at_ms in any::<i64>()) -> ModelUpdate {
        ModelUpdate { version, rollout_fraction, previous_version, state, created_at_ms }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn prop_raw_document(v in raw_doc()) {
        roundtrip_msgpack(&v);
        // JSON path of docs.raw.*: body as text or base64, whatever the bytes.
        let j = encode_with(&v, Codec::Json, &Limits::default()).unwrap();
        prop_assert_eq!(decode::<RawDocument>(&j.bytes, Codec::Json, &Limits::default()).unwrap(), v);
    }

    #[test]
    fn prop_parsed_document(v in parsed_doc()) { roundtrip_msgpack(&v); }

    #[test]
    fn prop_embedded_document(v in embedded_doc()) { roundtrip_msgpack(&v); }

    #[test]
    fn prop_scored_document(v in scored_doc()) { roundtrip_msgpack(&v); }

    #[test]
    fn prop_result_record(v in result_record()) { roundtrip_msgpack(&v); }

    #[test]
    fn prop_dead_letter(v in dead_letter_any()) { roundtrip_msgpack(&v); }

    #[test]
    fn prop_feedback(v in feedback_any()) { roundtrip_msgpack(&v); }

    #[test]
    fn prop_model_update(v in model_update_any()) { roundtrip_msgpack(&v); }
}
