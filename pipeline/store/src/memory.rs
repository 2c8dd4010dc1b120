//! [`MemoryStore`]: the same storage semantics in process memory, for the
//! offline mode (no database) and for tests of callers. One mutex guards
//! everything, so each operation is atomic; the decisions come from the same
//! [`crate::plan`] functions as the Cassandra store.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::NaiveDate;
use docflow_schemas::ScoredDocument;

use crate::convert::feedback_of;
use crate::error::StoreError;
use crate::model::{ClaimResult, DocumentView, IndexEntry, Page, PageRequest, PersistOutcome, Resolution, Verdict};
use crate::paging::{is_after, lookback_days, page_order, Cursor};
use crate::plan::{self, AuditWrite, DocWrite, IndexKey, IndexWrite};
use crate::store::DocumentStore;
use crate::{now_ms, StoreConfig};

#[derive(Default)]
struct Inner {
    docs: HashMap<String, DocWrite>,
    audit: HashMap<String, Vec<AuditWrite>>,
    /// Index rows by document id (a document has at most one row per index).
    anomalies: HashMap<String, IndexWrite>,
    pending: HashMap<String, IndexWrite>,
    claims: HashMap<(String, String), String>,
}

/// In-memory [`DocumentStore`].
pub struct MemoryStore {
    inner: Mutex<Inner>,
    threshold: f64,
    store_embeddings: bool,
}

/// Row counts, for tests and the offline summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryCounts {
    pub documents: usize,
    pub audit_events: usize,
    pub anomalies: usize,
    pub pending: usize,
    pub claims: usize,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(&StoreConfig::default())
    }
}

impl MemoryStore {
    /// Uses `audit_threshold` and `store_embeddings` from `config`.
    pub fn new(config: &StoreConfig) -> Self {
        Self { inner: Mutex::default(), threshold: config.audit_threshold, store_embeddings: config.store_embeddings }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every operation validates before mutating, so a poisoned lock holds consistent data.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn counts(&self) -> MemoryCounts {
        let g = self.lock();
        MemoryCounts {
            documents: g.docs.len(),
            audit_events: g.audit.values().map(Vec::len).sum(),
            anomalies: g.anomalies.len(),
            pending: g.pending.len(),
            claims: g.claims.len(),
        }
    }

    fn claim_locked(g: &mut Inner, key: (String, String), doc_id: &str) -> ClaimResult {
        match g.claims.get(&key) {
            Some(owner) if owner != doc_id => ClaimResult::AlreadyClaimedBy(owner.clone()),
            Some(_) => ClaimResult::Claimed,
            None => {
                g.claims.insert(key, doc_id.to_owned());
                ClaimResult::Claimed
            }
        }
    }

    fn page(mut entries: Vec<IndexEntry>, page: &PageRequest) -> Result<Page<IndexEntry>, StoreError> {
        let limit = page.checked_limit()?;
        let cursor = page.cursor.as_deref().map(Cursor::decode).transpose()?;
        if let Some(c) = &cursor {
            entries.retain(|e| is_after(e, c));
        }
        entries.sort_by(page_order);
        let more = entries.len() > limit;
        entries.truncate(limit);
        let next_cursor = more.then(|| entries.last().map(|e| Cursor::of(e).encode())).flatten();
        Ok(Page { items: entries, next_cursor })
    }
}

fn remove_if_key(map: &mut HashMap<String, IndexWrite>, key: &IndexKey) {
    if map.get(&key.id).is_some_and(|w| w.key == *key) {
        map.remove(&key.id);
    }
}

impl DocumentStore for MemoryStore {
    async fn persist(&self, doc: &ScoredDocument) -> Result<PersistOutcome, StoreError> {
        let checked = plan::check(doc)?;
        let now = now_ms();
        let mut g = self.lock();
        let prev = g.docs.get(&doc.embedded.parsed.id).map(DocWrite::prev_state);
        if let Some(out) = plan::unchanged(&checked, prev.as_ref(), now) {
            return Ok(out);
        }
        let claim = checked.claim.clone().map(|key| Self::claim_locked(&mut g, key, &doc.embedded.parsed.id));
        let p = plan::plan(&checked, prev.as_ref(), claim.as_ref(), now, self.threshold, self.store_embeddings);
        if let Some(k) = &p.anomaly_delete {
            remove_if_key(&mut g.anomalies, k);
        }
        if let Some(k) = &p.pending_delete {
            remove_if_key(&mut g.pending, k);
        }
        if let Some(w) = p.anomaly_put {
            g.anomalies.insert(w.key.id.clone(), w);
        }
        if let Some(w) = p.pending_put {
            g.pending.insert(w.key.id.clone(), w);
        }
        if let Some(a) = p.audit {
            g.audit.entry(a.document_id.clone()).or_default().push(a);
        }
        g.docs.insert(p.doc.id.clone(), p.doc);
        Ok(p.outcome)
    }

