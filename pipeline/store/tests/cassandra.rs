//! Integration tests against the real local Cassandra (`deploy/local/stack.sh up`).
//! Nodes from DOCFLOW_SCYLLA_NODES (default 127.0.0.1:9042); each test uses
//! its own fresh keyspace and drops it at the end. When Cassandra is
//! unreachable the tests FAIL, unless DOCFLOW_SKIP_INTEGRATION=1, in which
//! case they print "skipped: <reason>" and pass.

use std::collections::HashSet;
use std::sync::Arc;

use docflow_store::bench::synthetic_scored;
use docflow_store::plan::{day_of, BUCKETS};
use docflow_store::{
    apply_schema, connect_session, CassandraStore, ClaimResult, DocStatus, DocumentStore, PageRequest, Replication,
    StoreConfig, StoreError, Verdict,
};
use futures::{StreamExt, TryStreamExt};
use scylla::client::session::Session;

struct Env {
    session: Arc<Session>,
    cfg: StoreConfig,
    ks: String,
}

impl Env {
    async fn store(&self) -> CassandraStore {
        CassandraStore::from_session(self.session.clone(), &self.cfg).await.expect("prepare statements")
    }

    async fn drop_keyspace(&self) {
        let mut q = scylla::statement::Statement::new(format!("DROP KEYSPACE IF EXISTS {}", self.ks));
        q.set_request_timeout(Some(docflow_store::schema::DDL_TIMEOUT));
        self.session.query_unpaged(q, ()).await.expect("drop keyspace");
    }

    async fn count_rows(&self, table: &str, column: &str) -> Vec<String> {
        let pager = self.session.query_iter(format!("SELECT {column} FROM {}.{table}", self.ks), ()).await.unwrap();
        pager.rows_stream::<(String,)>().unwrap().map_ok(|(s,)| s).try_collect().await.unwrap()
    }

    async fn count_day(&self, table: &str, day: chrono::NaiveDate) -> i64 {
        let mut total = 0;
        for b in 0..BUCKETS {
            let r = self
                .session
                .query_unpaged(format!("SELECT COUNT(*) FROM {}.{table} WHERE day = ? AND bucket = ?", self.ks), (day, b))
                .await
                .unwrap();
            total += r.into_rows_result().unwrap().first_row::<(i64,)>().unwrap().0;
        }
        total
    }
}

