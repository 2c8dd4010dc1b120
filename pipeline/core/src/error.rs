//! Errors that say what to do: every failure names its domain and whether a
//! retry can help. The stage runtime maps them to "retry with backoff" or
//! "dead-letter and move on" in exactly one place.

use std::fmt;

/// Where a failure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorDomain {
    /// The record itself is bad (malformed, too large, wrong schema). Retrying never helps.
    UserInput,
    /// A system we depend on (broker, database) failed or timed out.
    External,
    /// A bug or broken invariant in docflow itself (including a kernel failure).
    Internal,
}

impl ErrorDomain {
    /// Stable lower-case name used in DLQ headers and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorDomain::UserInput => "user_input",
            ErrorDomain::External => "external",
            ErrorDomain::Internal => "internal",
        }
    }
}

/// Whether the same work may succeed if tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryHint {
    /// Retry with exponential backoff and jitter, bounded; dead-letter after.
    Retry,
    /// Dead-letter at once.
    Never,
}

/// A stage failure: domain, retry hint, a short machine-readable kind
/// (`"decode"`, `"too_large"`, `"db_timeout"` …) and a human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct StageError {
    pub domain: ErrorDomain,
    pub retry: RetryHint,
    /// Short snake_case kind, used as the DLQ reason and a metric label.
    pub kind: String,
    /// What went wrong and, where possible, what to do about it.
    pub message: String,
}

impl fmt::Display for StageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.kind, self.domain.as_str(), self.message)
    }
}

impl StageError {
    /// Bad input: never retried, goes to the dead-letter topic.
    pub fn user_input(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self { domain: ErrorDomain::UserInput, retry: RetryHint::Never, kind: kind.into(), message: message.into() }
    }

    /// A dependency failed: retried with backoff, then dead-lettered.
    pub fn external(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self { domain: ErrorDomain::External, retry: RetryHint::Retry, kind: kind.into(), message: message.into() }
    }

    /// A docflow bug or device failure: not retried.
    pub fn internal(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self { domain: ErrorDomain::Internal, retry: RetryHint::Never, kind: kind.into(), message: message.into() }
    }

    pub fn is_retryable(&self) -> bool {
        self.retry == RetryHint::Retry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_set_domain_and_retry() {
        assert!(!StageError::user_input("decode", "x").is_retryable());
        assert!(StageError::external("db_timeout", "x").is_retryable());
        let e = StageError::internal("kernel", "launch failed");
        assert_eq!(e.domain, ErrorDomain::Internal);
        assert_eq!(e.to_string(), "kernel (internal): launch failed");
    }
}
