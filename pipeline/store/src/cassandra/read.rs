//! The read side and the audit workflow: `get`, the paged index listings
//! (16 buckets per day queried concurrently and merged by score), and
//! `resolve_audit`.

use chrono::NaiveDate;
use futures::future::try_join_all;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;

use super::rows::{AuditRow, AuditValues, DocRow, IndexRow, KeyValues};
use super::CassandraStore;
use crate::convert::feedback_of;
use crate::error::{corrupt, StoreError};
use crate::model::{DocumentView, IndexEntry, Page, PageRequest, Resolution, Verdict};
use crate::now_ms;
use crate::paging::{lookback_days, page_order, Cursor};
use crate::plan::{self, DocWrite, BUCKETS};

/// Which index table to list.
#[derive(Clone, Copy)]
pub(super) enum Index {
    Anomalies,
    Pending,
}

impl CassandraStore {
    async fn read_doc(&self, id: &str) -> Result<Option<DocWrite>, StoreError> {
        let res = self.exec(&self.inner.st.select_doc, &(id,)).await?;
        let rows = res.into_rows_result().map_err(corrupt)?;
        rows.maybe_first_row::<DocRow>().map_err(corrupt)?.map(DocRow::into_write).transpose()
    }

    pub(super) async fn get_view(&self, id: &str) -> Result<Option<DocumentView>, StoreError> {
        let history = async {
            let res = self.exec(&self.inner.st.select_audit, &(id,)).await?;
            let rows = res.into_rows_result().map_err(corrupt)?;
            let mut out = Vec::new();
            for r in rows.rows::<AuditRow>().map_err(corrupt)? {
                out.push(r.map_err(corrupt)?.into_write(id)?.to_event());
            }
            Ok::<_, StoreError>(out)
        };
        let (doc, history) = tokio::try_join!(self.read_doc(id), history)?;
        match doc {
            Some(d) => Ok(Some(DocumentView { document: d.to_row()?, history })),
            None => Ok(None),
        }
    }

    /// One day of an index: every bucket from the cursor on, merged.
    /// Returns up to `limit` entries ≥ `min_score` and whether more may follow.
    async fn index_day(
        &self,
        index: Index,
        day: NaiveDate,
        cursor: Option<&Cursor>,
        limit: usize,
        min_score: f64,
    ) -> Result<(Vec<IndexEntry>, bool), StoreError> {
        let st = &self.inner.st;
        let (first, after): (&PreparedStatement, &PreparedStatement) = match index {
            Index::Anomalies => (&st.anomalies_first, &st.anomalies_after),
            Index::Pending => (&st.pending_first, &st.pending_after),
        };
        let cursor = cursor.filter(|c| c.day == day);
        let lim = limit as i32;
        let buckets = (0..BUCKETS).map(|bucket| async move {
            let res = match cursor {
                Some(c) => self.exec(after, &(day, bucket, c.score, c.id.as_str(), lim)).await?,
                None => self.exec(first, &(day, bucket, lim)).await?,
            };
            let rows = res.into_rows_result().map_err(corrupt)?;
            let mut out = Vec::with_capacity(rows.rows_num());
            for r in rows.rows::<IndexRow>().map_err(corrupt)? {
                out.push(r.map_err(corrupt)?.into_entry());
            }
            Ok::<_, StoreError>(out)
        });
        let per_bucket = try_join_all(buckets).await?;
        // A full bucket whose last row still passes the filter may hold more.
        let mut more = per_bucket.iter().any(|b| b.len() >= limit && b.last().is_some_and(|e| e.anomaly_score >= min_score));
        let mut all: Vec<IndexEntry> = per_bucket.into_iter().flatten().filter(|e| e.anomaly_score >= min_score).collect();
        all.sort_by(page_order);
        if all.len() > limit {
            more = true;
            all.truncate(limit);
        }
        Ok((all, more))
    }

    pub(super) async fn list_anomalies(&self, day: NaiveDate, min_score: f64, page: &PageRequest) -> Result<Page<IndexEntry>, StoreError> {
        crate::validate::check_min_score(min_score)?;
        let limit = page.checked_limit()?;
        let cursor = page.cursor.as_deref().map(Cursor::decode).transpose()?;
        if cursor.as_ref().is_some_and(|c| c.day != day) {
            return Err(StoreError::invalid("cursor", "belongs to another day"));
        }
        let (items, more) = self.index_day(Index::Anomalies, day, cursor.as_ref(), limit, min_score).await?;
        let next_cursor = if more { items.last().map(|e| Cursor::of(e).encode()) } else { None };
        Ok(Page { items, next_cursor })
    }

    pub(super) async fn list_pending(&self, day: Option<NaiveDate>, page: &PageRequest) -> Result<Page<IndexEntry>, StoreError> {
        let limit = page.checked_limit()?;
        let cursor = page.cursor.as_deref().map(Cursor::decode).transpose()?;
        let days = match day {
            Some(d) => {
                if cursor.as_ref().is_some_and(|c| c.day != d) {
                    return Err(StoreError::invalid("cursor", "belongs to another day"));
                }
                vec![d]
            }
            None => lookback_days(chrono::Utc::now().date_naive(), cursor.as_ref()),
        };
        let mut items = Vec::new();
        for (i, d) in days.iter().enumerate() {
            let (got, more) = self.index_day(Index::Pending, *d, cursor.as_ref(), limit - items.len(), 0.0).await?;
            items.extend(got);
            if items.len() == limit {
                let last_day = i + 1 == days.len();
                let next_cursor = if more || !last_day { items.last().map(|e| Cursor::of(e).encode()) } else { None };
                return Ok(Page { items, next_cursor });
            }
        }
        Ok(Page { items, next_cursor: None })
    }

    /// Deletes the queue row first, then writes status + audit entry in one
    /// single-partition batch: if the second step fails the document is
    /// still `pending_audit`, and resolving again completes it.
    pub(super) async fn resolve(&self, id: &str, verdict: Verdict, note: Option<&str>, actor: &str) -> Result<Resolution, StoreError> {
        crate::validate::validate_note(note)?;
        let doc = self.read_doc(id).await?.ok_or_else(|| StoreError::NotFound { id: id.to_owned() })?;
        let now = now_ms();
        let previous_status = doc.status;
        let r = plan::plan_resolution(id, &doc.prev_state(), verdict, note, actor, now)?;
        let st = &self.inner.st;
        if let Some(k) = &r.pending_delete {
            self.exec(&st.delete_pending, &KeyValues::new(k)).await?;
        }
        if let Some(a) = &r.audit {
            let update = (r.status.as_str(), CqlTimestamp(now), id);
            self.exec_batch(&st.status_with_audit, &(update, AuditValues::new(a))).await?;
        }
        let row = doc.to_row()?;
        Ok(Resolution { id: id.to_owned(), previous_status, status: r.status, changed: r.changed, feedback: feedback_of(&row, verdict, note, now) })
    }

    pub(super) async fn probe_db(&self) -> Result<(), StoreError> {
        self.exec(&self.inner.st.probe, &()).await.map(drop)
    }
}
