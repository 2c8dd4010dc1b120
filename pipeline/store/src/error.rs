//! [`StoreError`]: every storage failure, typed, with its mapping to
//! [`docflow_core::StageError`] (bad record → dead-letter; database trouble →
//! retry with backoff) and the classification of driver errors.

use docflow_core::StageError;
use scylla::errors::{DbError, ExecutionError, NewSessionError, PrepareError, RequestAttemptError};

/// A storage failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The record (or a CLI argument) violates the schema; nothing was written.
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// No document with this id.
    #[error("document {id} not found")]
    NotFound { id: String },
    /// The operation does not apply to the document's current state
    /// (e.g. resolving an audit that is not pending).
    #[error("document {id} is {status}: {reason}")]
    WrongState { id: String, status: String, reason: String },
    /// The database did not answer in time (client or server timeout).
    #[error("database timeout: {0}")]
    Timeout(String),
    /// The database is unreachable, overloaded or lacks replicas.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The circuit breaker is open: calls fail fast until a probe succeeds.
    #[error("database circuit open (failing fast until a probe succeeds)")]
    CircuitOpen,
    /// The database rejected the statement (syntax, schema mismatch,
    /// permissions): a bug or a missing `docflow schema apply`, not transient.
    #[error("database error: {0}")]
    Database(String),
    /// A row could not be decoded into docflow's types.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Bad configuration (TLS files, node list, keyspace name…).
    #[error("configuration: {0}")]
    Config(String),
}

impl StoreError {
    /// Shorthand for [`StoreError::Invalid`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        StoreError::Invalid { field: field.into(), reason: reason.into() }
    }

    /// Whether retrying the same call later may succeed (and whether the
    /// failure counts against the circuit breaker).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Timeout(_) | StoreError::Unavailable(_) | StoreError::CircuitOpen)
    }

    /// Every [`kind`](Self::kind), as listed in `schemas/README.md`.
    pub const KINDS: [&'static str; 9] =
        ["invalid_record", "not_found", "wrong_state", "db_timeout", "db_unavailable", "db_circuit_open", "db_error", "db_corrupt_row", "db_config"];

    /// Short snake_case kind, used as DLQ reason and metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Invalid { .. } => "invalid_record",
            StoreError::NotFound { .. } => "not_found",
            StoreError::WrongState { .. } => "wrong_state",
            StoreError::Timeout(_) => "db_timeout",
            StoreError::Unavailable(_) => "db_unavailable",
            StoreError::CircuitOpen => "db_circuit_open",
            StoreError::Database(_) => "db_error",
            StoreError::Corrupt(_) => "db_corrupt_row",
            StoreError::Config(_) => "db_config",
        }
    }
}

impl From<StoreError> for StageError {
    fn from(e: StoreError) -> Self {
        let kind = e.kind();
        let message = e.to_string();
        match e {
            StoreError::Invalid { .. } | StoreError::NotFound { .. } | StoreError::WrongState { .. } => {
                StageError::user_input(kind, message)
            }
            StoreError::Timeout(_) | StoreError::Unavailable(_) | StoreError::CircuitOpen => {
                StageError::external(kind, message)
            }
            StoreError::Database(_) | StoreError::Corrupt(_) | StoreError::Config(_) => {
                StageError::internal(kind, message)
            }
        }
    }
}

/// Classifies a driver execution error: timeouts and unavailability are
/// transient (retried, counted by the breaker); anything the server rejects
/// is a [`StoreError::Database`].
pub(crate) fn classify_execution(e: ExecutionError) -> StoreError {
    match e {
        ExecutionError::RequestTimeout(d) => StoreError::Timeout(format!("no answer within {} ms", d.as_millis())),
        ExecutionError::EmptyPlan | ExecutionError::ConnectionPoolError(_) => StoreError::Unavailable(e.to_string()),
        ExecutionError::LastAttemptError(a) => classify_attempt(a),
        ExecutionError::PrepareError(p) => classify_prepare(p),
        other => StoreError::Database(other.to_string()),
    }
}

