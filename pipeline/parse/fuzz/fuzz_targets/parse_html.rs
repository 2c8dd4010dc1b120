//! Fuzz target: the HTML parser (html5gum tokenizer + renderer) and the extractor.
#![no_main]

use docflow_parse::{parse_document, ParseLimits};
use docflow_schemas::RawDocument;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    
    let raw = RawDocument { id: "fuzz".into(), content_type: Some("text/html".into()), body: data.to_vec(), metadata: Default::default(), created_at_ms: 0 };
    // Any input: a typed error or an output, never a panic or a hang.
    let _ = parse_document(&raw, &ParseLimits::default());
});
