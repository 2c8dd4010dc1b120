//! [`CassandraStore`]: the [`crate::DocumentStore`] on ScyllaDB / Apache
//! Cassandra through the `scylla` driver.
//!
//! - `session.rs`: building the driver session from [`crate::StoreConfig`]
//!   (token-aware load balancing, timeouts, auth, TLS).
//! - `statements.rs`: every statement, prepared once at connect time.
//! - `rows.rs`: bind-value and row structs of the tables.
//! - `guard.rs`: every request goes through the semaphore, the circuit
//!   breaker and the retry loop.
//! - `persist.rs`, `read.rs`, `claim.rs`: the operations.

mod claim;
mod guard;
mod persist;
mod read;
mod rows;
mod session;
mod statements;

use std::sync::Arc;
use std::time::Duration;

use scylla::client::session::Session;
use tokio::sync::Semaphore;

pub use session::connect_session;

use crate::breaker::CircuitBreaker;
use crate::error::StoreError;
use crate::StoreConfig;

/// The Cassandra/ScyllaDB store. Cheap to clone (shared inner state); one per
/// process is the intended use.
#[derive(Clone)]
pub struct CassandraStore {
    inner: Arc<Inner>,
}

struct Inner {
    session: Arc<Session>,
    st: statements::Statements,
    semaphore: Semaphore,
    breaker: CircuitBreaker,
    config: StoreConfig,
}

impl CassandraStore {
    /// Connects to `config.nodes` and prepares every statement against
    /// `config.keyspace` (which must exist: `docflow schema apply`).
    pub async fn connect(config: &StoreConfig) -> Result<Self, StoreError> {
        let session = connect_session(config).await?;
        Self::from_session(Arc::new(session), config).await
    }

    /// Uses an existing session (e.g. the one that just applied the schema).
    pub async fn from_session(session: Arc<Session>, config: &StoreConfig) -> Result<Self, StoreError> {
        config.validate()?;
        let st = statements::Statements::prepare(&session, &config.keyspace).await?;
        let open = Duration::from_millis(config.breaker_open_ms);
        Ok(Self {
            inner: Arc::new(Inner {
                session,
                st,
                semaphore: Semaphore::new(config.max_in_flight),
                breaker: CircuitBreaker::new(
                    config.breaker_failure_threshold,
                    open,
                    Duration::from_millis(config.breaker_max_open_ms),
                    // A probe is one request: it is lost if it takes longer than its timeout.
                    config.request_timeout() * 2,
                ),
                config: config.clone(),
            }),
        })
    }

    /// The driver session (for tools and tests that need raw CQL).
    pub fn session(&self) -> &Arc<Session> {
        &self.inner.session
    }

    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// The breaker's current state (for metrics and `docflow status`).
    pub fn breaker_state(&self) -> crate::breaker::BreakerState {
        self.inner.breaker.state()
    }
}

impl crate::store::DocumentStore for CassandraStore {
    async fn persist(&self, doc: &docflow_schemas::ScoredDocument) -> Result<crate::PersistOutcome, StoreError> {
        self.persist_doc(doc).await
    }

    async fn claim_invoice_number(&self, vendor: &str, invoice_number: &str, doc_id: &str) -> Result<crate::ClaimResult, StoreError> {
        let (v, n) = crate::validate::claim_args(vendor, invoice_number, doc_id)?;
        self.claim_key(&v, &n, doc_id).await
    }

    async fn get(&self, id: &str) -> Result<Option<crate::DocumentView>, StoreError> {
        self.get_view(id).await
    }

    async fn anomalies(
        &self,
        day: chrono::NaiveDate,
        min_score: f64,
        page: &crate::PageRequest,
    ) -> Result<crate::Page<crate::IndexEntry>, StoreError> {
        self.list_anomalies(day, min_score, page).await
    }

    async fn pending_audits(
        &self,
        day: Option<chrono::NaiveDate>,
        page: &crate::PageRequest,
    ) -> Result<crate::Page<crate::IndexEntry>, StoreError> {
        self.list_pending(day, page).await
    }

    async fn resolve_audit(
        &self,
        id: &str,
        verdict: crate::Verdict,
        note: Option<&str>,
        actor: &str,
    ) -> Result<crate::Resolution, StoreError> {
        self.resolve(id, verdict, note, actor).await
    }

    fn is_open(&self) -> bool {
        self.inner.breaker.is_open()
    }

    async fn probe(&self) -> Result<(), StoreError> {
        self.probe_db().await
    }
}
