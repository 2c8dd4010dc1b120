//! Fuzz target: the field extractor on arbitrary text, with and without mail hints.
#![no_main]

use docflow_parse::extract_fields;
use docflow_parse::formats::Hints;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = extract_fields(&text, &Hints::default(), None);
    let offset = data.first().map_or(0, |b| *b as usize);
    let hints = Hints { body_offset: offset, subject: Some("s".into()), ..Default::default() };
    let _ = extract_fields(&text, &hints, Some("en-US"));
});