    async fn claim_invoice_number(&self, vendor: &str, invoice_number: &str, doc_id: &str) -> Result<ClaimResult, StoreError> {
        let key = crate::validate::claim_args(vendor, invoice_number, doc_id)?;
        Ok(Self::claim_locked(&mut self.lock(), key, doc_id))
    }

    async fn get(&self, id: &str) -> Result<Option<DocumentView>, StoreError> {
        let g = self.lock();
        let Some(d) = g.docs.get(id) else { return Ok(None) };
        let mut history: Vec<_> = g.audit.get(id).map(|v| v.iter().map(AuditWrite::to_event).collect()).unwrap_or_default();
        history.sort_by_key(|e| e.at_ms);
        Ok(Some(DocumentView { document: d.to_row()?, history }))
    }

    async fn anomalies(&self, day: NaiveDate, min_score: f64, page: &PageRequest) -> Result<Page<IndexEntry>, StoreError> {
        crate::validate::check_min_score(min_score)?;
        let entries = self
            .lock()
            .anomalies
            .values()
            .filter(|w| w.key.day == day && w.key.score >= min_score)
            .map(IndexWrite::to_entry)
            .collect();
        Self::page(entries, page)
    }

    async fn pending_audits(&self, day: Option<NaiveDate>, page: &PageRequest) -> Result<Page<IndexEntry>, StoreError> {
        let days = match day {
            Some(d) => vec![d],
            None => lookback_days(chrono::Utc::now().date_naive(), None),
        };
        let entries = self.lock().pending.values().filter(|w| days.contains(&w.key.day)).map(IndexWrite::to_entry).collect();
        Self::page(entries, page)
    }

    async fn resolve_audit(&self, id: &str, verdict: Verdict, note: Option<&str>, actor: &str) -> Result<Resolution, StoreError> {
        let now = now_ms();
        let mut g = self.lock();
        let doc = g.docs.get(id).ok_or_else(|| StoreError::NotFound { id: id.to_owned() })?;
        let previous_status = doc.status;
        let r = plan::plan_resolution(id, &doc.prev_state(), verdict, note, actor, now)?;
        let row = doc.to_row()?;
        if let Some(k) = &r.pending_delete {
            remove_if_key(&mut g.pending, k);
        }
        if let Some(a) = r.audit {
            g.audit.entry(id.to_owned()).or_default().push(a);
        }
        if let Some(d) = g.docs.get_mut(id) {
            d.status = r.status;
            if r.changed {
                d.updated_at_ms = now;
            }
        }
        Ok(Resolution { id: id.to_owned(), previous_status, status: r.status, changed: r.changed, feedback: feedback_of(&row, verdict, note, now) })
    }

    fn is_open(&self) -> bool {
        false
    }