/// A fresh keyspace with the schema applied, or `None` (skip) when the
/// database is unreachable and DOCFLOW_SKIP_INTEGRATION=1.
async fn env(tag: &str) -> Option<Env> {
    let ks = format!("dft_{tag}_{}_{}", docflow_store::now_ms(), std::process::id());
    let cfg = StoreConfig { keyspace: ks.clone(), ..StoreConfig::from_env() };
    let session = match connect_session(&cfg).await {
        Ok(s) => Arc::new(s),
        Err(e) => {
            docflow_testkit::skip_or_fail(&docflow_testkit::CASSANDRA, &format!("unreachable at {}: {e}", cfg.nodes.join(",")));
            return None;
        }
    };
    apply_schema(&session, &ks, &Replication::local()).await.expect("apply schema");
    Some(Env { session, cfg, ks })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_applies_twice_and_reports_replication_drift() {
    let Some(e) = env("schema").await else { return };
    let again = apply_schema(&e.session, &e.ks, &Replication::local()).await.expect("second apply");
    assert_eq!(again.tables, vec!["anomalies_by_day", "audit_log", "documents", "invoice_numbers", "pending_audits_by_day"]);
    assert_eq!(again.replication_drift, None);
    let other = apply_schema(&e.session, &e.ks, &"simple:3".parse().unwrap()).await.expect("third apply");
    assert!(other.replication_drift.is_some_and(|d| d.contains("'replication_factor': \"1\"") || d.contains("\"1\"")));
    e.drop_keyspace().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_documents_persist_once_and_replay_changes_nothing() {
    let Some(e) = env("bulk").await else { return };
    let store = e.store().await;
    const N: u64 = 20_000;
    let docs: Vec<_> = (0..N).map(|i| synthetic_scored("bulk", i)).collect();
    let day = day_of(docs[0].embedded.parsed.created_at_ms);
    let expected_anomalies = docs.iter().filter(|d| d.anomaly_score > 0.7).count() as i64;
    assert!(expected_anomalies > 1000);

    let persist_all = |docs: &Vec<docflow_schemas::ScoredDocument>| {
        let store = store.clone();
        let docs = docs.clone();
        async move {
            futures::stream::iter(docs.iter())
                .map(|d| store.persist(d))
                .buffered(256)
                .try_collect::<Vec<_>>()
                .await
                .expect("persist")
        }
    };

    let t = std::time::Instant::now();
    let first = persist_all(&docs).await;
    println!("first pass: {N} docs in {:.2}s", t.elapsed().as_secs_f64());
    assert!(first.iter().all(|o| o.changed && o.audit_logged && !o.duplicate_invoice));
    assert_eq!(first.iter().filter(|o| o.status == DocStatus::PendingAudit).count() as i64, expected_anomalies);

    let check_counts = || async {
        let ids = e.count_rows("documents", "id").await;
        let unique: HashSet<_> = ids.iter().collect();
        assert_eq!((ids.len(), unique.len()), (N as usize, N as usize), "every id exactly once");
        assert_eq!(e.count_day("anomalies_by_day", day).await, expected_anomalies);
        assert_eq!(e.count_day("pending_audits_by_day", day).await, expected_anomalies);
        let audit = e.count_rows("audit_log", "document_id").await;
        assert_eq!(audit.len(), N as usize, "one creation event per document");
    };
    check_counts().await;

    let t = std::time::Instant::now();
    let replay = persist_all(&docs).await;
    println!("replay: {N} docs in {:.2}s", t.elapsed().as_secs_f64());
    assert!(replay.iter().all(|o| !o.changed && !o.audit_logged));
    for (a, b) in first.iter().zip(&replay) {
        assert_eq!((a.id.as_str(), a.status), (b.id.as_str(), b.status));
    }
    check_counts().await;

    // Re-scoring 200 documents with a new model moves them across the
    // threshold: index rows follow, and exactly the changed states are logged.
    let mut rescored: Vec<_> = docs[..200].to_vec();
    let mut crossing = 0;
    for d in &mut rescored {
        let was = d.anomaly_score > 0.7;
        d.anomaly_score = if was { 0.1 } else { 0.95 };
        d.model_version = 2;
        crossing += 1;
    }
    let moved_out = docs[..200].iter().filter(|d| d.anomaly_score > 0.7).count() as i64;
    let moved_in = 200 - moved_out;
    let out = persist_all(&rescored).await;
    assert!(out.iter().all(|o| o.changed && o.audit_logged));
    let anomalies_now = expected_anomalies - moved_out + moved_in;
    assert_eq!(e.count_day("anomalies_by_day", day).await, anomalies_now);
    assert_eq!(e.count_day("pending_audits_by_day", day).await, anomalies_now);
    assert_eq!(e.count_rows("audit_log", "document_id").await.len(), N as usize + crossing);

    // The paged listing returns every anomaly exactly once, highest first.
    let mut req = PageRequest::first(500);
    let mut listed = Vec::new();
    loop {
        let page = store.anomalies(day, 0.0, &req).await.unwrap();
        listed.extend(page.items);
        match page.next_cursor {
            Some(c) => req.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(listed.len() as i64, anomalies_now);
    assert!(listed.windows(2).all(|w| w[0].anomaly_score >= w[1].anomaly_score));
    assert_eq!(listed.iter().map(|x| &x.id).collect::<HashSet<_>>().len(), listed.len());
    let high = store.anomalies(day, 0.9, &PageRequest::first(1000)).await.unwrap();
    assert!(high.items.iter().all(|x| x.anomaly_score >= 0.9) && !high.items.is_empty());

    let view = store.get(&docs[0].embedded.parsed.id).await.unwrap().unwrap();
    assert_eq!(view.history.len(), 2);
    assert_eq!(view.document.model_version, 2);
    assert_eq!(view.document.embedding_f32le.as_deref(), Some(&docs[0].embedded.embedding_f32le[..]));
    e.drop_keyspace().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicate_invoices_are_decided_exactly_once() {
    let Some(e) = env("claims").await else { return };
    // Two stores = two sessions = two independent connection pools.
    let a = CassandraStore::connect(&e.cfg).await.unwrap();
    let b = CassandraStore::connect(&e.cfg).await.unwrap();
    for round in 0..25u64 {
        let mut d1 = synthetic_scored("dupa", round * 3);
        let mut d2 = synthetic_scored("dupb", round * 3);
        for d in [&mut d1, &mut d2] {
            d.embedded.parsed.fields.vendor = Some("ACME  Corp".into());
            d.embedded.parsed.fields.invoice_number = Some(format!("inv-{round}"));
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let (s1, s2, b1, b2) = (a.clone(), b.clone(), barrier.clone(), barrier.clone());
        let t1 = tokio::spawn(async move {
            b1.wait().await;
            s1.persist(&d1).await
        });
        let t2 = tokio::spawn(async move {
            b2.wait().await;
            s2.persist(&d2).await
        });
        let (o1, o2) = (t1.await.unwrap().unwrap(), t2.await.unwrap().unwrap());
        assert_eq!(
            u8::from(o1.duplicate_invoice) + u8::from(o2.duplicate_invoice),
            1,
            "round {round}: exactly one duplicate ({o1:?} / {o2:?})"
        );
        let (winner, loser) = if o1.duplicate_invoice { (&o2, &o1) } else { (&o1, &o2) };
        assert_eq!(loser.duplicate_of.as_deref(), Some(winner.id.as_str()));
    }
    // The score stage's API: direct concurrent claims, and idempotence.
    let (r1, r2) = tokio::join!(
        a.claim_invoice_number("Globex", "77-1", "doc-x"),
        b.claim_invoice_number("globex ", "77-1", "doc-y")
    );
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    let claimed = [&r1, &r2].iter().filter(|r| ***r == ClaimResult::Claimed).count();
    assert_eq!(claimed, 1, "{r1:?} {r2:?}");
    let winner = if r1 == ClaimResult::Claimed { "doc-x" } else { "doc-y" };
    assert_eq!(a.claim_invoice_number("GLOBEX", "77 1", winner).await.unwrap(), ClaimResult::Claimed);
    e.drop_keyspace().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_records_are_rejected_and_nothing_is_written() {
    let Some(e) = env("invalid").await else { return };
    let store = e.store().await;
    let mut cases = Vec::new();
    let mut d = synthetic_scored("bad", 1);
    d.anomaly_score = f64::NAN;
    cases.push((d, "anomaly_score"));
    let mut d = synthetic_scored("bad", 2);
    d.embedded.parsed.fields.vendor = Some("v".repeat(10_000));
    cases.push((d, "fields.vendor"));
    let mut d = synthetic_scored("bad", 3);
    d.anomaly_reasons[0].reason = "gut_feeling".into();
    cases.push((d, "anomaly_reasons[0].reason"));
    for (d, field) in &cases {
        match store.persist(d).await {
            Err(StoreError::Invalid { field: f, reason }) => {
                assert_eq!(f, *field);
                assert!(!reason.is_empty());
                let stage: docflow_core::StageError = StoreError::Invalid { field: f, reason }.into();
                assert!(!stage.is_retryable());
            }
            other => panic!("{field}: expected Invalid, got {other:?}"),
        }
        assert!(store.get(&d.embedded.parsed.id).await.unwrap().is_none(), "nothing written for {field}");
        // The invoice number was not claimed either.
        if let (Some(v), Some(n)) = (&d.embedded.parsed.fields.vendor, &d.embedded.parsed.fields.invoice_number) {
            if v.len() < 512 {
                assert_eq!(store.claim_invoice_number(v, n, "someone-else").await.unwrap(), ClaimResult::Claimed);
            }
        }
    }
    assert!(e.count_rows("documents", "id").await.is_empty());
    assert!(e.count_rows("audit_log", "document_id").await.is_empty());
    e.drop_keyspace().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_resolution_updates_status_queue_and_history() {
    let Some(e) = env("resolve").await else { return };
    let store = e.store().await;
    let mut d = synthetic_scored("res", 11);
    d.anomaly_score = 0.88;
    let id = d.embedded.parsed.id.clone();
    let day = day_of(d.embedded.parsed.created_at_ms);
    assert_eq!(store.persist(&d).await.unwrap().status, DocStatus::PendingAudit);
    let pending = store.pending_audits(None, &PageRequest::first(10)).await.unwrap();
    assert_eq!(pending.items.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(), vec![id.as_str()]);

    let r = store.resolve_audit(&id, Verdict::Fraud, Some("fake vendor"), "tester").await.unwrap();
    assert!(r.changed);
    assert_eq!(r.feedback.is_anomaly, Some(true));
    assert_eq!(r.feedback.embedding_f32le.as_deref(), Some(&d.embedded.embedding_f32le[..]));
    assert!(store.pending_audits(Some(day), &PageRequest::first(10)).await.unwrap().items.is_empty());
    let view = store.get(&id).await.unwrap().unwrap();
    assert_eq!(view.document.status, DocStatus::AuditedFraud);
    let trail: Vec<_> = view.history.iter().map(|h| (h.from_status, h.to_status, h.actor.as_str())).collect();
    assert_eq!(
        trail,
        vec![(None, DocStatus::PendingAudit, "persist"), (Some(DocStatus::PendingAudit), DocStatus::AuditedFraud, "tester")]
    );
    assert_eq!(view.history[1].note.as_deref(), Some("fake vendor"));

    assert!(!store.resolve_audit(&id, Verdict::Fraud, None, "tester").await.unwrap().changed);
    assert!(matches!(store.resolve_audit(&id, Verdict::Ok, None, "t").await, Err(StoreError::WrongState { .. })));
    assert!(matches!(store.resolve_audit("missing", Verdict::Ok, None, "t").await, Err(StoreError::NotFound { .. })));
    // A replay after the verdict keeps the verdict and logs nothing.
    d.model_version = 9;
    assert_eq!(store.persist(&d).await.unwrap().status, DocStatus::AuditedFraud);
    assert_eq!(store.get(&id).await.unwrap().unwrap().history.len(), 2);
    assert!(!store.is_open());
    store.probe().await.unwrap();
    e.drop_keyspace().await;
}

#[tokio::test]
async fn unreachable_cluster_is_a_transient_error() {
    let cfg = StoreConfig { nodes: vec!["127.0.0.1:1".into()], connect_timeout_ms: 500, ..StoreConfig::default() };
    match CassandraStore::connect(&cfg).await {
        Err(e) => {
            assert!(e.is_transient(), "{e:?}");
            assert!(docflow_core::StageError::from(e).is_retryable());
        }
        Ok(_) => panic!("connected to port 1?"),
    }
}
