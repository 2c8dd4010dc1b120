//! [`PersistStage`]: `ScoredDocument` → `ResultRecord` on `docs.results`,
//! produced only after the store acknowledged every write of the document
//! (so "in docs.results" means "durable").
//!
//! Errors: an invalid record → DLQ; a timeout, an unavailable database or an
//! open circuit breaker → retryable (the runtime backs off and retries).
//! The runtime's retries are bounded (`retry.max_attempts`, by default five
//! attempts within about 1.5 s of backoff) and then dead-letter, which during
//! a database outage would empty the topic into the DLQ. So while the
//! store's breaker is open a batch first *waits* (probing) up to
//! `outage_wait_ms` before trying; the input stays uncommitted and the
//! runtime's in-flight bound pauses consumption meanwhile. Only an outage
//! longer than `outage_wait_ms × retry.max_attempts` reaches the DLQ.

use docflow_runtime::{Input, Output, ProcessResult, ShutdownSignal, Stage};
use docflow_schemas::{ResultRecord, ScoredDocument};
use docflow_store::{AnyStore, DocumentStore};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Settings of the persist stage (`[persist]` table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PersistConfig {
    /// Documents of one batch written concurrently.
    pub write_concurrency: usize,
    /// While the store's circuit breaker is open, how long a batch waits
    /// (probing every 500 ms) before it is attempted anyway (ms).
    pub outage_wait_ms: u64,
}

impl Default for PersistConfig {
    fn default() -> Self {
        Self { write_concurrency: 64, outage_wait_ms: 30_000 }
    }
}

/// Counters of the persist stage.
#[derive(Debug, Default)]
pub struct PersistMetrics {
    /// Batches that waited for an open circuit breaker.
    pub outage_waits: AtomicU64,
}

/// The persist stage.
pub struct PersistStage {
    store: AnyStore,
    config: PersistConfig,
    shutdown: ShutdownSignal,
    metrics: Arc<PersistMetrics>,
}

impl PersistStage {
    /// `shutdown` ends an outage wait early so the stage can drain.
    pub fn new(store: AnyStore, config: PersistConfig, shutdown: ShutdownSignal) -> Self {
        Self { store, config, shutdown, metrics: Arc::default() }
    }

    pub fn metrics(&self) -> Arc<PersistMetrics> {
        self.metrics.clone()
    }

    /// Waits while the breaker is open, up to `outage_wait_ms`.
    async fn wait_for_store(&self) {
        if !self.store.is_open() {
            return;
        }
        self.metrics.outage_waits.fetch_add(1, Ordering::Relaxed);
        tracing::warn!("store circuit breaker open: holding the batch until the database answers");
        let max = Duration::from_millis(self.config.outage_wait_ms);
        let outcome = docflow_store::wait_while_open(&self.store, max, self.shutdown.wait()).await;
        tracing::info!(?outcome, "store wait ended");
    }
}

impl Stage for PersistStage {
    type Input = ScoredDocument;
    type Output = ResultRecord;

    fn name(&self) -> &str {
        "persist"
    }

    /// Not ready (`/readyz` 503) while the database circuit breaker is open.
    fn ready(&self) -> Result<(), String> {
        if self.store.is_open() {
            Err("database circuit breaker open".into())
        } else {
            Ok(())
        }
    }

    async fn process(&self, batch: Vec<Input<ScoredDocument>>) -> Vec<ProcessResult<ResultRecord>> {
        self.wait_for_store().await;
        let store = &self.store;
        futures::stream::iter(batch)
            .map(|input| {
                let span = docflow_runtime::step_span!(&input.span, "write");
                async move {
                    let _span = span;
                    let key = input.key_or_empty();
                    let outcome = store.persist(&input.value).await?;
                    Ok(vec![Output::new(key, outcome.result_record(&input.value))])
                }
            })
            .buffered(self.config.write_concurrency.max(1))
            .collect()
            .await
    }
}
