//! The one path every request takes: circuit breaker check → semaphore
//! permit (bounded concurrency) → driver call → breaker bookkeeping →
//! bounded retries with jittered exponential backoff for transient
//! failures of idempotent statements.

use std::future::Future;
use std::time::Duration;

use scylla::errors::ExecutionError;
use scylla::response::query_result::QueryResult;
use scylla::serialize::batch::BatchValues;
use scylla::serialize::row::SerializeRow;
use scylla::statement::batch::Batch;
use scylla::statement::prepared::PreparedStatement;

use super::CassandraStore;
use crate::error::{classify_execution, StoreError};
use crate::retry::backoff;

impl CassandraStore {
    async fn guarded<F, Fut>(&self, idempotent: bool, call: F) -> Result<QueryResult, StoreError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<QueryResult, ExecutionError>>,
    {
        let inner = &self.inner;
        let cfg = &inner.config;
        let mut attempt = 0;
        loop {
            let permit = inner.breaker.try_acquire().ok_or(StoreError::CircuitOpen)?;
            let result = {
                let _slot = inner
                    .semaphore
                    .acquire()
                    .await
                    .map_err(|_| StoreError::Unavailable("store is shutting down".into()))?;
                call().await
            };
            let err = match result {
                Ok(r) => {
                    inner.breaker.on_success();
                    return Ok(r);
                }
                Err(e) => classify_execution(e),
            };
            if !err.is_transient() {
                // The database answered (with a rejection): it is up.
                inner.breaker.on_success();
                return Err(err);
            }
            inner.breaker.on_failure(permit);
            if !idempotent || attempt >= cfg.max_retries {
                return Err(err);
            }
            let wait = backoff(attempt, Duration::from_millis(cfg.retry_base_ms), Duration::from_millis(cfg.retry_max_ms));
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, error = %err, "retrying database request");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Executes a prepared statement (single page: every docflow query is
    /// bounded by its key or a LIMIT).
    pub(super) async fn exec(&self, stmt: &PreparedStatement, values: &(impl SerializeRow + Sync)) -> Result<QueryResult, StoreError> {
        let session = &self.inner.session;
        self.guarded(stmt.get_is_idempotent(), || session.execute_unpaged(stmt, values)).await
    }

    /// Executes a single-partition batch.
    pub(super) async fn exec_batch(&self, batch: &Batch, values: &(impl BatchValues + Sync)) -> Result<QueryResult, StoreError> {
        let session = &self.inner.session;
        self.guarded(batch.get_is_idempotent(), || session.batch(batch, values)).await
    }
}
