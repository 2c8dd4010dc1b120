//! `bench_parse`: parsed documents per second on one core (the calling
//! thread), for reporting, not a timed test.

use crate::{parse_document, ParseLimits};
use docflow_schemas::RawDocument;
use std::time::{Duration, Instant};

/// One benchmark result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchResult {
    pub label: String,
    pub docs: usize,
    pub avg_bytes: usize,
    pub seconds: f64,
    pub docs_per_sec: f64,
}

/// Parses `docs` round-robin on the calling thread for at least `min_time`
/// (after one warm-up pass) and reports docs/s. Failed parses count as work
/// done but are reported in `label` so a broken input set is visible.
pub fn bench_parse(label: &str, docs: &[RawDocument], min_time: Duration) -> BenchResult {
    let limits = ParseLimits::default();
    let mut errors = 0usize;
    for d in docs {
        errors += parse_document(d, &limits).is_err() as usize;
    }
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < min_time || n < docs.len() {
        for d in docs {
            std::hint::black_box(parse_document(std::hint::black_box(d), &limits).ok());
            n += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let avg_bytes = docs.iter().map(|d| d.body.len()).sum::<usize>() / docs.len().max(1);
    let label = if errors > 0 { format!("{label} ({errors} of {} failed)", docs.len()) } else { label.to_string() };
    BenchResult { label, docs: n, avg_bytes, seconds: secs, docs_per_sec: n as f64 / secs }
}
