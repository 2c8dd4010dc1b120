//! docflow-core: the small API crate every stage and test depends on.
//!
//! - [`error`]: [`StageError`], each carrying an [`ErrorDomain`] and a
//!   [`RetryHint`], so the runtime decides "DLQ or retry" in one place.
//!
//! Heavy dependencies (Kafka, CUDA, the database) never enter this crate.

pub mod error;

pub use error::{ErrorDomain, RetryHint, StageError};
