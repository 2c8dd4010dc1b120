//! Every statement docflow runs, prepared once at connect time. Partition
//! keys are always bind markers, so the driver computes the token and
//! routes each request to a replica. All are idempotent (upserts and
//! deletes keyed by primary key; the LWT claim is idempotent because a
//! retry that finds its own claim reports `Claimed`), which lets the driver
//! and `guard.rs` retry them safely.

use scylla::client::session::Session;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;

use crate::error::{classify_prepare, StoreError};

pub struct Statements {
    pub select_prev: PreparedStatement,
    pub insert_doc: PreparedStatement,
    pub insert_audit: PreparedStatement,
    pub insert_anomaly: PreparedStatement,
    pub delete_anomaly: PreparedStatement,
    pub insert_pending: PreparedStatement,
    pub delete_pending: PreparedStatement,
    pub claim_invoice: PreparedStatement,
    pub select_claim: PreparedStatement,
    pub select_doc: PreparedStatement,
    pub select_audit: PreparedStatement,
    pub anomalies_first: PreparedStatement,
    pub anomalies_after: PreparedStatement,
    pub pending_first: PreparedStatement,
    pub pending_after: PreparedStatement,
    pub update_status: PreparedStatement,
    pub probe: PreparedStatement,
    /// `documents` row + its `audit_log` entry: one partition key (the
    /// document id) in both tables, so an unlogged batch is a single
    /// mutation on one replica set, applied together.
    pub doc_with_audit: Batch,
    /// Status update + audit entry of a resolution, same partition key.
    pub status_with_audit: Batch,
    /// `anomalies_by_day` + `pending_audits_by_day` rows of one document:
    /// both tables are partitioned by (day, bucket), so again one mutation.
    pub index_puts: Batch,
    pub index_deletes: Batch,
}

const DOC_COLUMNS: &str = "id, class, class_confidence, fields_json, vendor, invoice_number, anomaly_score, reasons, \
     status, duplicate_of, model_version, encoder_version, content_type, priority, day, created_at, updated_at, \
     record_hash, embedding";
const INDEX_COLUMNS: &str = "day, bucket, anomaly_score, id, class, vendor, top_reason, model_version";
/// What the listings read (the bucket is known to the caller).
const INDEX_SELECT: &str = "day, anomaly_score, id, class, vendor, top_reason, model_version";

impl Statements {
    pub async fn prepare(session: &Session, ks: &str) -> Result<Self, StoreError> {
        crate::schema::check_keyspace_name(ks)?;
        let p = |cql: String| async move {
            let mut s = session.prepare(cql.as_str()).await.map_err(|e| match classify_prepare(e) {
                StoreError::Database(m) => {
                    StoreError::Database(format!("{m} (preparing {cql:?}; has `docflow schema apply` run for this keyspace?)"))
                }
                other => other,
            })?;
            s.set_is_idempotent(true);
            Ok::<_, StoreError>(s)
        };
        let marks = |n: usize| vec!["?"; n].join(", ");
        let doc_cols = DOC_COLUMNS.split(',').count();
        let st = Statements {
            select_prev: p(format!(
                "SELECT status, anomaly_score, day, record_hash, duplicate_of, model_version FROM {ks}.documents WHERE id = ?"
            ))
            .await?,
            insert_doc: p(format!("INSERT INTO {ks}.documents ({DOC_COLUMNS}) VALUES ({})", marks(doc_cols))).await?,
            insert_audit: p(format!(
                "INSERT INTO {ks}.audit_log (document_id, event_at, to_status, from_status, actor, note, anomaly_score, \
                 model_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?,
            insert_anomaly: p(format!("INSERT INTO {ks}.anomalies_by_day ({INDEX_COLUMNS}) VALUES ({})", marks(8))).await?,
            delete_anomaly: p(format!(
                "DELETE FROM {ks}.anomalies_by_day WHERE day = ? AND bucket = ? AND anomaly_score = ? AND id = ?"
            ))
            .await?,
            insert_pending: p(format!(
                "INSERT INTO {ks}.pending_audits_by_day ({INDEX_COLUMNS}, opened_at) VALUES ({})",
                marks(9)
            ))
            .await?,
            delete_pending: p(format!(
                "DELETE FROM {ks}.pending_audits_by_day WHERE day = ? AND bucket = ? AND anomaly_score = ? AND id = ?"
            ))
            .await?,
            claim_invoice: p(format!(
                "INSERT INTO {ks}.invoice_numbers (vendor, invoice_number, document_id, claimed_at) VALUES (?, ?, ?, ?) \
                 IF NOT EXISTS"
            ))
            .await?,
            select_claim: p(format!(
                "SELECT document_id FROM {ks}.invoice_numbers WHERE vendor = ? AND invoice_number = ?"
            ))
            .await?,
            select_doc: p(format!("SELECT {DOC_COLUMNS} FROM {ks}.documents WHERE id = ?")).await?,
            select_audit: p(format!(
                "SELECT event_at, to_status, from_status, actor, note, anomaly_score, model_version FROM {ks}.audit_log \
                 WHERE document_id = ?"
            ))
            .await?,
            anomalies_first: p(format!(
                "SELECT {INDEX_SELECT} FROM {ks}.anomalies_by_day WHERE day = ? AND bucket = ? LIMIT ?"
            ))
            .await?,
            anomalies_after: p(format!(
                "SELECT {INDEX_SELECT} FROM {ks}.anomalies_by_day WHERE day = ? AND bucket = ? \
                 AND (anomaly_score, id) < (?, ?) LIMIT ?"
            ))
            .await?,
            pending_first: p(format!(
                "SELECT {INDEX_SELECT} FROM {ks}.pending_audits_by_day WHERE day = ? AND bucket = ? LIMIT ?"
            ))
            .await?,
            pending_after: p(format!(
                "SELECT {INDEX_SELECT} FROM {ks}.pending_audits_by_day WHERE day = ? AND bucket = ? \
                 AND (anomaly_score, id) < (?, ?) LIMIT ?"
            ))
            .await?,
            update_status: p(format!("UPDATE {ks}.documents SET status = ?, updated_at = ? WHERE id = ?")).await?,
            probe: p("SELECT release_version FROM system.local".to_owned()).await?,
            doc_with_audit: Batch::new(BatchType::Unlogged),
            status_with_audit: Batch::new(BatchType::Unlogged),
            index_puts: Batch::new(BatchType::Unlogged),
            index_deletes: Batch::new(BatchType::Unlogged),
        };
        let mut st = st;
        st.doc_with_audit.append_statement(st.insert_doc.clone());
        st.doc_with_audit.append_statement(st.insert_audit.clone());
        st.doc_with_audit.set_is_idempotent(true);
        st.status_with_audit.append_statement(st.update_status.clone());
        st.status_with_audit.append_statement(st.insert_audit.clone());
        st.status_with_audit.set_is_idempotent(true);
        st.index_puts.append_statement(st.insert_anomaly.clone());
        st.index_puts.append_statement(st.insert_pending.clone());
        st.index_puts.set_is_idempotent(true);
        st.index_deletes.append_statement(st.delete_anomaly.clone());
        st.index_deletes.append_statement(st.delete_pending.clone());
        st.index_deletes.set_is_idempotent(true);
        Ok(st)
    }
}
