//! [`CodecError`]: every way encoding or decoding can fail, each with a stable
//! snake_case [`kind`](CodecError::kind) used as the DLQ `error_kind`.

/// A codec failure. Decoding failures are caused by the input (a DLQ case,
/// never worth a retry); [`CodecError::Serialize`] is a bug in the producer.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The input (`what` = `encoded`) or the payload (`what` = `decoded`) is
    /// larger than the configured limit.
    #[error("{what} size {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        what: &'static str,
        size: usize,
        limit: usize,
    },
    /// The input ends before the value does (also: a declared length larger
    /// than the bytes that remain).
    #[error("truncated input: the message ends before the value does")]
    Truncated,
    /// The LZ4 frame is not well formed (bad magic, corrupt block, length mismatch).
    #[error("bad LZ4 frame: {0}")]
    BadFrame(String),
    /// An LZ4 frame claims a decompressed size over the limit, or more than its
    /// block could possibly expand to. Nothing was allocated.
    #[error("decompression bomb: frame claims {claimed} decompressed bytes, limit {limit}")]
    DecompressionBomb { claimed: u64, limit: usize },
    /// Containers nested deeper than [`MAX_DEPTH`](super::MAX_DEPTH).
    #[error("nesting deeper than {limit} levels")]
    TooDeep { limit: usize },
    /// Well-formed bytes that are not a valid envelope (wrong type, missing
    /// field, bad UTF-8, trailing bytes, …).
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A `docflow-codec` header value this version does not know.
    #[error("unsupported codec {0:?} (expected msgpack, msgpack+lz4 or json)")]
    UnsupportedCodec(String),
    /// A `docflow-schema` header naming another major version.
    #[error("unsupported schema version {0:?} (this build reads {expected})", expected = super::schema_header_value())]
    UnsupportedSchemaVersion(String),
    /// The value could not be serialised (a producer bug, not an input problem).
    #[error("cannot serialise value: {0}")]
    Serialize(String),
}

impl CodecError {
    /// Every [`kind`](Self::kind), as listed in `schemas/README.md`.
    pub const KINDS: [&'static str; 9] = [
        "too_large",
        "truncated",
        "bad_frame",
        "decompression_bomb",
        "too_deep",
        "malformed",
        "unsupported_codec",
        "unsupported_schema_version",
        "serialize",
    ];

    /// Stable snake_case name, used as the DLQ reason (`error_kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            CodecError::TooLarge { .. } => "too_large",
            CodecError::Truncated => "truncated",
            CodecError::BadFrame(_) => "bad_frame",
            CodecError::DecompressionBomb { .. } => "decompression_bomb",
            CodecError::TooDeep { .. } => "too_deep",
            CodecError::Malformed(_) => "malformed",
            CodecError::UnsupportedCodec(_) => "unsupported_codec",
            CodecError::UnsupportedSchemaVersion(_) => "unsupported_schema_version",
            CodecError::Serialize(_) => "serialize",
        }
    }

    /// True when the input is at fault (send it to the DLQ, do not retry).
    pub fn is_input_error(&self) -> bool {
        !matches!(self, CodecError::Serialize(_))
    }

    pub(super) fn from_msgpack(e: rmp_serde::decode::Error) -> CodecError {
        use rmp_serde::decode::Error as E;
        match e {
            E::InvalidMarkerRead(io) | E::InvalidDataRead(io)
                if io.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                CodecError::Truncated
            }
            E::DepthLimitExceeded => CodecError::TooDeep {
                limit: super::MAX_DEPTH,
            },
            other => CodecError::Malformed(other.to_string()),
        }
    }

    pub(super) fn from_json(e: serde_json::Error) -> CodecError {
        match e.classify() {
            serde_json::error::Category::Eof => CodecError::Truncated,
            _ => CodecError::Malformed(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CodecError;

    #[test]
    fn kinds_lists_every_variant() {
        let all = [
            CodecError::TooLarge { what: "encoded", size: 2, limit: 1 },
            CodecError::Truncated,
            CodecError::BadFrame(String::new()),
            CodecError::DecompressionBomb { claimed: 2, limit: 1 },
            CodecError::TooDeep { limit: 1 },
            CodecError::Malformed(String::new()),
            CodecError::UnsupportedCodec(String::new()),
            CodecError::UnsupportedSchemaVersion(String::new()),
            CodecError::Serialize(String::new()),
        ];
        for e in &all {
            // A new variant fails to compile here until it is listed above.
            match e {
                CodecError::TooLarge { .. }
                | CodecError::Truncated
                | CodecError::BadFrame(_)
                | CodecError::DecompressionBomb { .. }
                | CodecError::TooDeep { .. }
                | CodecError::Malformed(_)
                | CodecError::UnsupportedCodec(_)
                | CodecError::UnsupportedSchemaVersion(_)
                | CodecError::Serialize(_) => {}
            }
        }
        let kinds: Vec<&str> = all.iter().map(CodecError::kind).collect();
        assert_eq!(kinds, CodecError::KINDS);
    }
}
