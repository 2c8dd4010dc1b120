//! docflow-core: the small API crate every stage and test depends on.
//!
//! - [`error`]: [`StageError`], each carrying an [`ErrorDomain`] and a
//!   [`RetryHint`], so the runtime decides "DLQ or retry" in one place.
//! - [`kafka_env`]: the `DOCFLOW_KAFKA_*` security variables (TLS, SASL)
//!   checked and turned into librdkafka properties for every Kafka client.
//!
//! Heavy dependencies (Kafka, CUDA, the database) never enter this crate.

pub mod error;
pub mod kafka_env;

pub use error::{ErrorDomain, RetryHint, StageError};
pub use kafka_env::{kafka_client_properties, KafkaEnvError, KafkaSecurity};
