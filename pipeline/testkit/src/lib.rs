//! docflow test support, for `[dev-dependencies]` only.
//!
//! Where things are:
//! - [`services`]: the one rule every integration test follows when a
//!   service it needs (local Kafka, Cassandra, the secured pair) is not up:
//!   fail, naming what is missing and how to start it, unless
//!   `DOCFLOW_SKIP_INTEGRATION=1`, in which case say so and skip.
//!   [`require_kafka`] (feature `kafka`) and [`require_cassandra`] probe the
//!   local stack; [`up_or_skip`] applies the rule to any other probe.
//!
//! The Kafka helpers the runtime's own benchmark shares with the tests
//! (topics, producing, reading back) stay in `docflow_runtime::testkit`.

pub mod services;

#[cfg(feature = "kafka")]
pub use services::require_kafka;
pub use services::{require_cassandra, skip_or_fail, tcp_probe, up_or_skip, Service, CASSANDRA, KAFKA, SECURE_CASSANDRA, SECURE_KAFKA};
