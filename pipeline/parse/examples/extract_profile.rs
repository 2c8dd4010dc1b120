//! Per-step cost of parsing and field extraction on the ~2 KiB invoices of
//! `parse_bench` (one thread):
//! `cargo run --release -p docflow-parse --example extract_profile [-- text|html|json]`.

use docflow_corpus::{Class, Corpus, CorpusConfig, DocFormat};
use docflow_parse::extract::*;
use docflow_parse::formats::{self, Hints};

fn main() {
    let format = match std::env::args().nth(1).as_deref() {
        Some("html") => DocFormat::Html,
        Some("json") => DocFormat::Json,
        _ => DocFormat::Text,
    };
    let cfg = CorpusConfig { seed: 7, classes: vec![Class::Invoice], formats: vec![format], unlabeled_content_type: 0.0, ..Default::default() };
    // Padded to ~2 KiB with a notes paragraph, as in `parse_bench`.
    let note = "Notes: goods remain our property until paid in full; please quote the invoice number with every payment. ";
    let bodies: Vec<Vec<u8>> = Corpus::new(cfg)
        .take(64)
        .map(|d| {
            let mut body = d.raw.body;
            while body.len() < 2048 - note.len() {
                match format {
                    DocFormat::Json => {
                        body.pop(); // closing brace
                        body.extend_from_slice(format!(",\"note{}\":\"{note}\"}}", body.len()).as_bytes());
                    }
                    DocFormat::Html => {
                        let at = body.len() - "</body></html>\n".len();
                        body.splice(at..at, format!("<p>{note}</p>").into_bytes());
                    }
                    _ => body.extend_from_slice(note.as_bytes()),
                }
            }
            body
        })
        .collect();
    // Rounds over the 64 documents (`EXTRACT_PROFILE_N`, default 40); more
    // give finer figures where the thread CPU clock ticks coarsely.
    let n: usize = std::env::var("EXTRACT_PROFILE_N").ok().and_then(|s| s.parse().ok()).unwrap_or(40);
    // Thread CPU time, so a busy machine does not inflate the figures.
    let cpu = || docflow_parse::bench::thread_cpu_seconds().expect("Linux schedstat");
    let per_doc = |s: f64| (cpu() - s) * 1e6 / (n * bodies.len()) as f64;
    let s = cpu();
    let mut texts = Vec::new();
    for i in 0..n {
        for b in &bodies {
            let ex = match format {
                DocFormat::Html => formats::html::parse(b),
                DocFormat::Json => formats::json::parse(b, 64).expect("json"),
                _ => formats::text::parse(b),
            };
            if i == 0 {
                texts.push(ex.text);
            }
        }
    }
    println!("{:<14} {:>8.1} us/doc ({format:?}, {} bytes avg)", "format parse", per_doc(s), bodies.iter().map(Vec::len).sum::<usize>() / bodies.len());
    if format == DocFormat::Html {
        // The floor under the HTML renderer: html5gum with an emitter that
        // keeps tag names only (for the raw-text states) and asks for no errors.
        let s = cpu();
        for _ in 0..n {
            for b in &bodies {
                let html = std::str::from_utf8(b).expect("UTF-8");
                for t in html5gum::Tokenizer::new_with_emitter(html, TagNamesOnly::default()) {
                    let Ok(()) = t;
                }
            }
        }
        println!("{:<14} {:>8.1} us/doc", "tokenise only", per_doc(s));
    }
    // Each step on a pre-folded text; `fold+scan` is the shared lower-casing and keyword scan.
    let bufs: Vec<FoldedBuf> = texts.iter().map(|t| FoldedBuf::new(t)).collect();
    macro_rules! t { ($name:literal, $e:expr) => {{
        let s = cpu();
        for _ in 0..n { for (x, b) in texts.iter().zip(&bufs) { std::hint::black_box($e(b.get(x))); } }
        println!("{:<14} {:>8.1} us/doc", $name, per_doc(s));
    }}}
    t!("normalize", |x: Folded| formats::normalize(x.text));
    t!("fold+scan", |x: Folded| FoldedBuf::new(x.text));
    t!("classify", |x: Folded| doctype::classify(x, false, true, None));
    t!("date", |x: Folded| date::document_date(x, None));
    t!("total", |x: Folded| total(x));
    t!("currency", |x: Folded| currency(x, None));
    t!("inv_no", |x: Folded| ident::invoice_number(x));
    t!("vendor", |x: Folded| vendor::vendor(x));
    t!("items", |x: Folded| items::line_items(x));
    t!("ibans", |x: Folded| ident::ibans(x.text));
    t!("emails", |x: Folded| { let mut v = Vec::new(); ident::emails(x.text, &mut v); v });
    t!("phones", |x: Folded| ident::phones(x));
    t!("parties", |x: Folded| parties::parties(x));
    t!("subject", |x: Folded| ident::subject(x));
    t!("all", |x: Folded| extract_fields(x.text, &Hints::default(), None));
}

/// A no-op html5gum emitter but for tag names (the floor under the renderer).
#[derive(Default)]
struct TagNamesOnly {
    name: Vec<u8>,
    last: Vec<u8>,
    end: bool,
}

impl html5gum::Emitter for TagNamesOnly {
    type Token = ();
    fn set_last_start_tag(&mut self, l: Option<&[u8]>) {
        self.last.clear();
        self.last.extend(l.unwrap_or_default());
    }
    fn emit_eof(&mut self) {}
    fn emit_error(&mut self, _: html5gum::Error) {}
    fn should_emit_errors(&mut self) -> bool {
        false
    }
    fn pop_token(&mut self) -> Option<()> {
        None
    }
    fn emit_string(&mut self, c: &[u8]) {
        std::hint::black_box(c);
    }
    fn init_start_tag(&mut self) {
        self.name.clear();
        self.end = false;
    }
    fn init_end_tag(&mut self) {
        self.name.clear();
        self.end = true;
    }
    fn init_comment(&mut self) {}
    fn emit_current_tag(&mut self) -> Option<html5gum::State> {
        if self.end {
            self.last.clear();
            None
        } else {
            std::mem::swap(&mut self.last, &mut self.name);
            html5gum::naive_next_state(&self.last)
        }
    }
    fn emit_current_comment(&mut self) {}
    fn emit_current_doctype(&mut self) {}
    fn set_self_closing(&mut self) {}
    fn set_force_quirks(&mut self) {}
    fn push_tag_name(&mut self, s: &[u8]) {
        self.name.extend_from_slice(s);
    }
    fn push_comment(&mut self, _: &[u8]) {}
    fn push_doctype_name(&mut self, _: &[u8]) {}
    fn init_doctype(&mut self) {}
    fn init_attribute(&mut self) {}
    fn push_attribute_name(&mut self, _: &[u8]) {}
    fn push_attribute_value(&mut self, _: &[u8]) {}
    fn set_doctype_public_identifier(&mut self, _: &[u8]) {}
    fn set_doctype_system_identifier(&mut self, _: &[u8]) {}
    fn push_doctype_public_identifier(&mut self, _: &[u8]) {}
    fn push_doctype_system_identifier(&mut self, _: &[u8]) {}
    fn current_is_appropriate_end_tag_token(&mut self) -> bool {
        self.end && !self.last.is_empty() && self.last == self.name
    }
}
