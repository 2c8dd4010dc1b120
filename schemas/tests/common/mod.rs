//! Shared test fixtures: one realistic sample per envelope, and helpers that
//! run a decode against every envelope type.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::str::FromStr;

use docflow_schemas::*;
use rust_decimal::Decimal;

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

pub fn raw() -> RawDocument {
    RawDocument {
        id: "doc-0001".into(),
        content_type: Some("text/plain".into()),
        body: b"INVOICE INV-2041\nACME GmbH\nTotal: 1,234.56 EUR\nIBAN DE89 3704 0044 0532 0130 00"
            .to_vec(),
        metadata: BTreeMap::from([
            ("source".into(), "sftp".into()),
            ("locale".into(), "de-DE".into()),
        ]),
        created_at_ms: 1_764_000_000_000,
    }
}

pub fn fields() -> BusinessFields {
    BusinessFields {
        doc_type_hint: Some("invoice".into()),
        vendor: Some("ACME GmbH".into()),
        invoice_number: Some("INV-2041".into()),
        date: Some("2026-11-02".into()),
        total: Some(dec("1234.56")),
        currency: Some("EUR".into()),
        line_items: vec![
            LineItem {
                description: "Widget".into(),
                quantity: Some(dec("2")),
                unit_price: Some(dec("500.00")),
                amount: Some(dec("1000.00")),
            },
            LineItem {
                description: "Shipping".into(),
                amount: Some(dec("234.56")),
                ..Default::default()
            },
        ],
        iban: Some("DE89370400440532013000".into()),
        invalid_ibans: vec!["DE00123".into()],
        emails: vec!["billing@acme.example".into()],
        phones: vec!["+49 30 1234567".into()],
        parties: vec![],
        subject: None,
        line_items_consistent: Some(true),
        field_confidence: [("vendor".to_string(), 0.92), ("total".to_string(), 1.0)].into_iter().collect(),
        field_source: [("vendor".to_string(), "ranker".to_string()), ("total".to_string(), "label".to_string())].into_iter().collect(),
    }
}

pub fn parsed() -> ParsedDocument {
    ParsedDocument {
        id: "doc-0001".into(),
        content_type: "text/plain".into(),
        text: "INVOICE INV-2041 ACME GmbH Total: 1,234.56 EUR".into(),
        fields: fields(),
        warnings: vec!["invalid_utf8".into()],
        created_at_ms: 1_764_000_000_000,
        priority: docflow_schemas::Priority::High,
        locale: None,
    }
}

pub fn embedded() -> EmbeddedDocument {
    let v: Vec<f32> = (0..384).map(|i| ((i as f32) * 0.37).sin() / 13.0).collect();
    EmbeddedDocument {
        parsed: parsed(),
        embedding_f32le: embedding_to_bytes(&v),
        encoder_version: "all-MiniLM-L6-v2@3f2a9c1d".into(),
    }
}

pub fn scored() -> ScoredDocument {
    ScoredDocument {
        embedded: embedded(),
        class: "invoice".into(),
        class_confidence: 0.93,
        anomaly_score: 0.81,
        anomaly_reasons: vec![
            AnomalyReason {
                reason: "amount_outlier".into(),
                value: 4.2,
                contribution: 0.6,
                evidence: None,
            },
            AnomalyReason {
                reason: "total_mismatch".into(),
                value: 10.0,
                contribution: 0.21,
                evidence: None,
            },
        ],
        model_version: 7,
    }
}

pub fn result() -> ResultRecord {
    ResultRecord {
        id: "doc-0001".into(),
        class: "invoice".into(),
        class_confidence: 0.93,
        fields: fields(),
        anomaly_score: 0.81,
        anomaly_reasons: vec![AnomalyReason {
            reason: "amount_outlier".into(),
            value: 4.2,
            contribution: 0.6,
            evidence: None,
        }],
        status: docflow_schemas::ResultStatus::PendingAudit,
        model_version: 7,
        created_at_ms: 1_764_000_000_000,
        persisted_at_ms: 1_764_000_000_350,
    }
}

pub fn dead_letter() -> DeadLetter {
    DeadLetter {
        stage: "parse".into(),
        error_domain: "user_input".into(),
        error_kind: "truncated".into(),
        error_message: "truncated input".into(),
        original_topic: "docs.raw.normal".into(),
        original_partition: 3,
        original_offset: 98_765,
        original_key: Some(b"doc-0001".to_vec()),
        original_value: vec![0x83, 0xa2, b'i', b'd'],
        failed_at_ms: 1_764_000_000_100,
        original_headers: [("docflow-codec".to_string(), "msgpack".to_string())].into(),
    }
}

pub fn feedback() -> Feedback {
    Feedback {
        id: "doc-0001".into(),
        label: Some("purchase_order".into()),
        is_anomaly: Some(false),
        embedding_f32le: Some(embedding_to_bytes(&[0.5, -0.25, 0.125])),
        note: Some("new class".into()),
        created_at_ms: 1_764_000_000_200,
        fields: [("total".to_string(), "1234.56".to_string()), ("vendor".to_string(), "ACME GmbH".to_string())].into(),
    }
}

pub fn model_update() -> ModelUpdate {
    ModelUpdate {
        version: 8,
        rollout_fraction: 0.25,
        previous_version: Some(7),
        state: (0..2000u32).map(|i| (i % 7) as u8).collect(),
        created_at_ms: 1_764_000_000_300,
    }
}

/// Every envelope sample as plain MessagePack bytes, with its type name.
pub fn msgpack_samples() -> Vec<(&'static str, Vec<u8>)> {
    let l = Limits {
        lz4_threshold_bytes: usize::MAX,
        ..Limits::default()
    };
    let enc = |e: Result<Encoded, CodecError>| {
        let e = e.unwrap();
        assert_eq!(e.codec, Codec::MsgPack);
        e.bytes
    };
    vec![
        ("RawDocument", enc(encode(&raw(), &l))),
        ("ParsedDocument", enc(encode(&parsed(), &l))),
        ("EmbeddedDocument", enc(encode(&embedded(), &l))),
        ("ScoredDocument", enc(encode(&scored(), &l))),
        ("ResultRecord", enc(encode(&result(), &l))),
        ("DeadLetter", enc(encode(&dead_letter(), &l))),
        ("Feedback", enc(encode(&feedback(), &l))),
        ("ModelUpdate", enc(encode(&model_update(), &l))),
    ]
}

/// Decodes `bytes` as every envelope type; `Ok(())` where it decoded.
pub fn decode_as_every_type(
    bytes: &[u8],
    codec: Codec,
    limits: &Limits,
) -> Vec<Result<(), CodecError>> {
    fn one<T: serde::de::DeserializeOwned>(
        b: &[u8],
        c: Codec,
        l: &Limits,
    ) -> Result<(), CodecError> {
        decode::<T>(b, c, l).map(|_| ())
    }
    vec![
        one::<RawDocument>(bytes, codec, limits),
        one::<ParsedDocument>(bytes, codec, limits),
        one::<EmbeddedDocument>(bytes, codec, limits),
        one::<ScoredDocument>(bytes, codec, limits),
        one::<ResultRecord>(bytes, codec, limits),
        one::<DeadLetter>(bytes, codec, limits),
        one::<Feedback>(bytes, codec, limits),
        one::<ModelUpdate>(bytes, codec, limits),
        one::<BusinessFields>(bytes, codec, limits),
    ]
}

pub const ALL_CODECS: [Codec; 3] = [Codec::MsgPack, Codec::MsgPackLz4, Codec::Json];
