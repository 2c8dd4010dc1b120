//! Fuzz target: content sniffing, then whichever parser it picks. As in
//! `parse_pdf`, panics inside the PDF crates are caught by the parser, so
//! libfuzzer's abort-on-panic hook is replaced by the default one.
#![no_main]

use docflow_parse::{parse_document, ParseLimits};
use docflow_schemas::RawDocument;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| drop(std::panic::take_hook()));
    let raw = RawDocument { id: "fuzz".into(), content_type: None, body: data.to_vec(), metadata: Default::default(), created_at_ms: 0 };
    // Any input: a typed error or an output, never a panic or a hang.
    let _ = parse_document(&raw, &ParseLimits::default());
});
