//! The persist decision as a pure function, shared by the Cassandra and the
//! in-memory store: given the previous state of a document (read before the
//! write) and the new scored record, which rows to put, which index rows to
//! delete, and whether the state changed (→ one audit log entry).
//!
//! Why read-before-write rather than an LWT on the document row: a Paxos
//! round costs four round trips and serialises on the partition; the
//! persist stage already processes one document id in order (the Kafka key
//! is the id, so a document stays on one partition), so a plain read is
//! race-free in the pipeline and a quarter of the cost. The only writer that
//! can race it is an auditor resolving the same document in the same
//! milliseconds as a *changed* replay; identical replays write nothing.

use chrono::{DateTime, NaiveDate};
use docflow_schemas::{AnomalyReason, Priority, ScoredDocument};
use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::model::{ClaimResult, DocStatus, PersistOutcome, Verdict};
use crate::validate::{self, limits};

/// Buckets per day in the `*_by_day` tables (must match the readers; changing
/// it needs a data migration).
pub const BUCKETS: i32 = 16;

/// `anomaly_score` above this opens a pending audit (the contract in
/// `schemas/README.md`; what 0.7 means: `pipeline/score/src/anomaly/calibrate.rs`).
pub const DEFAULT_AUDIT_THRESHOLD: f64 = 0.7;

/// Stable bucket of a document id: FNV-1a 64 (not `DefaultHasher`, whose
/// output may change between Rust releases) modulo [`BUCKETS`].
pub fn bucket_of(id: &str) -> i32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % BUCKETS as u64) as i32
}

/// UTC day of a millisecond timestamp.
pub fn day_of(ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms).map(|t| t.date_naive()).unwrap_or_default()
}

/// Vendor as used in the claim key: trimmed, inner whitespace collapsed, lower case.
pub fn normalize_vendor(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Invoice number as used in the claim key: no whitespace, upper case.
pub fn normalize_invoice_number(n: &str) -> String {
    n.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase()
}

/// The (vendor, invoice number) claim key of a record, if it has both.
pub fn claim_key(doc: &ScoredDocument) -> Option<(String, String)> {
    let f = &doc.embedded.parsed.fields;
    let v = normalize_vendor(f.vendor.as_deref()?);
    let n = normalize_invoice_number(f.invoice_number.as_deref()?);
    (!v.is_empty() && !n.is_empty()).then_some((v, n))
}

/// The state of a stored document that the persist decision needs.
#[derive(Debug, Clone, PartialEq)]
pub struct PrevState {
    pub status: DocStatus,
    pub anomaly_score: f64,
    pub day: NaiveDate,
    pub record_hash: Option<String>,
    pub duplicate_of: Option<String>,
    pub model_version: i64,
}

/// Key of a row in `anomalies_by_day` / `pending_audits_by_day`.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexKey {
    pub day: NaiveDate,
    pub bucket: i32,
    pub score: f64,
    pub id: String,
}

/// A row of `anomalies_by_day` / `pending_audits_by_day`.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexWrite {
    pub key: IndexKey,
    pub class: String,
    pub vendor: Option<String>,
    pub top_reason: Option<String>,
    pub model_version: i64,
    pub opened_at_ms: i64,
}

/// A row of `audit_log`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditWrite {
    pub document_id: String,
    pub event_at_ms: i64,
    pub from: Option<DocStatus>,
    pub to: DocStatus,
    pub actor: String,
    pub note: Option<String>,
    pub score: f64,
    pub model_version: i64,
}

/// A full `documents` row.
#[derive(Debug, Clone, PartialEq)]
pub struct DocWrite {
    pub id: String,
    pub class: String,
    pub class_confidence: f64,
    pub fields_json: String,
    pub vendor: Option<String>,
    pub invoice_number: Option<String>,
    pub anomaly_score: f64,
    pub reasons: Vec<AnomalyReason>,
    pub status: DocStatus,
    pub duplicate_of: Option<String>,
    pub model_version: i64,
    pub encoder_version: String,
    pub content_type: String,
    pub priority: Priority,
    pub day: NaiveDate,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub record_hash: String,
    pub embedding: Option<Vec<u8>>,
}

