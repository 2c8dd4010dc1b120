//! Per-step cost of the field extractor on generated ~2 KiB text invoices:
//! `cargo run --release -p docflow-parse --example extract_profile`.

use docflow_loadtest::corpus::{Corpus, CorpusConfig, Class, DocFormat};
use docflow_parse::extract::*;
use std::time::Instant;
fn main() {
    let cfg = CorpusConfig { seed: 7, classes: vec![Class::Invoice], formats: vec![DocFormat::Text], unlabeled_content_type: 0.0, ..Default::default() };
    let texts: Vec<String> = Corpus::new(cfg).take(64).map(|d| String::from_utf8(d.raw.body).unwrap()).collect();
    let n = 20;
    macro_rules! t { ($name:literal, $e:expr) => {{
        let s = Instant::now();
        for _ in 0..n { for x in &texts { std::hint::black_box($e(x.as_str())); } }
        println!("{:<14} {:>8.1} us/doc", $name, s.elapsed().as_secs_f64() * 1e6 / (n * texts.len()) as f64);
    }}}
    t!("normalize", |x: &str| docflow_parse::formats::normalize(x));
    t!("classify", |x: &str| doctype::classify(x, false, true));
    t!("date", |x: &str| date::document_date(x, None));
    t!("total", |x: &str| total(x));
    t!("currency", |x: &str| currency(x, None));
    t!("inv_no", |x: &str| ident::invoice_number(x));
    t!("vendor", |x: &str| vendor::vendor(x));
    t!("items", |x: &str| items::line_items(x));
    t!("ibans", |x: &str| ident::ibans(x));
    t!("emails", |x: &str| { let mut v = Vec::new(); ident::emails(x, &mut v); v });
    t!("phones", |x: &str| ident::phones(x));
    t!("parties", |x: &str| parties::parties(x));
    t!("subject", |x: &str| ident::subject(x));
    t!("all", |x: &str| extract_fields(x, &Default::default(), None));
}
