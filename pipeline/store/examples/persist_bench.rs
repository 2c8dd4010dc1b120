//! Persist benchmark against a real ScyllaDB/Cassandra:
//!
//!     cargo run --release -p docflow-store --example persist_bench -- [DOCS] [CONCURRENCY] [noclaims]
//!
//! Uses DOCFLOW_SCYLLA_NODES (default 127.0.0.1:9042), creates a fresh
//! keyspace `docflow_bench_<ms>` (SimpleStrategy RF 1), persists DOCS
//! synthetic scored documents (default 50,000) with CONCURRENCY persists in
//! flight (default 256), prints docs/s and p50/p99 latency, then replays the
//! same documents (the idempotent fast path) and drops the keyspace.

use std::sync::Arc;

use docflow_store::bench::run_bench;
use docflow_store::{apply_schema, connect_session, CassandraStore, Replication, StoreConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let docs: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(50_000);
    let concurrency: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(256);
    // "noclaims": documents without invoice numbers (no LWT), to isolate its cost.
    let claims = args.next().as_deref() != Some("noclaims");
    let ks = format!("docflow_bench_{}", docflow_store::now_ms());
    let cfg = StoreConfig { keyspace: ks.clone(), max_in_flight: concurrency * 2, ..StoreConfig::from_env() };
    let session = Arc::new(connect_session(&cfg).await?);
    apply_schema(&session, &ks, &Replication::local()).await?;
    let store = CassandraStore::from_session(session.clone(), &cfg).await?;
    let first = run_bench(&store, "bench", docs, concurrency, claims).await?;
    println!("first write: {first}");
    let replay = run_bench(&store, "bench", docs, concurrency, claims).await?;
    println!("replay:      {replay}");
    let mut drop = scylla::statement::Statement::new(format!("DROP KEYSPACE IF EXISTS {ks}"));
    drop.set_request_timeout(Some(docflow_store::schema::DDL_TIMEOUT));
    session.query_unpaged(drop, ()).await?;
    Ok(())
}
