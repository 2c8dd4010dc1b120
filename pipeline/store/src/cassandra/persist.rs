//! `persist`: validate → read the previous state → (identical replay: done)
//! → claim the invoice number (read, then LWT only if unclaimed) → index rows (concurrently, each its own
//! partition) → the document row with its audit entry, last.
//!
//! Writing the document row last makes it the commit marker: if the process
//! dies before it, the previous state is still stored, the record is
//! consumed again (its offset was never committed) and every write is
//! redone; all of them are idempotent upserts/deletes by primary key.

use docflow_schemas::ScoredDocument;

use super::rows::{AuditValues, DocValues, IndexValues, KeyValues, PendingValues};
use super::CassandraStore;
use crate::error::{corrupt, StoreError};
use crate::model::PersistOutcome;
use crate::now_ms;
use crate::plan::{self, PrevState};

impl CassandraStore {
    pub(super) async fn read_prev(&self, id: &str) -> Result<Option<PrevState>, StoreError> {
        let res = self.exec(&self.inner.st.select_prev, &(id,)).await?;
        let rows = res.into_rows_result().map_err(corrupt)?;
        match rows.maybe_first_row::<super::rows::PrevRow>().map_err(corrupt)? {
            Some(r) => Ok(Some(r.into_state(id)?)),
            None => Ok(None),
        }
    }

    pub(super) async fn persist_doc(&self, doc: &ScoredDocument) -> Result<PersistOutcome, StoreError> {
        let checked = plan::check(doc)?;
        let id = &doc.embedded.parsed.id;
        let prev = self.read_prev(id).await?;
        let now = now_ms();
        if let Some(out) = plan::unchanged(&checked, prev.as_ref(), now) {
            return Ok(out);
        }
        let claim = match &checked.claim {
            Some((vendor, number)) => Some(self.claim_key_read_first(vendor, number, id).await?),
            None => None,
        };
        let cfg = &self.inner.config;
        let p = plan::plan(&checked, prev.as_ref(), claim.as_ref(), now, cfg.audit_threshold, cfg.store_embeddings);
        let st = &self.inner.st;

        let overwrite = prev.is_some();
        // Both index tables share the partition key (day, bucket): when a
        // document needs rows in both, one single-partition batch writes them.
        let deletes = async {
            match (&p.anomaly_delete, &p.pending_delete) {
                (Some(a), Some(q)) => {
                    self.exec_batch(&st.index_deletes, &(KeyValues::new(a), KeyValues::new(q))).await.map(drop)
                }
                (Some(a), None) => self.exec(&st.delete_anomaly, &KeyValues::new(a)).await.map(drop),
                (None, Some(q)) => self.exec(&st.delete_pending, &KeyValues::new(q)).await.map(drop),
                (None, None) => Ok(()),
            }
        };
        let puts = async {
            match (&p.anomaly_put, &p.pending_put) {
                (Some(a), Some(q)) => self
                    .exec_batch(&st.index_puts, &(IndexValues::new(a, overwrite), PendingValues::new(q, overwrite)))
                    .await
                    .map(drop),
                (Some(a), None) => self.exec(&st.insert_anomaly, &IndexValues::new(a, overwrite)).await.map(drop),
                (None, Some(q)) => self.exec(&st.insert_pending, &PendingValues::new(q, overwrite)).await.map(drop),
                (None, None) => Ok(()),
            }
        };
        tokio::try_join!(deletes, puts)?;

        let doc_values = DocValues::new(&p.doc, overwrite);
        match &p.audit {
            Some(a) => self.exec_batch(&st.doc_with_audit, &(doc_values, AuditValues::new(a))).await?,
            None => self.exec(&st.insert_doc, &doc_values).await?,
        };
        let mut outcome = p.outcome;
        outcome.persisted_at_ms = now_ms();
        Ok(outcome)
    }
}