/// Everything one `persist` writes. Index rows go first, the document row
/// (with its audit entry) last: the document row is the commit marker, so a
/// crash before it leaves the old state and the replay redoes everything.
#[derive(Debug, Clone, PartialEq)]
pub struct WritePlan {
    pub doc: DocWrite,
    pub anomaly_put: Option<IndexWrite>,
    pub anomaly_delete: Option<IndexKey>,
    pub pending_put: Option<IndexWrite>,
    pub pending_delete: Option<IndexKey>,
    pub audit: Option<AuditWrite>,
    pub outcome: PersistOutcome,
}

/// A validated record with what every store computes from it once.
#[derive(Debug, Clone)]
pub struct Checked<'a> {
    pub doc: &'a ScoredDocument,
    pub fields_json: String,
    pub record_hash: String,
    pub day: NaiveDate,
    pub bucket: i32,
    pub claim: Option<(String, String)>,
}

/// Validates `doc` and derives its stored forms; the only fallible step
/// before I/O.
pub fn check(doc: &ScoredDocument) -> Result<Checked<'_>, StoreError> {
    validate::validate_scored(doc)?;
    let p = &doc.embedded.parsed;
    let fields_json = serde_json::to_string(&p.fields).map_err(|e| StoreError::invalid("fields", e.to_string()))?;
    if fields_json.len() > limits::FIELDS_JSON {
        return Err(StoreError::invalid("fields", format!("{} bytes as JSON, at most {}", fields_json.len(), limits::FIELDS_JSON)));
    }
    let record_hash = record_hash(doc, &fields_json);
    Ok(Checked {
        doc,
        fields_json,
        record_hash,
        day: day_of(p.created_at_ms),
        bucket: bucket_of(&p.id),
        claim: claim_key(doc),
    })
}

