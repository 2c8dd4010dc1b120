//! The parse stage against a real broker: valid documents reach the output
//! topic with their lane as priority; malformed ones reach the DLQ with
//! their reason (garbage bytes, over-size, a PDF with no text, JSON too deep).

mod common;

use common::*;
use docflow_testkit::kafka;
use docflow_schemas::{ParsedDocument, RawDocument};
use docflow_stages::{ParseStage, ParseStageConfig};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

fn raw(id: &str, content_type: &str, body: Vec<u8>) -> RawDocument {
    RawDocument { id: id.into(), content_type: Some(content_type.into()), body, metadata: BTreeMap::new(), created_at_ms: 1_700_000_000_000 }
}

/// A one-page PDF whose page only draws a line: structurally valid, no text.
pub fn pdf_without_text() -> Vec<u8> {
    docflow_corpus::hostile::pdf_with_content("", b"0 0 m 100 100 l S\n", &[])
}

#[test]
fn the_handmade_pdf_is_a_pdf_without_text() {
    let e = docflow_parse::parse_document(&raw("p", "application/pdf", pdf_without_text()), &Default::default()).unwrap_err();
    assert_eq!(e.kind(), "pdf_no_text", "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_documents_are_parsed_and_malformed_ones_dead_lettered_with_reasons() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let p = kafka::unique("parse");
    let (input, out, dlq) = (format!("{p}.docs.raw.high"), format!("{p}.docs.parsed"), format!("{p}.docs.dlq"));
    kafka::create_topics(&kafka::brokers(), &[(&input, 2), (&out, 1), (&dlq, 1)]).await.unwrap();

    let mut cfg = ParseStageConfig::default();
    cfg.limits.max_document_bytes = 64 * 1024;
    cfg.limits.max_json_depth = 16;
    let shutdown = docflow_runtime::ShutdownSignal::new();
    let _stop = StopOnDrop(shutdown.clone());
    let stage = tokio::spawn(docflow_runtime::run_stage(ParseStage::new(cfg), stage_config(&[&input], Some(&out), &dlq), shutdown.clone()));

    let producer = kafka::producer(&kafka::brokers()).unwrap();
    let valid = [
        raw("ok-text", "text/plain", b"INVOICE\nInvoice number: INV-2024-001\nDate: 2024-03-05\nTotal: 1,234.56 EUR\n".to_vec()),
        raw("ok-html", "text/html", b"<html><body><h1>Receipt</h1><p>Total: $12.50</p></body></html>".to_vec()),
        raw("ok-json", "application/json", br#"{"vendor": "Acme GmbH", "invoice_number": "A-17", "total": "99.90", "currency": "EUR"}"#.to_vec()),
    ];
    for d in &valid {
        send(&producer, &input, &d.id, d);
    }
    // Not a docflow record at all.
    kafka::send_raw(&producer, &input, b"bad-garbage", &[0xc1, 0xff, 0x00, 0x13, 0x37], &[(docflow_schemas::HEADER_CODEC, b"msgpack")]).unwrap();
    send(&producer, &input, "bad-size", &raw("bad-size", "text/plain", vec![b'a'; 100 * 1024]));
    send(&producer, &input, "bad-pdf", &raw("bad-pdf", "application/pdf", pdf_without_text()));
    let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
    send(&producer, &input, "bad-json", &raw("bad-json", "application/json", deep.into_bytes()));
    kafka::flush(&producer).unwrap();

    let parsed: Vec<ParsedDocument> = read_n(&out, 3, Duration::from_secs(30)).iter().map(decoded).collect();
    let dead = read_n(&dlq, 4, Duration::from_secs(30));
    shutdown.trigger();
    stage.await.unwrap().unwrap();

    let mut ids: Vec<&str> = parsed.iter().map(|d| d.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["ok-html", "ok-json", "ok-text"]);
    assert!(parsed.iter().all(|d| d.priority == docflow_schemas::Priority::High && !d.text.is_empty()), "{parsed:?}");
    let text = parsed.iter().find(|d| d.id == "ok-text").unwrap();
    assert_eq!(text.fields.invoice_number.as_deref(), Some("INV-2024-001"));
    assert_eq!(text.created_at_ms, 1_700_000_000_000);

    let reasons: HashMap<String, String> = dead
        .iter()
        .map(|c| (String::from_utf8_lossy(c.key.as_deref().unwrap_or_default()).into_owned(), c.header(docflow_runtime::dlq::HEADER_ERROR_KIND).unwrap_or("?").to_owned()))
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert_eq!(reasons["bad-size"], "too_large");
    assert_eq!(reasons["bad-pdf"], "pdf_no_text");
    assert_eq!(reasons["bad-json"], "json_too_deep");
    assert_ne!(reasons["bad-garbage"], "?", "{reasons:?}");
    for c in &dead {
        assert_eq!(c.header(docflow_runtime::dlq::HEADER_STAGE), Some("parse"));
        assert_eq!(c.header(docflow_runtime::dlq::HEADER_ERROR_DOMAIN), Some("user_input"));
    }
}