    async fn probe(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::synthetic_scored;
    use crate::model::DocStatus;

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn persist_replay_and_index_counts() {
        block(async {
            let s = MemoryStore::default();
            let docs: Vec<_> = (0..500).map(|i| synthetic_scored("m", i)).collect();
            for d in &docs {
                assert!(s.persist(d).await.unwrap().changed);
            }
            let anomalies = docs.iter().filter(|d| d.anomaly_score > 0.7).count();
            let c = s.counts();
            assert_eq!((c.documents, c.anomalies, c.pending, c.audit_events), (500, anomalies, anomalies, 500));
            for d in &docs {
                let o = s.persist(d).await.unwrap();
                assert!(!o.changed && !o.audit_logged);
            }
            assert_eq!(s.counts(), c, "replay changes nothing");
        })
    }

    #[test]
    fn duplicate_invoice_numbers_are_flagged_once() {
        block(async {
            let s = MemoryStore::default();
            let a = synthetic_scored("m", 1);
            let mut b = synthetic_scored("m", 2);
            b.embedded.parsed.fields.vendor = a.embedded.parsed.fields.vendor.clone();
            b.embedded.parsed.fields.invoice_number = a.embedded.parsed.fields.invoice_number.clone();
            assert!(a.embedded.parsed.fields.invoice_number.is_some());
            assert!(!s.persist(&a).await.unwrap().duplicate_invoice);
            let o = s.persist(&b).await.unwrap();
            assert!(o.duplicate_invoice);
            assert_eq!(o.duplicate_of.as_deref(), Some(a.embedded.parsed.id.as_str()));
        })
    }

    #[test]
    fn resolve_updates_status_queue_and_history() {
        block(async {
            let s = MemoryStore::default();
            let mut d = synthetic_scored("m", 3);
            d.anomaly_score = 0.93;
            s.persist(&d).await.unwrap();
            let id = d.embedded.parsed.id.clone();
            let day = plan::day_of(d.embedded.parsed.created_at_ms);
            assert_eq!(s.pending_audits(Some(day), &PageRequest::first(10)).await.unwrap().items.len(), 1);
            let r = s.resolve_audit(&id, Verdict::Fraud, Some("checked"), "cli").await.unwrap();
            assert_eq!((r.previous_status, r.status, r.changed), (DocStatus::PendingAudit, DocStatus::AuditedFraud, true));
            assert_eq!(r.feedback.is_anomaly, Some(true));
            assert!(s.pending_audits(Some(day), &PageRequest::first(10)).await.unwrap().items.is_empty());
            let v = s.get(&id).await.unwrap().unwrap();
            assert_eq!(v.document.status, DocStatus::AuditedFraud);
            let tos: Vec<_> = v.history.iter().map(|e| e.to_status).collect();
            assert_eq!(tos, vec![DocStatus::PendingAudit, DocStatus::AuditedFraud]);
            // Same verdict again: no-op; replay of the record: verdict stays.
            assert!(!s.resolve_audit(&id, Verdict::Fraud, None, "cli").await.unwrap().changed);
            d.model_version += 1;
            assert_eq!(s.persist(&d).await.unwrap().status, DocStatus::AuditedFraud);
            assert_eq!(s.get(&id).await.unwrap().unwrap().history.len(), 2);
        })
    }

    #[test]
    fn anomaly_pages_cover_everything_once_in_order() {
        block(async {
            let s = MemoryStore::default();
            let docs: Vec<_> = (0..300).map(|i| synthetic_scored("pg", i)).collect();
            for d in &docs {
                s.persist(d).await.unwrap();
            }
            let day = plan::day_of(docs[0].embedded.parsed.created_at_ms);
            let mut seen = Vec::new();
            let mut req = PageRequest::first(7);
            loop {
                let p = s.anomalies(day, 0.8, &req).await.unwrap();
                seen.extend(p.items.iter().map(|e| (e.anomaly_score, e.id.clone())));
                match p.next_cursor {
                    Some(c) => req.cursor = Some(c),
                    None => break,
                }
            }
            let expected = docs.iter().filter(|d| d.anomaly_score >= 0.8).count();
            assert_eq!(seen.len(), expected);
            assert!(seen.windows(2).all(|w| w[0].0 >= w[1].0), "descending scores");
            let mut ids: Vec<_> = seen.iter().map(|x| x.1.clone()).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), expected);
        })
    }
}
