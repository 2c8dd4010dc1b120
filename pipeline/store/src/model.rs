//! The storage layer's own types: document status and audit verdicts, the
//! rows the read side returns, pages, and the outcomes of writes.

use chrono::NaiveDate;
use docflow_schemas::{AnomalyReason, BusinessFields, Feedback, Priority, ResultRecord, ScoredDocument};
use serde::Serialize;

use crate::error::StoreError;

/// Lifecycle of a document: the status `docs.results` carries, stored as
/// its [`DocStatus::as_str`] name.
pub use docflow_schemas::ResultStatus as DocStatus;

/// Parses a stored status name; unknown names are an error, never a default.
pub fn parse_status(s: &str) -> Result<DocStatus, StoreError> {
    DocStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown document status {s:?}")))
}

/// An auditor's verdict on a pending audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing wrong: the anomaly was a false alarm.
    Ok,
    /// Confirmed fraud.
    Fraud,
    /// The pipeline got the document wrong (extraction or class).
    Error,
}

impl Verdict {
    /// The status a document takes on this verdict.
    pub const fn status(self) -> DocStatus {
        match self {
            Verdict::Ok => DocStatus::AuditedOk,
            Verdict::Fraud => DocStatus::AuditedFraud,
            Verdict::Error => DocStatus::AuditedError,
        }
    }

    /// The anomaly label the learn stage receives: fraud is an anomaly, ok is
    /// not; a processing error says nothing about the document itself.
    pub const fn is_anomaly(self) -> Option<bool> {
        match self {
            Verdict::Ok => Some(false),
            Verdict::Fraud => Some(true),
            Verdict::Error => None,
        }
    }
}

/// A document row as stored (Q1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentRow {
    pub id: String,
    pub class: String,
    pub class_confidence: f64,
    pub fields: BusinessFields,
    pub anomaly_score: f64,
    pub reasons: Vec<AnomalyReason>,
    pub status: DocStatus,
    /// The document that first claimed this vendor's invoice number, when not this one.
    pub duplicate_of: Option<String>,
    pub model_version: u64,
    pub encoder_version: String,
    pub content_type: String,
    pub priority: Priority,
    /// UTC day of `created_at_ms`: the partition day of its index rows.
    pub day: NaiveDate,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Little-endian f32 embedding, when stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding_f32le: Option<Vec<u8>>,
}

/// One state change of a document (Q5).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub at_ms: i64,
    /// `None` when the document was first persisted.
    pub from_status: Option<DocStatus>,
    pub to_status: DocStatus,
    /// `persist` for the pipeline, `cli` (or a user name) for an auditor.
    pub actor: String,
    pub note: Option<String>,
    pub anomaly_score: f64,
    pub model_version: u64,
}

/// A document with its audit history, oldest event first (`docflow get ID`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentView {
    pub document: DocumentRow,
    pub history: Vec<AuditEvent>,
}

/// One row of the anomaly index or the audit queue (Q2, Q3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexEntry {
    pub day: NaiveDate,
    pub id: String,
    pub anomaly_score: f64,
    pub class: String,
    pub vendor: Option<String>,
    /// The reason with the largest contribution.
    pub top_reason: Option<String>,
    pub model_version: u64,
}

/// Which page to read: at most `limit` entries after the opaque `cursor`
/// returned with the previous page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PageRequest {
    pub limit: usize,
    pub cursor: Option<String>,
}

impl PageRequest {
    /// Largest page a caller may ask for.
    pub const MAX_LIMIT: usize = 1000;

    pub fn first(limit: usize) -> Self {
        Self { limit, cursor: None }
    }

    pub(crate) fn checked_limit(&self) -> Result<usize, StoreError> {
        if self.limit == 0 || self.limit > Self::MAX_LIMIT {
            return Err(StoreError::invalid("limit", format!("must be in 1..={}, got {}", Self::MAX_LIMIT, self.limit)));
        }
        Ok(self.limit)
    }
}

/// A page of results and the cursor of the next page (`None`: no more).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Result of claiming a vendor's invoice number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ClaimResult {
    /// This document holds the claim (first claim, or the same document again).
    Claimed,
    /// Another document claimed it first.
    AlreadyClaimedBy(String),
}

/// What `persist` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersistOutcome {
    pub id: String,
    /// Status after the write.
    pub status: DocStatus,
    /// Status before, `None` for a new document.
    pub previous_status: Option<DocStatus>,
    /// Another document claimed the same vendor + invoice number first.
    pub duplicate_invoice: bool,
    /// That document's id.
    pub duplicate_of: Option<String>,
    /// `false` when the record was an identical replay and nothing was written.
    pub changed: bool,
    /// An audit log entry was written (the state changed).
    pub audit_logged: bool,
    /// When the write was acknowledged (ms since epoch).
    pub persisted_at_ms: i64,
}

impl PersistOutcome {
    /// The `docs.results` record for this document: publish it only after
    /// `persist` returned, so "in docs.results" means "durable".
    pub fn result_record(&self, doc: &ScoredDocument) -> ResultRecord {
        let mut reasons = doc.anomaly_reasons.clone();
        if self.duplicate_invoice && !reasons.iter().any(|r| r.reason == "duplicate_invoice_number") {
            // The store is the exactly-once arbiter of duplicates; make the
            // finding visible downstream even when the score stage missed it.
            reasons.push(AnomalyReason { reason: "duplicate_invoice_number".into(), value: 1.0, contribution: 0.0, evidence: None });
        }
        ResultRecord {
            id: doc.embedded.parsed.id.clone(),
            class: doc.class.clone(),
            class_confidence: doc.class_confidence,
            fields: doc.embedded.parsed.fields.clone(),
            anomaly_score: doc.anomaly_score,
            anomaly_reasons: reasons,
            status: self.status,
            model_version: doc.model_version,
            created_at_ms: doc.embedded.parsed.created_at_ms,
            persisted_at_ms: self.persisted_at_ms,
        }
    }
}

/// What `resolve_audit` did, and the feedback the caller publishes on
/// `docs.feedback` so the learn stage improves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolution {
    pub id: String,
    pub previous_status: DocStatus,
    pub status: DocStatus,
    /// `false` when the same verdict had already been recorded (idempotent).
    pub changed: bool,
    #[serde(skip)]
    pub feedback: Feedback,
}
