//! [`ParseLimits`]: the bounds that keep a parse worker's time and memory
//! finite whatever a producer sends.

use serde::{Deserialize, Serialize};

/// Parse limits (config section `parse`). Every violation is a typed
/// [`crate::ParseError`]; nothing is silently truncated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParseLimits {
    /// Largest accepted document body in bytes (default 16 MiB, the wire
    /// limit: a body that fits in a record is not refused for its size).
    pub max_document_bytes: usize,
    /// Largest accepted PDF page count (default 500).
    pub max_pdf_pages: usize,
    /// Deepest accepted JSON nesting of a document body, counting each object
    /// or array as one level (default 128, the envelope limit `MAX_DEPTH`).
    pub max_json_depth: usize,
    /// Largest extracted text in bytes (default 16 MiB).
    pub max_text_bytes: usize,
    /// Most bytes a PDF's filtered streams (Flate, LZW, ASCII85, nested
    /// layers counted each) may decode to: per stream, and in total over the
    /// streams that are not images (default 64 MiB). Enforced while
    /// decoding, before the PDF reader inflates anything; above it the
    /// document is refused as `decompression_bomb`.
    pub max_inflated_bytes: usize,
    /// Per-document parse deadline in milliseconds (default 10 000). PDFs are
    /// parsed on a dedicated thread that is abandoned at the deadline.
    pub deadline_ms: u64,
    /// How many abandoned (timed-out) PDF threads may still be running before
    /// new PDFs are refused with a retryable `busy` error (default 4): bounds
    /// the CPU and memory a hostile PDF stream can pin.
    pub max_abandoned_pdf_threads: usize,
}

impl ParseLimits {
    /// The defaults, usable in `const` context.
    pub const fn new() -> Self {
        Self {
            max_document_bytes: docflow_schemas::Limits::DEFAULT.max_encoded_bytes,
            max_pdf_pages: 500,
            max_json_depth: docflow_schemas::MAX_DEPTH,
            max_text_bytes: 16 * 1024 * 1024,
            max_inflated_bytes: 64 * 1024 * 1024,
            deadline_ms: 10_000,
            max_abandoned_pdf_threads: 4,
        }
    }
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_fields() {
        let l: ParseLimits = serde_json::from_str(r#"{"max_pdf_pages": 3}"#).unwrap();
        assert_eq!(l.max_pdf_pages, 3);
        assert_eq!(l.max_document_bytes, 16 * 1024 * 1024);
        assert!(serde_json::from_str::<ParseLimits>(r#"{"max_pages": 3}"#).is_err());
    }
}
