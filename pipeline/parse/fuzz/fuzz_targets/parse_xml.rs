//! Fuzz target: XML documents (e-invoices: CII, UBL) through `parse_document`,
//! declared as `application/xml`: any input gives fields or a typed error.
#![no_main]

use docflow_parse::{parse_document, ParseLimits};
use docflow_schemas::RawDocument;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let raw = RawDocument {
        id: "fuzz".into(),
        content_type: Some("application/xml".into()),
        body: data.to_vec(),
        metadata: Default::default(),
        created_at_ms: 0,
    };
    let _ = parse_document(&raw, &ParseLimits::default());
});
