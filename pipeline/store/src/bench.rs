//! The persist benchmark (`cargo run --release -p docflow-store --example
//! persist_bench`, or `docflow bench persist`: [`bench_database`]) and
//! [`synthetic_scored`], the deterministic scored documents the tests and the
//! benchmark persist.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use docflow_schemas::{AnomalyReason, BusinessFields, EmbeddedDocument, LineItem, ParsedDocument, ScoredDocument};
use futures::StreamExt;
use rust_decimal::Decimal;

use crate::error::StoreError;
use crate::schema::{apply_schema, Replication};
use crate::store::DocumentStore;
use crate::{connect_session, CassandraStore, StoreConfig};

/// Creation time shared by every synthetic document of this process, so a
/// document generated twice is identical (replays must be byte-equal).
fn base_ms() -> i64 {
    static BASE: OnceLock<i64> = OnceLock::new();
    *BASE.get_or_init(crate::now_ms)
}

/// SplitMix64: a deterministic pseudo-random stream from `i`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d4_9bb1_1331_11eb);
    x ^ (x >> 31)
}

fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Scored document number `i` of run `run`: about a quarter score above 0.7;
/// two thirds are invoices with a vendor and an invoice number unique to
/// (`run`, `i`); a 384-dim embedding. Same inputs → same document.
pub fn synthetic_scored(run: &str, i: u64) -> ScoredDocument {
    let r = mix(i ^ 0x5eed);
    let anomalous = r.is_multiple_of(4);
    let score = if anomalous { 0.7 + 0.3 * unit(mix(r)).max(1e-9) } else { 0.7 * unit(mix(r)) };
    let invoice = i % 3 != 2;
    let total = Decimal::new(((r >> 8) % 1_000_000) as i64 + 100, 2);
    let fields = if invoice {
        BusinessFields {
            doc_type_hint: Some("invoice".into()),
            vendor: Some(format!("Vendor {}", i % 97)),
            invoice_number: Some(format!("INV-{run}-{i}")),
            date: Some("2026-01-15".into()),
            total: Some(total),
            currency: Some("EUR".into()),
            line_items: vec![LineItem { description: "consulting".into(), quantity: None, unit_price: None, amount: Some(total) }],
            ..Default::default()
        }
    } else {
        BusinessFields { doc_type_hint: Some("email".into()), subject: Some(format!("message {i}")), ..Default::default() }
    };
    let embedding: Vec<f32> = (0..384u64).map(|k| (unit(mix(r ^ k)) as f32 - 0.5) / 10.0).collect();
    let reasons = if anomalous {
        vec![
            AnomalyReason { reason: "amount_outlier".into(), value: 4.2, contribution: 0.6, evidence: None },
            AnomalyReason { reason: "unusual_for_class".into(), value: 0.8, contribution: 0.3, evidence: None },
        ]
    } else {
        vec![AnomalyReason { reason: "unusual_for_class".into(), value: 0.1, contribution: 0.05, evidence: None }]
    };
    ScoredDocument {
        embedded: EmbeddedDocument {
            parsed: ParsedDocument {
                id: format!("{run}-{i:08}"),
                content_type: "text/plain".into(),
                text: String::new(),
                fields,
                warnings: vec![],
                created_at_ms: base_ms(),
                priority: docflow_schemas::Priority::ALL[(r % 4) as usize],
                locale: None,
            },
            embedding_f32le: docflow_schemas::embedding_to_bytes(&embedding),
            encoder_version: "all-MiniLM-L6-v2@bench".into(),
        },
        class: if invoice { "invoice".into() } else { "email".into() },
        class_confidence: 0.5 + 0.5 * unit(mix(r ^ 7)),
        anomaly_score: score.min(1.0),
        anomaly_reasons: reasons,
        model_version: 1,
    }
}

/// Result of [`run_bench`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    pub documents: u64,
    pub concurrency: usize,
    pub seconds: f64,
    pub docs_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub changed: u64,
    pub errors: u64,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} documents in {:.2}s = {:.0} docs/s (concurrency {}); persist latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} written, {} errors",
            self.documents, self.seconds, self.docs_per_second, self.concurrency, self.p50_ms, self.p99_ms, self.max_ms, self.changed, self.errors
        )
    }
}

