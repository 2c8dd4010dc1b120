//! docflow test support, for `[dev-dependencies]` only.
//!
//! Where things are:
//! - [`services`]: the one rule every integration test follows when a
//!   service it needs (local Kafka, Cassandra, the secured pair) is not up:
//!   fail, naming what is missing and how to start it, unless
//!   `DOCFLOW_SKIP_INTEGRATION=1`, in which case say so and skip.
//!   [`require_kafka`] (feature `kafka`) and [`require_cassandra`] probe the
//!   local stack; [`up_or_skip`] applies the rule to any other probe.
//! - `kafka` (feature `kafka`): the tests' broker, topics, producing test
//!   documents, reading a topic back, a scratch broker to kill and restart.
//!   The producing half is `docflow_runtime::testdata`, re-exported: the
//!   runtime's benchmark (in the `docflow` binary) needs it, and this crate
//!   depends on the runtime, not the other way round.
//! - `probe` (feature `kafka`): a running stage seen from outside: its
//!   HTTP endpoint (`/metrics`, `/healthz`, `/readyz`) and its memory.

#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "kafka")]
pub mod probe;
pub mod services;

#[cfg(feature = "kafka")]
pub use services::require_kafka;
pub use services::{require_cassandra, skip_or_fail, tcp_probe, up_or_skip, Service, CASSANDRA, KAFKA, SECURE_CASSANDRA, SECURE_KAFKA};
