//! Malformed input and limits: every limit triggers its typed error, bad
//! input never panics, and errors convert to DLQ-ready `StageError`s.

use docflow_core::{ErrorDomain, RetryHint, StageError};
use docflow_corpus::render::pdf::lines_to_pdf;
use docflow_parse::{parse_document, parse_document_with_deadline, ParseError, ParseLimits};
use docflow_schemas::RawDocument;
use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};

fn raw(ct: Option<&str>, body: Vec<u8>) -> RawDocument {
    RawDocument { id: "t".into(), content_type: ct.map(Into::into), body, metadata: Default::default(), created_at_ms: 0 }
}

fn kind(r: Result<docflow_parse::ParseOutput, ParseError>) -> String {
    match r {
        Ok(o) => format!("ok: {:?}", o.fields),
        Err(e) => e.kind().to_string(),
    }
}

/// A PDF of `pages` pages of text, written by the corpus PDF writer.
fn text_pdf(pages: usize) -> Vec<u8> {
    let lines = vec![vec!["Invoice No: T-1".to_string()], vec!["Total due: 5.00 EUR".to_string()]];
    lines_to_pdf(&lines, pages, None)
}

/// A one-page PDF that only draws a rectangle: no text layer (a scan would look the same).
fn image_only_pdf() -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let ops = vec![
        Operation::new("re", vec![50.into(), 50.into(), 200.into(), 100.into()]),
        Operation::new("f", vec![]),
    ];
    let content_id = doc.add_object(Stream::new(dictionary! {}, Content { operations: ops }.encode().unwrap()));
    let page_id = doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content_id });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[test]
fn document_size_limit() {
    let limits = ParseLimits { max_document_bytes: 100, ..Default::default() };
    let r = parse_document(&raw(Some("text/plain"), vec![b'a'; 101]), &limits);
    assert_eq!(r.unwrap_err(), ParseError::TooLarge { size: 101, limit: 100 });
    assert!(parse_document(&raw(Some("text/plain"), vec![b'a'; 100]), &limits).is_ok());
    assert_eq!(kind(parse_document_with_deadline(&raw(None, vec![b'a'; 101]), &limits)), "too_large");
}

#[test]
fn empty_and_unsupported() {
    assert_eq!(kind(parse_document(&raw(None, vec![]), &ParseLimits::default())), "empty");
    assert_eq!(kind(parse_document(&raw(Some("image/png"), b"\x89PNG".to_vec()), &ParseLimits::default())), "unsupported_content_type");
}

#[test]
fn json_depth_limit_and_syntax() {
    let limits = ParseLimits { max_json_depth: 4, ..Default::default() };
    let ok = br#"{"a":{"b":{"c":["d"]}}}"#.to_vec();
    assert!(parse_document(&raw(Some("application/json"), ok), &limits).is_ok());
    let deep = br#"{"a":{"b":{"c":{"d":["e"]}}}}"#.to_vec();
    assert_eq!(parse_document(&raw(Some("application/json"), deep), &limits).unwrap_err(), ParseError::JsonTooDeep { limit: 4 });
    // A million brackets: rejected at the limit, no stack overflow.
    let bomb = "[".repeat(1_000_000).into_bytes();
    assert_eq!(kind(parse_document(&raw(None, bomb), &ParseLimits::default())), "json_too_deep");
    assert_eq!(kind(parse_document(&raw(Some("application/json"), b"{\"a\": tru".to_vec()), &limits)), "invalid_json");
    assert_eq!(kind(parse_document(&raw(Some("application/json"), b"{} trailing".to_vec()), &limits)), "invalid_json");
}

#[test]
fn extracted_text_limit() {
    let limits = ParseLimits { max_text_bytes: 64, ..Default::default() };
    let r = parse_document(&raw(Some("text/plain"), vec![b'x'; 100]), &limits);
    assert_eq!(r.unwrap_err(), ParseError::TextTooLarge { limit: 64 });
    // The PDF reader stops as soon as the text passes the limit.
    let limits = ParseLimits { max_text_bytes: 10, ..Default::default() };
    assert_eq!(kind(parse_document(&raw(Some("application/pdf"), text_pdf(2)), &limits)), "text_too_large");
}