/// Persists `n` synthetic documents of run `run` with `concurrency` persists
/// in flight, recording each persist's latency (hdrhistogram, µs).
/// `invoice_claims: false` strips invoice numbers, so no document takes the
/// LWT path (to measure what the claims cost).
pub async fn run_bench<S: DocumentStore>(
    store: &S,
    run: &str,
    n: u64,
    concurrency: usize,
    invoice_claims: bool,
) -> Result<BenchReport, StoreError> {
    let mut hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .map_err(|e| StoreError::Config(format!("histogram: {e}")))?;
    let docs: Vec<ScoredDocument> = (0..n)
        .map(|i| {
            let mut d = synthetic_scored(run, i);
            if !invoice_claims {
                d.embedded.parsed.fields.invoice_number = None;
            }
            d
        })
        .collect();
    let started = Instant::now();
    let mut results = futures::stream::iter(docs.iter())
        .map(|d| async move {
            let t = Instant::now();
            let r = store.persist(d).await;
            (r, t.elapsed())
        })
        .buffer_unordered(concurrency.max(1));
    let (mut changed, mut errors) = (0, 0);
    let mut first_error = None;
    while let Some((r, took)) = results.next().await {
        hist.record(took.as_micros().max(1) as u64).ok();
        match r {
            Ok(o) => changed += u64::from(o.changed),
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    if let Some(e) = first_error.filter(|_| errors == n) {
        return Err(e);
    }
    let ms = |us: u64| Duration::from_micros(us).as_secs_f64() * 1e3;
    Ok(BenchReport {
        documents: n,
        concurrency,
        seconds: secs,
        docs_per_second: n as f64 / secs,
        p50_ms: ms(hist.value_at_quantile(0.50)),
        p99_ms: ms(hist.value_at_quantile(0.99)),
        max_ms: ms(hist.max()),
        changed,
        errors,
    })
}

/// What [`bench_database`] measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistBench {
    /// Documents to persist.
    pub documents: u64,
    /// Persists in flight.
    pub concurrency: usize,
    /// Apply the schema to the keyspace first (replication simple:1).
    pub apply_schema: bool,
    /// Keep the invoice numbers (`false`: no document takes the LWT claim path).
    pub invoice_claims: bool,
}

/// [`run_bench`] on the database `config` names, under a fresh run id (so
/// every document is new). The connection admits twice `concurrency`
/// requests in flight, so the client is never the bottleneck.
pub async fn bench_database(config: &StoreConfig, settings: &PersistBench) -> Result<BenchReport, StoreError> {
    let cfg = StoreConfig { max_in_flight: settings.concurrency.max(1) * 2, ..config.clone() };
    let session = std::sync::Arc::new(connect_session(&cfg).await?);
    if settings.apply_schema {
        apply_schema(&session, &cfg.keyspace, &Replication::local()).await?;
    }
    let store = CassandraStore::from_session(session, &cfg).await?;
    let run = format!("bench{}", crate::now_ms());
    run_bench(&store, &run, settings.documents, settings.concurrency, settings.invoice_claims).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_documents_are_deterministic_and_mixed() {
        assert_eq!(synthetic_scored("a", 5), synthetic_scored("a", 5));
        let docs: Vec<_> = (0..2000).map(|i| synthetic_scored("a", i)).collect();
        let high = docs.iter().filter(|d| d.anomaly_score > 0.7).count();
        assert!((400..600).contains(&high), "{high} anomalies of 2000");
        assert!(docs.iter().all(|d| (0.0..=1.0).contains(&d.anomaly_score)));
    }

    #[tokio::test]
    async fn bench_runs_against_memory_store() {
        let s = crate::MemoryStore::default();
        let r = run_bench(&s, "b", 300, 16, true).await.unwrap();
        assert_eq!((r.documents, r.changed, r.errors), (300, 300, 0));
        assert!(r.p99_ms >= r.p50_ms);
    }
}
