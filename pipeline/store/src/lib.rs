//! docflow-store: ScyllaDB/Cassandra storage for docflow.
//!
//! Where things are:
//! - `schemas/cql/*.cql` (repository root): the query-first CQL schema, one
//!   table per query, each commented with the query it serves; embedded
//!   here and applied by [`schema::apply_schema`] (`docflow schema apply`).
//! - [`store`]: the [`DocumentStore`] trait (persist, invoice claims, reads,
//!   audit resolution, breaker state) and [`AnyStore`].
//! - [`cassandra`]: [`CassandraStore`], the trait on the `scylla` driver
//!   (prepared statements, token-aware routing, semaphore-bounded
//!   concurrency, retries with backoff, circuit breaker).
//! - [`memory`]: [`MemoryStore`], the same semantics in memory (offline mode).
//! - [`plan`]: the persist decision (what to write on a new, replayed or
//!   re-scored record) as pure functions both stores share; [`validate`]:
//!   the limits a record must meet before anything is written.
//! - [`model`], [`error`], [`config`]: types, [`StoreError`] (→
//!   `docflow_core::StageError`), [`StoreConfig`]; [`store_env`]: the
//!   `DOCFLOW_SCYLLA_*` environment variables, read in this one place.
//! - [`breaker`], [`retry`], [`paging`]: circuit breaker, backoff, keyset
//!   paging cursors; [`availability`]: [`wait_while_open`], waiting out an
//!   outage (probing) instead of failing, for callers that would otherwise
//!   dead-letter.
//! - [`bench`]: the persist benchmark ([`bench::bench_database`]) and the
//!   synthetic scored documents tests use.

pub mod availability;
pub mod bench;
pub mod breaker;
pub mod cassandra;
pub mod config;
mod convert;
pub mod error;
pub mod memory;
pub mod model;
pub mod paging;
pub mod plan;
pub mod retry;
pub mod schema;
pub mod store;
pub mod store_env;
pub mod validate;

pub use availability::{wait_while_open, Availability};
pub use cassandra::{connect_session, CassandraStore};
pub use config::{StoreConfig, TlsConfig};
pub use error::StoreError;
pub use memory::MemoryStore;
pub use model::{
    AuditEvent, ClaimResult, DocStatus, DocumentRow, DocumentView, IndexEntry, Page, PageRequest, PersistOutcome, Resolution,
    Verdict,
};
pub use schema::{apply_schema, Replication, SchemaReport};
pub use store::{AnyStore, DocumentStore};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
