//! `bench_parse`: parsed documents per second on one core (the calling
//! thread), for reporting, not a timed test.

use crate::{parse_document, ParseLimits};
use docflow_schemas::RawDocument;
use std::time::{Duration, Instant};

/// CPU time of the calling thread in seconds (Linux `schedstat`), so the
/// figure is per core even on a busy machine; `None` elsewhere.
pub fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// One benchmark result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchResult {
    pub label: String,
    pub docs: usize,
    pub avg_bytes: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// CPU seconds of the benchmarking thread (wall seconds where unavailable).
    pub cpu_seconds: f64,
    /// Documents per CPU second of one thread: docs/s per core.
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
    let cpu_start = thread_cpu_seconds();
    let mut n = 0usize;
    while start.elapsed() < min_time || n < docs.len() {
        for d in docs {
            std::hint::black_box(parse_document(std::hint::black_box(d), &limits).ok());
            n += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = match (cpu_start, thread_cpu_seconds()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => secs,
    };
    let avg_bytes = docs.iter().map(|d| d.body.len()).sum::<usize>() / docs.len().max(1);
    let label = if errors > 0 { format!("{label} ({errors} of {} failed)", docs.len()) } else { label.to_string() };
    BenchResult { label, docs: n, avg_bytes, seconds: secs, cpu_seconds: cpu, docs_per_sec: n as f64 / cpu }
}
