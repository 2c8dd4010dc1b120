//! Bind values and result rows of docflow's tables, matched to columns by
//! name (the driver's derive macros), so a column order change cannot
//! silently swap values.

use chrono::NaiveDate;
use docflow_schemas::{AnomalyReason, Priority};
use scylla::value::{CqlTimestamp, MaybeUnset};
use scylla::{DeserializeRow, DeserializeValue, SerializeRow, SerializeValue};

use crate::error::StoreError;
use crate::model::{parse_status, DocStatus};
use crate::plan::{AuditWrite, DocWrite, IndexKey, IndexWrite};

/// The `anomaly_reason` UDT.
#[derive(Debug, Clone, PartialEq, SerializeValue, DeserializeValue)]
pub struct ReasonUdt {
    pub reason: String,
    pub measured: f64,
    pub contribution: f64,
}

/// A nullable column: on the first insert of a row an absent value is left
/// unset (no tombstone); on an overwrite it is written as null so a value
/// that disappeared is cleared.
fn nullable<T>(v: Option<T>, overwrite: bool) -> MaybeUnset<Option<T>> {
    match (v, overwrite) {
        (None, false) => MaybeUnset::Unset,
        (v, _) => MaybeUnset::Set(v),
    }
}

#[derive(SerializeRow)]
pub struct DocValues {
    id: String,
    class: String,
    class_confidence: f64,
    fields_json: String,
    vendor: MaybeUnset<Option<String>>,
    invoice_number: MaybeUnset<Option<String>>,
    anomaly_score: f64,
    reasons: Vec<ReasonUdt>,
    status: &'static str,
    duplicate_of: MaybeUnset<Option<String>>,
    model_version: i64,
    encoder_version: String,
    content_type: String,
    priority: &'static str,
    day: NaiveDate,
    created_at: CqlTimestamp,
    updated_at: CqlTimestamp,
    record_hash: String,
    embedding: MaybeUnset<Option<Vec<u8>>>,
}

impl DocValues {
    pub fn new(d: &DocWrite, overwrite: bool) -> Self {
        Self {
            id: d.id.clone(),
            class: d.class.clone(),
            class_confidence: d.class_confidence,
            fields_json: d.fields_json.clone(),
            vendor: nullable(d.vendor.clone(), overwrite),
            invoice_number: nullable(d.invoice_number.clone(), overwrite),
            anomaly_score: d.anomaly_score,
            reasons: d
                .reasons
                .iter()
                .map(|r| ReasonUdt { reason: r.reason.clone(), measured: r.value, contribution: r.contribution })
                .collect(),
            status: d.status.as_str(),
            duplicate_of: nullable(d.duplicate_of.clone(), overwrite),
            model_version: d.model_version,
            encoder_version: d.encoder_version.clone(),
            content_type: d.content_type.clone(),
            priority: d.priority.as_str(),
            day: d.day,
            created_at: CqlTimestamp(d.created_at_ms),
            updated_at: CqlTimestamp(d.updated_at_ms),
            record_hash: d.record_hash.clone(),
            embedding: nullable(d.embedding.clone(), overwrite),
        }
    }
}

#[derive(SerializeRow)]
pub struct AuditValues {
    document_id: String,
    event_at: CqlTimestamp,
    to_status: &'static str,
    from_status: MaybeUnset<Option<&'static str>>,
    actor: String,
    note: MaybeUnset<Option<String>>,
    anomaly_score: f64,
    model_version: i64,
}

impl AuditValues {
    pub fn new(a: &AuditWrite) -> Self {
        Self {
            document_id: a.document_id.clone(),
            event_at: CqlTimestamp(a.event_at_ms),
            to_status: a.to.as_str(),
            // Audit rows are only ever inserted: absent values stay unset (no tombstones).
            from_status: nullable(a.from.map(DocStatus::as_str), false),
            actor: a.actor.clone(),
            note: nullable(a.note.clone(), false),
            anomaly_score: a.score,
            model_version: a.model_version,
        }
    }
}

#[derive(SerializeRow)]
pub struct IndexValues {
    day: NaiveDate,
    bucket: i32,
    anomaly_score: f64,
    id: String,
    class: String,
    vendor: MaybeUnset<Option<String>>,
    top_reason: MaybeUnset<Option<String>>,
    model_version: i64,
}

impl IndexValues {
    /// `overwrite`: the document existed before, so its index row may too.
    pub fn new(w: &IndexWrite, overwrite: bool) -> Self {
        Self {
            day: w.key.day,
            bucket: w.key.bucket,
            anomaly_score: w.key.score,
            id: w.key.id.clone(),
            class: w.class.clone(),
            vendor: nullable(w.vendor.clone(), overwrite),
            top_reason: nullable(w.top_reason.clone(), overwrite),
            model_version: w.model_version,
        }
    }
}

#[derive(SerializeRow)]
pub struct PendingValues {
    day: NaiveDate,
    bucket: i32,
    anomaly_score: f64,
    id: String,
    class: String,
    vendor: MaybeUnset<Option<String>>,
    top_reason: MaybeUnset<Option<String>>,
    model_version: i64,
    opened_at: CqlTimestamp,
}

impl PendingValues {
    /// `overwrite`: the document existed before, so its queue row may too.
    pub fn new(w: &IndexWrite, overwrite: bool) -> Self {
        Self {
            day: w.key.day,
            bucket: w.key.bucket,
            anomaly_score: w.key.score,
            id: w.key.id.clone(),
            class: w.class.clone(),
            vendor: nullable(w.vendor.clone(), overwrite),
            top_reason: nullable(w.top_reason.clone(), overwrite),
            model_version: w.model_version,
            opened_at: CqlTimestamp(w.opened_at_ms),
        }
    }
}

