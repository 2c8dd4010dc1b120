//! Stored forms ([`DocWrite`], [`AuditWrite`], [`IndexWrite`]) → the read
//! side's types, shared by both stores.

use docflow_schemas::{BusinessFields, Feedback};

use crate::error::StoreError;
use crate::model::{AuditEvent, DocumentRow, IndexEntry};
use crate::plan::{AuditWrite, DocWrite, IndexWrite, PrevState};

impl DocWrite {
    pub fn to_row(&self) -> Result<DocumentRow, StoreError> {
        let fields: BusinessFields = serde_json::from_str(&self.fields_json)
            .map_err(|e| StoreError::Corrupt(format!("documents.fields_json of {}: {e}", self.id)))?;
        Ok(DocumentRow {
            id: self.id.clone(),
            class: self.class.clone(),
            class_confidence: self.class_confidence,
            fields,
            anomaly_score: self.anomaly_score,
            reasons: self.reasons.clone(),
            status: self.status,
            duplicate_of: self.duplicate_of.clone(),
            model_version: self.model_version.max(0) as u64,
            encoder_version: self.encoder_version.clone(),
            content_type: self.content_type.clone(),
            priority: self.priority,
            day: self.day,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
            embedding_f32le: self.embedding.clone(),
        })
    }

    pub fn prev_state(&self) -> PrevState {
        PrevState {
            status: self.status,
            anomaly_score: self.anomaly_score,
            day: self.day,
            record_hash: Some(self.record_hash.clone()),
            duplicate_of: self.duplicate_of.clone(),
            model_version: self.model_version,
        }
    }
}

impl AuditWrite {
    pub fn to_event(&self) -> AuditEvent {
        AuditEvent {
            at_ms: self.event_at_ms,
            from_status: self.from,
            to_status: self.to,
            actor: self.actor.clone(),
            note: self.note.clone(),
            anomaly_score: self.score,
            model_version: self.model_version.max(0) as u64,
        }
    }
}

impl IndexWrite {
    pub fn to_entry(&self) -> IndexEntry {
        IndexEntry {
            day: self.key.day,
            id: self.key.id.clone(),
            anomaly_score: self.key.score,
            class: self.class.clone(),
            vendor: self.vendor.clone(),
            top_reason: self.top_reason.clone(),
            model_version: self.model_version.max(0) as u64,
        }
    }
}

/// The `docs.feedback` record of a verdict.
pub fn feedback_of(row: &DocumentRow, verdict: crate::Verdict, note: Option<&str>, now_ms: i64) -> Feedback {
    let verdict_name = match verdict {
        crate::Verdict::Ok => "ok",
        crate::Verdict::Fraud => "fraud",
        crate::Verdict::Error => "error",
    };
    Feedback {
        id: row.id.clone(),
        // An anomaly verdict does not confirm or correct the class.
        label: None,
        is_anomaly: verdict.is_anomaly(),
        embedding_f32le: row.embedding_f32le.clone(),
        note: Some(match note {
            Some(n) => format!("audit verdict={verdict_name}: {n}"),
            None => format!("audit verdict={verdict_name}"),
        }),
        created_at_ms: now_ms,
        fields: Default::default(),
    }
}