pub(crate) fn classify_prepare(e: PrepareError) -> StoreError {
    match e {
        PrepareError::ConnectionPoolError(_) => StoreError::Unavailable(e.to_string()),
        PrepareError::AllAttemptsFailed { first_attempt } => classify_attempt(first_attempt),
        other => StoreError::Database(other.to_string()),
    }
}

fn classify_attempt(a: RequestAttemptError) -> StoreError {
    match &a {
        RequestAttemptError::DbError(db, _) => match db {
            DbError::ReadTimeout { .. } | DbError::WriteTimeout { .. } => StoreError::Timeout(a.to_string()),
            DbError::Unavailable { .. }
            | DbError::Overloaded
            | DbError::IsBootstrapping
            | DbError::ReadFailure { .. }
            | DbError::WriteFailure { .. }
            | DbError::RateLimitReached { .. } => StoreError::Unavailable(a.to_string()),
            _ => StoreError::Database(a.to_string()),
        },
        RequestAttemptError::BrokenConnectionError(_) | RequestAttemptError::UnableToAllocStreamId => {
            StoreError::Unavailable(a.to_string())
        }
        _ => StoreError::Database(a.to_string()),
    }
}

/// Session creation failed: the cluster is not reachable (or misconfigured).
pub(crate) fn classify_new_session(e: NewSessionError) -> StoreError {
    StoreError::Unavailable(format!("cannot connect: {e}"))
}

/// A row or result did not have the expected shape.
pub(crate) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use docflow_core::{ErrorDomain, RetryHint};

    #[test]
    fn kinds_lists_every_variant() {
        let s = String::new;
        let all = [
            StoreError::invalid("f", "r"),
            StoreError::NotFound { id: s() },
            StoreError::WrongState { id: s(), status: s(), reason: s() },
            StoreError::Timeout(s()),
            StoreError::Unavailable(s()),
            StoreError::CircuitOpen,
            StoreError::Database(s()),
            StoreError::Corrupt(s()),
            StoreError::Config(s()),
        ];
        for e in &all {
            // A new variant fails to compile here until it is listed above.
            match e {
                StoreError::Invalid { .. } | StoreError::NotFound { .. } | StoreError::WrongState { .. } => {}
                StoreError::Timeout(_) | StoreError::Unavailable(_) | StoreError::CircuitOpen => {}
                StoreError::Database(_) | StoreError::Corrupt(_) | StoreError::Config(_) => {}
            }
        }
        assert_eq!(all.iter().map(StoreError::kind).collect::<Vec<_>>(), StoreError::KINDS);
    }

    #[test]
    fn invalid_maps_to_user_input_without_retry() {
        let s: StageError = StoreError::invalid("anomaly_score", "NaN").into();
        assert_eq!(s.domain, ErrorDomain::UserInput);
        assert_eq!(s.retry, RetryHint::Never);
        assert_eq!(s.kind, "invalid_record");
        assert!(s.message.contains("anomaly_score"));
    }

    #[test]
    fn timeouts_and_outages_map_to_external_retry() {
        for e in [StoreError::Timeout("x".into()), StoreError::Unavailable("y".into()), StoreError::CircuitOpen] {
            assert!(e.is_transient());
            let s: StageError = e.into();
            assert_eq!(s.domain, ErrorDomain::External);
            assert!(s.is_retryable());
        }
    }

    #[test]
    fn server_rejections_are_internal_and_not_transient() {
        let e = StoreError::Database("unconfigured table".into());
        assert!(!e.is_transient());
        assert_eq!(StageError::from(e).domain, ErrorDomain::Internal);
    }

    #[test]
    fn driver_timeout_is_classified_transient() {
        let e = classify_execution(ExecutionError::RequestTimeout(std::time::Duration::from_millis(5)));
        assert!(matches!(e, StoreError::Timeout(_)));
        assert!(matches!(classify_execution(ExecutionError::EmptyPlan), StoreError::Unavailable(_)));
    }
}