#[derive(SerializeRow)]
pub struct KeyValues {
    day: NaiveDate,
    bucket: i32,
    anomaly_score: f64,
    id: String,
}

impl KeyValues {
    pub fn new(k: &IndexKey) -> Self {
        Self { day: k.day, bucket: k.bucket, anomaly_score: k.score, id: k.id.clone() }
    }
}

/// `SELECT status, anomaly_score, day, record_hash, duplicate_of, model_version`.
#[derive(DeserializeRow)]
pub struct PrevRow {
    pub status: Option<String>,
    pub anomaly_score: Option<f64>,
    pub day: Option<NaiveDate>,
    pub record_hash: Option<String>,
    pub duplicate_of: Option<String>,
    pub model_version: Option<i64>,
}

impl PrevRow {
    pub fn into_state(self, id: &str) -> Result<crate::plan::PrevState, StoreError> {
        let missing = |c: &str| StoreError::Corrupt(format!("documents.{c} is null for {id}"));
        Ok(crate::plan::PrevState {
            status: parse_status(self.status.as_deref().ok_or_else(|| missing("status"))?)?,
            anomaly_score: self.anomaly_score.ok_or_else(|| missing("anomaly_score"))?,
            day: self.day.ok_or_else(|| missing("day"))?,
            record_hash: self.record_hash,
            duplicate_of: self.duplicate_of,
            model_version: self.model_version.unwrap_or(0),
        })
    }
}

/// A whole `documents` row.
#[derive(DeserializeRow)]
pub struct DocRow {
    pub id: String,
    pub class: Option<String>,
    pub class_confidence: Option<f64>,
    pub fields_json: Option<String>,
    pub vendor: Option<String>,
    pub invoice_number: Option<String>,
    pub anomaly_score: Option<f64>,
    pub reasons: Option<Vec<ReasonUdt>>,
    pub status: Option<String>,
    pub duplicate_of: Option<String>,
    pub model_version: Option<i64>,
    pub encoder_version: Option<String>,
    pub content_type: Option<String>,
    pub priority: Option<String>,
    pub day: Option<NaiveDate>,
    pub created_at: Option<CqlTimestamp>,
    pub updated_at: Option<CqlTimestamp>,
    pub record_hash: Option<String>,
    pub embedding: Option<Vec<u8>>,
}

impl DocRow {
    pub fn into_write(self) -> Result<DocWrite, StoreError> {
        let id = self.id;
        let missing = |c: &str| StoreError::Corrupt(format!("documents.{c} is null for {id}"));
        Ok(DocWrite {
            class: self.class.ok_or_else(|| missing("class"))?,
            class_confidence: self.class_confidence.unwrap_or(0.0),
            fields_json: self.fields_json.unwrap_or_else(|| "{}".into()),
            vendor: self.vendor,
            invoice_number: self.invoice_number,
            anomaly_score: self.anomaly_score.ok_or_else(|| missing("anomaly_score"))?,
            reasons: self
                .reasons
                .unwrap_or_default()
                .into_iter()
                .map(|r| AnomalyReason { reason: r.reason, value: r.measured, contribution: r.contribution, evidence: None })
                .collect(),
            status: parse_status(self.status.as_deref().ok_or_else(|| missing("status"))?)?,
            duplicate_of: self.duplicate_of,
            model_version: self.model_version.unwrap_or(0),
            encoder_version: self.encoder_version.unwrap_or_default(),
            content_type: self.content_type.unwrap_or_default(),
            priority: {
                let lane = self.priority.ok_or_else(|| missing("priority"))?;
                Priority::parse(&lane).ok_or_else(|| StoreError::Corrupt(format!("documents.priority of {id}: unknown lane {lane:?}")))?
            },
            day: self.day.ok_or_else(|| missing("day"))?,
            created_at_ms: self.created_at.map_or(0, |t| t.0),
            updated_at_ms: self.updated_at.map_or(0, |t| t.0),
            record_hash: self.record_hash.unwrap_or_default(),
            embedding: self.embedding,
            id,
        })
    }
}

/// An `audit_log` row.
#[derive(DeserializeRow)]
pub struct AuditRow {
    pub event_at: CqlTimestamp,
    pub to_status: String,
    pub from_status: Option<String>,
    pub actor: Option<String>,
    pub note: Option<String>,
    pub anomaly_score: Option<f64>,
    pub model_version: Option<i64>,
}

impl AuditRow {
    pub fn into_write(self, id: &str) -> Result<AuditWrite, StoreError> {
        Ok(AuditWrite {
            document_id: id.to_owned(),
            event_at_ms: self.event_at.0,
            from: self.from_status.as_deref().map(parse_status).transpose()?,
            to: parse_status(&self.to_status)?,
            actor: self.actor.unwrap_or_default(),
            note: self.note,
            score: self.anomaly_score.unwrap_or(0.0),
            model_version: self.model_version.unwrap_or(0),
        })
    }
}

/// A row of either index table.
#[derive(DeserializeRow)]
pub struct IndexRow {
    pub day: NaiveDate,
    pub anomaly_score: f64,
    pub id: String,
    pub class: Option<String>,
    pub vendor: Option<String>,
    pub top_reason: Option<String>,
    pub model_version: Option<i64>,
}

impl IndexRow {
    pub fn into_entry(self) -> crate::model::IndexEntry {
        crate::model::IndexEntry {
            day: self.day,
            id: self.id,
            anomaly_score: self.anomaly_score,
            class: self.class.unwrap_or_default(),
            vendor: self.vendor,
            top_reason: self.top_reason,
            model_version: self.model_version.unwrap_or(0).max(0) as u64,
        }
    }
}
