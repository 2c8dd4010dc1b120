//! [`DocumentStore`]: the storage API every caller uses (persist stage,
//! score stage's duplicate check, CLI, offline mode), implemented by
//! [`crate::CassandraStore`] and [`crate::MemoryStore`]; [`AnyStore`] picks one
//! at run time.

use std::future::Future;

use chrono::NaiveDate;
use docflow_schemas::ScoredDocument;

use crate::error::StoreError;
use crate::model::{ClaimResult, DocumentView, IndexEntry, Page, PageRequest, PersistOutcome, Resolution, Verdict};
use crate::{CassandraStore, MemoryStore};

/// Days `pending_audits(None, ..)` looks back from today (UTC).
pub const PENDING_LOOKBACK_DAYS: u32 = 31;

/// The storage API. All writes are idempotent: calling `persist` again with
/// the same record, or `resolve_audit` with the same verdict, changes nothing.
pub trait DocumentStore: Send + Sync {
    /// Validates and durably writes one scored document: its row, the anomaly
    /// and pending-audit index rows when the score is above the threshold,
    /// the invoice-number claim, and an audit-log entry when its state
    /// changed. Returns only after every write is acknowledged.
    fn persist(&self, doc: &ScoredDocument) -> impl Future<Output = Result<PersistOutcome, StoreError>> + Send;

    /// Claims `(vendor, invoice_number)` for `doc_id`, exactly once across
    /// all concurrent callers; the same document claiming again gets `Claimed`.
    fn claim_invoice_number(
        &self,
        vendor: &str,
        invoice_number: &str,
        doc_id: &str,
    ) -> impl Future<Output = Result<ClaimResult, StoreError>> + Send;

    /// A document with its audit history; `None` if unknown.
    fn get(&self, id: &str) -> impl Future<Output = Result<Option<DocumentView>, StoreError>> + Send;

    /// Anomalies created on `day` with score ≥ `min_score`, highest first.
    fn anomalies(
        &self,
        day: NaiveDate,
        min_score: f64,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Page<IndexEntry>, StoreError>> + Send;

    /// Pending audits of `day`, or of the last [`PENDING_LOOKBACK_DAYS`] days
    /// (newest day first), highest score first within a day.
    fn pending_audits(
        &self,
        day: Option<NaiveDate>,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Page<IndexEntry>, StoreError>> + Send;

    /// Records an auditor's verdict on a pending audit: status, audit log,
    /// audit queue. The returned [`Resolution::feedback`] is what the caller
    /// publishes on `docs.feedback`.
    fn resolve_audit(
        &self,
        id: &str,
        verdict: Verdict,
        note: Option<&str>,
        actor: &str,
    ) -> impl Future<Output = Result<Resolution, StoreError>> + Send;

    /// True while the database is considered down (circuit breaker open):
    /// pause consuming and call [`DocumentStore::probe`] until it is false.
    fn is_open(&self) -> bool;

    /// A cheap request through the circuit breaker; `Ok` once the database answers.
    fn probe(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A store chosen at run time (`--offline` → memory).
#[derive(Clone)]
pub enum AnyStore {
    Cassandra(CassandraStore),
    Memory(std::sync::Arc<MemoryStore>),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Cassandra($s) => $e,
            AnyStore::Memory($s) => $e,
        }
    };
}

impl DocumentStore for AnyStore {
    async fn persist(&self, doc: &ScoredDocument) -> Result<PersistOutcome, StoreError> {
        dispatch!(self, s => s.persist(doc).await)
    }
    async fn claim_invoice_number(&self, vendor: &str, invoice_number: &str, doc_id: &str) -> Result<ClaimResult, StoreError> {
        dispatch!(self, s => s.claim_invoice_number(vendor, invoice_number, doc_id).await)
    }
    async fn get(&self, id: &str) -> Result<Option<DocumentView>, StoreError> {
        dispatch!(self, s => s.get(id).await)
    }
    async fn anomalies(&self, day: NaiveDate, min_score: f64, page: &PageRequest) -> Result<Page<IndexEntry>, StoreError> {
        dispatch!(self, s => s.anomalies(day, min_score, page).await)
    }
    async fn pending_audits(&self, day: Option<NaiveDate>, page: &PageRequest) -> Result<Page<IndexEntry>, StoreError> {
        dispatch!(self, s => s.pending_audits(day, page).await)
    }
    async fn resolve_audit(&self, id: &str, verdict: Verdict, note: Option<&str>, actor: &str) -> Result<Resolution, StoreError> {
        dispatch!(self, s => s.resolve_audit(id, verdict, note, actor).await)
    }
    fn is_open(&self) -> bool {
        dispatch!(self, s => s.is_open())
    }
    async fn probe(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.probe().await)
    }
}