#[test]
fn pdf_page_limit_and_no_text() {
    let limits = ParseLimits { max_pdf_pages: 3, ..Default::default() };
    assert!(parse_document(&raw(Some("application/pdf"), text_pdf(3)), &limits).is_ok());
    assert_eq!(
        parse_document(&raw(Some("application/pdf"), text_pdf(4)), &limits).unwrap_err(),
        ParseError::PdfTooManyPages { pages: 4, limit: 3 }
    );
    assert_eq!(parse_document(&raw(None, image_only_pdf()), &limits).unwrap_err(), ParseError::PdfNoText { pages: 1 });
}

#[test]
fn broken_pdfs_are_typed_errors_never_panics() {
    let good = text_pdf(2);
    assert_eq!(kind(parse_document(&raw(Some("application/pdf"), b"%PDF-1.4\n garbage".to_vec()), &ParseLimits::default())), "invalid_pdf");
    // Every truncation and a sweep of corrupted bytes: errors or text, never a panic.
    let limits = ParseLimits::default();
    for cut in (0..good.len()).step_by(97) {
        let _ = parse_document(&raw(Some("application/pdf"), good[..cut].to_vec()), &limits);
    }
    for pos in (0..good.len()).step_by(31) {
        let mut b = good.clone();
        b[pos] ^= 0x5a;
        let _ = parse_document_with_deadline(&raw(Some("application/pdf"), b), &limits);
    }
}

#[test]
fn deadline_abandons_slow_pdfs_and_busy_bounds_them() {
    let big = text_pdf(400);
    let limits = ParseLimits { deadline_ms: 1, ..Default::default() };
    let r = parse_document_with_deadline(&raw(Some("application/pdf"), big.clone()), &limits);
    assert_eq!(r.unwrap_err(), ParseError::Deadline { ms: 1 });
    // No abandoned thread allowed: refused with a retryable error.
    let limits = ParseLimits { max_abandoned_pdf_threads: 0, ..Default::default() };
    let e = parse_document_with_deadline(&raw(Some("application/pdf"), big), &limits).unwrap_err();
    assert_eq!(e.kind(), "busy");
    assert!(StageError::from(e).is_retryable());
    // With the default deadline the same kind of document parses.
    assert!(parse_document_with_deadline(&raw(Some("application/pdf"), text_pdf(3)), &ParseLimits::default()).is_ok());
}

#[test]
fn errors_become_dead_letters() {
    let e: StageError = ParseError::PdfNoText { pages: 2 }.into();
    assert_eq!((e.domain, e.retry, e.kind.as_str()), (ErrorDomain::UserInput, RetryHint::Never, "pdf_no_text"));
    assert!(e.message.contains("OCR"));
    let e: StageError = ParseError::Deadline { ms: 5 }.into();
    assert_eq!((e.domain, e.kind.as_str()), (ErrorDomain::UserInput, "deadline"));
}

#[test]
fn malformed_email() {
    let r = parse_document(&raw(Some("message/rfc822"), b"just some words\nwithout headers".to_vec()), &ParseLimits::default());
    assert_eq!(kind(r), "invalid_email");
}

/// Crash input found by `cargo fuzz run parse_sniffed` (pdf-extract 0.10
/// panics at lib.rs:177 on it): the parser must catch it as `invalid_pdf`.
#[test]
fn fuzz_regression_pdf_extract_panic() {
    let body = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fuzz/pdf_extract_panic.pdf")).unwrap();
    let r = parse_document(&raw(None, body.clone()), &ParseLimits::default());
    assert_eq!(kind(r), "invalid_pdf");
    assert_eq!(kind(parse_document_with_deadline(&raw(Some("application/pdf"), body), &ParseLimits::default())), "invalid_pdf");
}

/// The parse stage calls `parse_document_with_deadline` from rayon workers
/// (`par_iter` over a batch). lopdf parses with rayon too: were the PDF
/// thread to use the global pool, every worker would wait for a PDF thread
/// that waits for a free worker, until the deadline. More PDFs than workers
/// must all parse, well before the deadline.
#[test]
fn pdfs_parsed_from_rayon_workers_do_not_deadlock() {
    use rayon::prelude::*;
    let pdf = raw(Some("application/pdf"), text_pdf(2));
    let limits = ParseLimits { deadline_ms: 60_000, ..Default::default() };
    let start = std::time::Instant::now();
    let n = rayon::current_num_threads() * 3;
    let results: Vec<String> = (0..n).into_par_iter().map(|_| kind(parse_document_with_deadline(&pdf, &limits))).collect();
    assert!(results.iter().all(|r| r.starts_with("ok")), "{results:?}");
    assert!(start.elapsed() < std::time::Duration::from_secs(30), "took {:?}", start.elapsed());
}
