//! Regression snapshot for optimisation work: prints the full parse output
//! (text and fields, `Debug`) of generated corpus documents and, when given a
//! fuzz corpus folder, of every input in it, one record per line. Take one
//! before a change and diff it with one after: any difference is a change
//! in behaviour.
//! `cargo run --release -p docflow-parse --example snapshot -- [N] [FUZZ_CORPUS_DIR] > snap.txt`

use docflow_corpus::{Corpus, CorpusConfig};
use docflow_parse::formats::Hints;
use docflow_parse::{extract_fields, parse_document, ParseLimits};
use docflow_schemas::RawDocument;
use std::io::Write;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(4000);
    let fuzz_dir = args.next();
    let limits = ParseLimits::default();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for seed in [20260312u64, 1, 2] {
        for doc in Corpus::new(CorpusConfig { seed, ..Default::default() }).take(n) {
            writeln!(out, "{} {:?}", doc.raw.id, parse_document(&doc.raw, &limits)).unwrap();
        }
    }
    let Some(dir) = fuzz_dir else { return };
    for target in ["extract_fields", "parse_text", "parse_html", "parse_json", "parse_email", "parse_sniffed"] {
        let mut files: Vec<_> = std::fs::read_dir(format!("{dir}/{target}")).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if target == "extract_fields" {
                let text = String::from_utf8_lossy(&data);
                let offset = data.first().map_or(0, |b| *b as usize);
                let hints = Hints { body_offset: offset, subject: Some("s".into()), ..Default::default() };
                writeln!(out, "{target}/{name} {:?} {:?}", extract_fields(&text, &Hints::default(), None), extract_fields(&text, &hints, Some("en-US"))).unwrap();
                continue;
            }
            let ct = match target {
                "parse_text" => Some("text/plain"),
                "parse_html" => Some("text/html"),
                "parse_json" => Some("application/json"),
                "parse_email" => Some("message/rfc822"),
                _ => None,
            };
            let raw = RawDocument { id: name.clone(), content_type: ct.map(str::to_string), body: data, metadata: Default::default(), created_at_ms: 0 };
            writeln!(out, "{target}/{name} {:?}", parse_document(&raw, &limits)).unwrap();
        }
    }
}