/// SHA-256 over every stored input field, hex.
fn record_hash(doc: &ScoredDocument, fields_json: &str) -> String {
    let p = &doc.embedded.parsed;
    let mut h = Sha256::new();
    for s in [p.id.as_str(), doc.class.as_str(), fields_json, &doc.embedded.encoder_version, &p.content_type, p.priority.as_str()] {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    h.update(doc.class_confidence.to_bits().to_le_bytes());
    h.update(doc.anomaly_score.to_bits().to_le_bytes());
    h.update(doc.model_version.to_le_bytes());
    h.update(p.created_at_ms.to_le_bytes());
    for r in &doc.anomaly_reasons {
        h.update((r.reason.len() as u64).to_le_bytes());
        h.update(r.reason.as_bytes());
        h.update(r.value.to_bits().to_le_bytes());
        h.update(r.contribution.to_bits().to_le_bytes());
    }
    h.update((doc.embedded.embedding_f32le.len() as u64).to_le_bytes());
    h.update(&doc.embedded.embedding_f32le);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// An identical replay: nothing to write. Returns the outcome to report.
pub fn unchanged(c: &Checked<'_>, prev: Option<&PrevState>, now_ms: i64) -> Option<PersistOutcome> {
    let prev = prev?;
    (prev.record_hash.as_deref() == Some(c.record_hash.as_str())).then(|| PersistOutcome {
        id: c.doc.embedded.parsed.id.clone(),
        status: prev.status,
        previous_status: Some(prev.status),
        duplicate_invoice: prev.duplicate_of.is_some(),
        duplicate_of: prev.duplicate_of.clone(),
        changed: false,
        audit_logged: false,
        persisted_at_ms: now_ms,
    })
}

/// The writes for a new or changed record.
pub fn plan(
    c: &Checked<'_>,
    prev: Option<&PrevState>,
    claim: Option<&ClaimResult>,
    now_ms: i64,
    threshold: f64,
    store_embedding: bool,
) -> WritePlan {
    let doc = c.doc;
    let p = &doc.embedded.parsed;
    let id = p.id.clone();
    let score = doc.anomaly_score;
    let is_anomaly = score > threshold;
    let scored_status = if is_anomaly { DocStatus::PendingAudit } else { DocStatus::Ok };
    // A human verdict is final: a replay never reopens it.
    let status = match prev {
        Some(pr) if pr.status.is_final() => pr.status,
        _ => scored_status,
    };
    let duplicate_of = match claim {
        Some(ClaimResult::AlreadyClaimedBy(other)) if *other != id => Some(other.clone()),
        _ => None,
    };
    let model_version = doc.model_version as i64;
    let key = IndexKey { day: c.day, bucket: c.bucket, score, id: id.clone() };
    let top_reason = doc
        .anomaly_reasons
        .iter()
        .max_by(|a, b| a.contribution.total_cmp(&b.contribution))
        .map(|r| r.reason.clone());
    let index_row = || IndexWrite {
        key: key.clone(),
        class: doc.class.clone(),
        vendor: p.fields.vendor.clone(),
        top_reason: top_reason.clone(),
        model_version,
        opened_at_ms: now_ms,
    };
    let prev_key = prev.map(|pr| IndexKey { day: pr.day, bucket: c.bucket, score: pr.anomaly_score, id: id.clone() });
    let moved = |pk: &IndexKey| pk.day != key.day || pk.score.to_bits() != key.score.to_bits();

    let anomaly_put = is_anomaly.then(index_row);
    let anomaly_delete = match (&prev_key, prev) {
        (Some(pk), Some(pr)) if pr.anomaly_score > threshold && (!is_anomaly || moved(pk)) => Some(pk.clone()),
        _ => None,
    };
    let pending = status == DocStatus::PendingAudit;
    let pending_put = pending.then(index_row);
    let pending_delete = match (&prev_key, prev) {
        (Some(pk), Some(pr)) if pr.status == DocStatus::PendingAudit && (!pending || moved(pk)) => Some(pk.clone()),
        _ => None,
    };
    let previous_status = prev.map(|pr| pr.status);
    let audit = (previous_status != Some(status)).then(|| AuditWrite {
        document_id: id.clone(),
        event_at_ms: now_ms,
        from: previous_status,
        to: status,
        actor: "persist".into(),
        note: None,
        score,
        model_version,
    });
    let outcome = PersistOutcome {
        id: id.clone(),
        status,
        previous_status,
        duplicate_invoice: duplicate_of.is_some(),
        duplicate_of: duplicate_of.clone(),
        changed: true,
        audit_logged: audit.is_some(),
        persisted_at_ms: now_ms,
    };
    let embedding = (store_embedding && !doc.embedded.embedding_f32le.is_empty()).then(|| doc.embedded.embedding_f32le.clone());
    WritePlan {
        doc: DocWrite {
            id,
            class: doc.class.clone(),
            class_confidence: doc.class_confidence,
            fields_json: c.fields_json.clone(),
            vendor: p.fields.vendor.clone(),
            invoice_number: p.fields.invoice_number.clone(),
            anomaly_score: score,
            reasons: doc.anomaly_reasons.clone(),
            status,
            duplicate_of,
            model_version,
            encoder_version: doc.embedded.encoder_version.clone(),
            content_type: p.content_type.clone(),
            priority: p.priority,
            day: c.day,
            created_at_ms: p.created_at_ms,
            updated_at_ms: now_ms,
            record_hash: c.record_hash.clone(),
            embedding,
        },
        anomaly_put,
        anomaly_delete,
        pending_put,
        pending_delete,
        audit,
        outcome,
    }
}

/// What resolving an audit writes.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolutionPlan {
    /// `None` when the verdict was already recorded (nothing to write).
    pub pending_delete: Option<IndexKey>,
    pub audit: Option<AuditWrite>,
    pub status: DocStatus,
    pub changed: bool,
}

/// Decides a resolution: only a pending audit can be resolved; the same
/// verdict again is a no-op; a different verdict on a resolved document is
/// refused (a verdict is final).
pub fn plan_resolution(
    id: &str,
    current: &PrevState,
    verdict: Verdict,
    note: Option<&str>,
    actor: &str,
    now_ms: i64,
) -> Result<ResolutionPlan, StoreError> {
    validate::validate_note(note)?;
    let target = verdict.status();
    match current.status {
        DocStatus::PendingAudit => Ok(ResolutionPlan {
            pending_delete: Some(IndexKey {
                day: current.day,
                bucket: bucket_of(id),
                score: current.anomaly_score,
                id: id.to_owned(),
            }),
            audit: Some(AuditWrite {
                document_id: id.to_owned(),
                event_at_ms: now_ms,
                from: Some(DocStatus::PendingAudit),
                to: target,
                actor: actor.to_owned(),
                note: note.map(str::to_owned),
                score: current.anomaly_score,
                model_version: current.model_version,
            }),
            status: target,
            changed: true,
        }),
        s if s == target => Ok(ResolutionPlan { pending_delete: None, audit: None, status: s, changed: false }),
        s if s.is_final() => Err(StoreError::WrongState {
            id: id.to_owned(),
            status: s.as_str().into(),
            reason: "already resolved with another verdict".into(),
        }),
        s => Err(StoreError::WrongState { id: id.to_owned(), status: s.as_str().into(), reason: "no audit is pending".into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::synthetic_scored;

    fn prev_of(p: &WritePlan) -> PrevState {
        PrevState {
            status: p.doc.status,
            anomaly_score: p.doc.anomaly_score,
            day: p.doc.day,
            record_hash: Some(p.doc.record_hash.clone()),
            duplicate_of: p.doc.duplicate_of.clone(),
            model_version: p.doc.model_version,
        }
    }

    #[test]
    fn bucket_is_stable_and_in_range() {
        assert_eq!(bucket_of("doc-1"), bucket_of("doc-1"));
        // FNV-1a 64 of "" is the offset basis.
        assert_eq!(bucket_of(""), (0xcbf2_9ce4_8422_2325u64 % 16) as i32);
        let mut seen = [false; BUCKETS as usize];
        for i in 0..1000 {
            let b = bucket_of(&format!("doc-{i}"));
            assert!((0..BUCKETS).contains(&b));
            seen[b as usize] = true;
        }
        assert!(seen.iter().all(|s| *s), "1000 ids should hit all buckets");
    }

    #[test]
    fn new_anomaly_writes_index_rows_and_one_audit_entry() {
        let mut d = synthetic_scored("p", 1);
        d.anomaly_score = 0.9;
        let c = check(&d).unwrap();
        let p = plan(&c, None, None, 1, DEFAULT_AUDIT_THRESHOLD, true);
        assert_eq!(p.doc.status, DocStatus::PendingAudit);
        assert!(p.anomaly_put.is_some() && p.pending_put.is_some());
        assert!(p.anomaly_delete.is_none() && p.pending_delete.is_none());
        let a = p.audit.unwrap();
        assert_eq!((a.from, a.to), (None, DocStatus::PendingAudit));
    }

    #[test]
    fn threshold_is_strictly_greater() {
        let mut d = synthetic_scored("p", 2);
        d.anomaly_score = 0.7;
        let c = check(&d).unwrap();
        let p = plan(&c, None, None, 1, DEFAULT_AUDIT_THRESHOLD, true);
        assert_eq!(p.doc.status, DocStatus::Ok);
        assert!(p.anomaly_put.is_none() && p.pending_put.is_none());
    }

    #[test]
    fn identical_replay_is_unchanged() {
        let d = synthetic_scored("p", 3);
        let c = check(&d).unwrap();
        let first = plan(&c, None, None, 1, DEFAULT_AUDIT_THRESHOLD, true);
        let out = unchanged(&check(&d).unwrap(), Some(&prev_of(&first)), 2).unwrap();
        assert!(!out.changed && !out.audit_logged);
        assert_eq!(out.status, first.doc.status);
    }

    #[test]
    fn rescoring_below_threshold_moves_out_of_indexes_and_logs_change() {
        let mut d = synthetic_scored("p", 4);
        d.anomaly_score = 0.95;
        let first = plan(&check(&d).unwrap(), None, None, 1, DEFAULT_AUDIT_THRESHOLD, true);
        d.anomaly_score = 0.2;
        d.model_version += 1;
        let c = check(&d).unwrap();
        assert!(unchanged(&c, Some(&prev_of(&first)), 2).is_none());
        let second = plan(&c, Some(&prev_of(&first)), None, 2, DEFAULT_AUDIT_THRESHOLD, true);
        assert_eq!(second.doc.status, DocStatus::Ok);
        assert_eq!(second.anomaly_delete.as_ref().unwrap().score, 0.95);
        assert_eq!(second.pending_delete.as_ref().unwrap().score, 0.95);
        assert!(second.anomaly_put.is_none() && second.pending_put.is_none());
        let a = second.audit.unwrap();
        assert_eq!((a.from, a.to), (Some(DocStatus::PendingAudit), DocStatus::Ok));
    }

    #[test]
    fn changed_record_with_same_status_logs_nothing() {
        let mut d = synthetic_scored("p", 5);
        d.anomaly_score = 0.1;
        let first = plan(&check(&d).unwrap(), None, None, 1, DEFAULT_AUDIT_THRESHOLD, true);
        d.anomaly_score = 0.2;
        let second = plan(&check(&d).unwrap(), Some(&prev_of(&first)), None, 2, DEFAULT_AUDIT_THRESHOLD, true);
        assert!(second.audit.is_none());
        assert!(second.outcome.changed);
    }

    #[test]
    fn final_verdict_survives_replays() {
        let mut d = synthetic_scored("p", 6);
        d.anomaly_score = 0.9;
        let first = plan(&check(&d).unwrap(), None, None, 1, DEFAULT_AUDIT_THRESHOLD, true);
        let mut prev = prev_of(&first);
        prev.status = DocStatus::AuditedFraud;
        d.model_version += 1;
        let p = plan(&check(&d).unwrap(), Some(&prev), None, 2, DEFAULT_AUDIT_THRESHOLD, true);
        assert_eq!(p.doc.status, DocStatus::AuditedFraud);
        assert!(p.pending_put.is_none() && p.audit.is_none());
    }

    #[test]
    fn claim_by_other_document_marks_duplicate() {
        let d = synthetic_scored("p", 7);
        let c = check(&d).unwrap();
        let p = plan(&c, None, Some(&ClaimResult::AlreadyClaimedBy("other".into())), 1, 0.7, true);
        assert!(p.outcome.duplicate_invoice);
        assert_eq!(p.doc.duplicate_of.as_deref(), Some("other"));
        let own = ClaimResult::AlreadyClaimedBy(d.embedded.parsed.id.clone());
        assert!(!plan(&c, None, Some(&own), 1, 0.7, true).outcome.duplicate_invoice);
    }

    #[test]
    fn resolution_rules() {
        let st = |s| PrevState { status: s, anomaly_score: 0.9, day: day_of(0), record_hash: None, duplicate_of: None, model_version: 3 };
        let r = plan_resolution("d", &st(DocStatus::PendingAudit), Verdict::Fraud, Some("n"), "cli", 5).unwrap();
        assert!(r.changed && r.pending_delete.is_some());
        assert_eq!(r.audit.unwrap().to, DocStatus::AuditedFraud);
        let again = plan_resolution("d", &st(DocStatus::AuditedFraud), Verdict::Fraud, None, "cli", 6).unwrap();
        assert!(!again.changed && again.audit.is_none());
        assert!(matches!(
            plan_resolution("d", &st(DocStatus::AuditedFraud), Verdict::Ok, None, "cli", 6),
            Err(StoreError::WrongState { .. })
        ));
        assert!(matches!(plan_resolution("d", &st(DocStatus::Ok), Verdict::Ok, None, "cli", 6), Err(StoreError::WrongState { .. })));
    }

    #[test]
    fn claim_keys_are_normalised() {
        assert_eq!(normalize_vendor("  ACME   Corp "), "acme corp");
        assert_eq!(normalize_invoice_number(" inv 001 "), "INV001");
    }
}
