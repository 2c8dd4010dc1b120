//! Claims that decide "seen before?": invoice numbers per vendor, and content hashes.
//!
//! The decision belongs to whoever sees every document: in the streaming
//! path, the database (a lightweight transaction `INSERT … IF NOT EXISTS`
//! in `docflow-store`), so two copies processed at the same moment on
//! different partitions or machines still get exactly one winner. The traits
//! are async (boxed futures keep them object-safe) because that
//! implementation is; the in-memory versions here serve the offline mode and
//! tests and answer at once.
//!
//! A claim is idempotent: claiming again with the *same* document id (a replay
//! after a crash) answers [`Claim::First`], so replays never flag themselves.
//! Callers pass keys normalised with the functions below, so every
//! implementation agrees on what "the same" means.

use std::sync::Mutex;

use docflow_core::StageError;
use futures::future::{self, BoxFuture};
use sha2::{Digest, Sha256};

use crate::bounded::BoundedMap;

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This document holds the key (first to claim it, or the same document again).
    First,
    /// Another document claimed the key first.
    Duplicate { first_doc_id: String },
}

/// Decides whether `(vendor, invoice number)` was already issued for another document.
pub trait InvoiceRegistry: Send + Sync {
    /// `vendor` and `number` come normalised ([`normalize_vendor`], [`normalize_invoice_number`]).
    fn claim<'a>(&'a self, vendor: &'a str, number: &'a str, doc_id: &'a str) -> BoxFuture<'a, Result<Claim, StageError>>;
}

/// Decides whether the same normalised content was already seen under another id.
pub trait ContentRegistry: Send + Sync {
    /// `key` is [`content_key`] of the normalised text.
    fn claim<'a>(&'a self, key: &'a str, doc_id: &'a str) -> BoxFuture<'a, Result<Claim, StageError>>;
}

/// Vendor names compare case-insensitively with collapsed whitespace.
pub fn normalize_vendor(vendor: &str) -> String {
    vendor.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Invoice numbers compare upper-case without spaces.
pub fn normalize_invoice_number(number: &str) -> String {
    number.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase()
}

/// Content as compared for duplicates: lower case, every run of
/// non-alphanumeric characters (spaces, punctuation, line breaks) folded into
/// one space. Reformatting or re-wrapping a document does not hide a copy.
pub fn normalize_content(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.extend(c.to_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

/// Hex of the first 16 bytes of SHA-256 of the normalised content.
pub fn content_key(normalized: &str) -> String {
    let digest = Sha256::digest(normalized.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn decide(existing: Option<String>, doc_id: &str) -> Claim {
    match existing {
        Some(first) if first != doc_id => Claim::Duplicate { first_doc_id: first },
        _ => Claim::First,
    }
}

fn poisoned() -> StageError {
    StageError::internal("registry_poisoned", "in-memory registry lock poisoned by a panic")
}

/// In-memory [`InvoiceRegistry`] (offline mode, tests). Keeps up to `cap` numbers.
#[derive(Debug)]
pub struct MemoryInvoiceRegistry {
    inner: Mutex<BoundedMap<(String, String), String>>,
}

impl MemoryInvoiceRegistry {
    pub fn new(cap: usize) -> Self {
        Self { inner: Mutex::new(BoundedMap::new(cap)) }
    }
}

impl Default for MemoryInvoiceRegistry {
    fn default() -> Self {
        Self::new(10_000_000)
    }
}

impl InvoiceRegistry for MemoryInvoiceRegistry {
    fn claim<'a>(&'a self, vendor: &'a str, number: &'a str, doc_id: &'a str) -> BoxFuture<'a, Result<Claim, StageError>> {
        let result = self
            .inner
            .lock()
            .map_err(|_| poisoned())
            .map(|mut m| decide(m.get_or_insert((vendor.to_string(), number.to_string()), doc_id.to_string()).cloned(), doc_id));
        Box::pin(future::ready(result))
    }
}

/// In-memory [`ContentRegistry`], bounded to `cap` hashes (≈ 100 bytes each).
#[derive(Debug)]
pub struct MemoryContentRegistry {
    inner: Mutex<BoundedMap<String, String>>,
}

impl MemoryContentRegistry {
    pub fn new(cap: usize) -> Self {
        Self { inner: Mutex::new(BoundedMap::new(cap)) }
    }
}

impl Default for MemoryContentRegistry {
    fn default() -> Self {
        Self::new(1_000_000)
    }
}

impl ContentRegistry for MemoryContentRegistry {
    fn claim<'a>(&'a self, key: &'a str, doc_id: &'a str) -> BoxFuture<'a, Result<Claim, StageError>> {
        let result = self
            .inner
            .lock()
            .map_err(|_| poisoned())
            .map(|mut m| decide(m.get_or_insert(key.to_string(), doc_id.to_string()).cloned(), doc_id));
        Box::pin(future::ready(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn invoice_claims_are_first_wins_and_idempotent() {
        let r = MemoryInvoiceRegistry::default();
        assert_eq!(block_on(r.claim("acme", "INV-1", "a")).unwrap(), Claim::First);
        assert_eq!(block_on(r.claim("acme", "INV-1", "a")).unwrap(), Claim::First);
        assert_eq!(block_on(r.claim("acme", "INV-1", "b")).unwrap(), Claim::Duplicate { first_doc_id: "a".into() });
        assert_eq!(block_on(r.claim("other", "INV-1", "b")).unwrap(), Claim::First);
    }

    #[test]
    fn content_registry_is_bounded() {
        let r = MemoryContentRegistry::new(2);
        for (k, id) in [("k1", "a"), ("k2", "b"), ("k3", "c")] {
            assert_eq!(block_on(r.claim(k, id)).unwrap(), Claim::First);
        }
        // k1 was evicted: a copy of it is no longer recognised (bounded memory).
        assert_eq!(block_on(r.claim("k1", "z")).unwrap(), Claim::First);
        assert!(matches!(block_on(r.claim("k3", "y")).unwrap(), Claim::Duplicate { .. }));
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalize_content("Hello,\n  WORLD!! 42"), "hello world 42");
        assert_eq!(content_key(&normalize_content("a  b")), content_key("a b"));
        assert_eq!(content_key("x").len(), 32);
        assert_eq!(normalize_vendor("  ACME   Corp "), "acme corp");
        assert_eq!(normalize_invoice_number(" inv 001 "), "INV001");
    }
}
