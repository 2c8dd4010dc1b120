//! The value codec of every docflow topic: MessagePack (named fields), LZ4-framed
//! above a size threshold, JSON accepted on `docs.raw.*`.
//!
//! - [`encode`] / [`encode_with`]: value → bytes plus the [`Codec`] to put in the
//!   `docflow-codec` header ([`Encoded::headers`] gives both headers).
//! - [`codec_from_headers`]: Kafka headers → [`Codec`], checking the schema version.
//! - [`decode`]: bytes + codec → value. Decoding is *total*: any input gives a
//!   value or a typed [`CodecError`], never a panic, and memory stays bounded by
//!   [`Limits`] (sizes are checked before anything is allocated).
//!
//! Sub-modules, one job each: [`frame`] (the LZ4 frame layout), `msgpack_check`
//! and `json_check` (nesting depth of JSON input, the same limit),
//! (a non-recursive walk that rejects lengths the input cannot hold before serde
//! sees it), `headers` (header parsing), `error` ([`CodecError`]).

mod error;
pub mod frame;
mod headers;
mod json_check;
mod msgpack_check;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use error::CodecError;
pub use headers::{codec_from_headers, schema_header_value};

/// Kafka header naming the value codec: `msgpack`, `msgpack+lz4` or `json`.
pub const HEADER_CODEC: &str = "docflow-codec";
/// Kafka header naming the envelope schema version, e.g. `docflow.v1`.
pub const HEADER_SCHEMA: &str = "docflow-schema";
/// Kafka header with a MIME type; `application/json` selects JSON on `docs.raw.*`
/// when `docflow-codec` is absent.
pub const HEADER_CONTENT_TYPE: &str = "content-type";

/// Longest document id in bytes (UTF-8): the record key and `id` of every
/// envelope. Checked at the door (the parse stage) and again before storing.
pub const MAX_ID_BYTES: usize = 256;

/// Deepest container nesting accepted in a message (MessagePack and JSON alike). The envelopes nest about six
/// levels deep; the limit leaves room for unknown (newer) fields while keeping
/// the recursive serde decoders far from the thread's stack limit.
pub const MAX_DEPTH: usize = 128;

/// How a message value is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// MessagePack with named fields (maps keyed by field name).
    MsgPack,
    /// MessagePack inside the LZ4 frame described in [`frame`].
    MsgPackLz4,
    /// UTF-8 JSON (accepted on `docs.raw.*`; see `schemas/README.md`).
    Json,
}

impl Codec {
    /// The `docflow-codec` header value for this codec.
    pub fn header_value(self) -> &'static str {
        match self {
            Codec::MsgPack => "msgpack",
            Codec::MsgPackLz4 => "msgpack+lz4",
            Codec::Json => "json",
        }
    }

    /// Parses a `docflow-codec` header value (ASCII case-insensitive, trimmed).
    pub fn from_header(v: &str) -> Option<Codec> {
        let v = v.trim();
        [Codec::MsgPack, Codec::MsgPackLz4, Codec::Json]
            .into_iter()
            .find(|c| c.header_value().eq_ignore_ascii_case(v))
    }
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.header_value())
    }
}

/// Size limits applied by [`encode`] and [`decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest value accepted on the wire (after compression).
    pub max_encoded_bytes: usize,
    /// Largest MessagePack/JSON payload (after decompression); an LZ4 frame
    /// claiming more is rejected before any allocation.
    pub max_decoded_bytes: usize,
    /// MessagePack payloads longer than this are LZ4-framed by [`encode`]
    /// (when that makes them smaller).
    pub lz4_threshold_bytes: usize,
}

impl Limits {
    /// 16 MiB on the wire, 32 MiB decoded, LZ4 above 1 KiB.
    pub const DEFAULT: Limits = Limits {
        max_encoded_bytes: 16 << 20,
        max_decoded_bytes: 32 << 20,
        lz4_threshold_bytes: 1 << 10,
    };
}

/// The record size docflow's topics (`max.message.bytes`) and producers
/// (`message.max.bytes`) allow: the wire limit ([`Limits::DEFAULT`]'s
/// `max_encoded_bytes`, 16 MiB) plus 1 MiB for the key, the headers, the
/// record batch framing and, on `docs.dlq`, the dead-letter envelope around
/// a value of up to the wire limit. `topics/topics.toml` states the same
/// number (a test holds the two together).
pub const MAX_MESSAGE_BYTES: usize = Limits::DEFAULT.max_encoded_bytes + (1 << 20);

impl Limits {
    /// For reading `docs.dlq`: a dead letter carries an original value of up
    /// to the wire limit, so the record itself may exceed it by the envelope.
    pub const DEAD_LETTER: Limits = Limits {
        max_encoded_bytes: MAX_MESSAGE_BYTES,
        max_decoded_bytes: Limits::DEFAULT.max_decoded_bytes + MAX_MESSAGE_BYTES,
        lz4_threshold_bytes: Limits::DEFAULT.lz4_threshold_bytes,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// An encoded value and the codec that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The Kafka record value.
    pub bytes: Vec<u8>,
    /// What to put in the `docflow-codec` header.
    pub codec: Codec,
}

impl Encoded {
    /// The headers a producer attaches: `docflow-codec` and `docflow-schema`.
    pub fn headers(&self) -> [(&'static str, String); 2] {
        [
            (HEADER_CODEC, self.codec.header_value().to_string()),
            (HEADER_SCHEMA, schema_header_value()),
        ]
    }
}

/// Encodes `value` as MessagePack with named fields; payloads above
/// `limits.lz4_threshold_bytes` are LZ4-framed when that makes them smaller
/// (incompressible bodies stay plain, the codec says which).
pub fn encode<T: Serialize>(value: &T, limits: &Limits) -> Result<Encoded, CodecError> {
    let raw = msgpack_bytes(value, limits)?;
    if raw.len() > limits.lz4_threshold_bytes {
        let framed = frame::encode(&raw)?;
        if framed.len() < raw.len() {
            return finish(framed, Codec::MsgPackLz4, limits);
        }
    }
    finish(raw, Codec::MsgPack, limits)
}

/// Encodes `value` with exactly the given codec (no threshold): for producers
/// that publish JSON on `docs.raw.*`, and for tests of each path.
pub fn encode_with<T: Serialize>(
    value: &T,
    codec: Codec,
    limits: &Limits,
) -> Result<Encoded, CodecError> {
    let bytes = match codec {
        Codec::MsgPack => msgpack_bytes(value, limits)?,
        Codec::MsgPackLz4 => frame::encode(&msgpack_bytes(value, limits)?)?,
        Codec::Json => {
            let json =
                serde_json::to_vec(value).map_err(|e| CodecError::Serialize(e.to_string()))?;
            check_size("decoded", json.len(), limits.max_decoded_bytes)?;
            json
        }
    };
    finish(bytes, codec, limits)
}

/// Decodes a value. Total: returns a value or a typed error for any input,
/// with memory bounded by `limits` (see the module docs).
pub fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    codec: Codec,
    limits: &Limits,
) -> Result<T, CodecError> {
    check_size("encoded", bytes.len(), limits.max_encoded_bytes)?;
    match codec {
        Codec::MsgPack => {
            check_size("decoded", bytes.len(), limits.max_decoded_bytes)?;
            decode_msgpack(bytes)
        }
        Codec::MsgPackLz4 => decode_msgpack(&frame::decode(bytes, limits)?),
        Codec::Json => {
            check_size("decoded", bytes.len(), limits.max_decoded_bytes)?;
            json_check::check(bytes, MAX_DEPTH)?;
            serde_json::from_slice(bytes).map_err(CodecError::from_json)
        }
    }
}

fn msgpack_bytes<T: Serialize>(value: &T, limits: &Limits) -> Result<Vec<u8>, CodecError> {
    let raw = rmp_serde::to_vec_named(value).map_err(|e| CodecError::Serialize(e.to_string()))?;
    check_size("decoded", raw.len(), limits.max_decoded_bytes)?;
    Ok(raw)
}

fn finish(bytes: Vec<u8>, codec: Codec, limits: &Limits) -> Result<Encoded, CodecError> {
    check_size("encoded", bytes.len(), limits.max_encoded_bytes)?;
    Ok(Encoded { bytes, codec })
}

fn check_size(what: &'static str, size: usize, limit: usize) -> Result<(), CodecError> {
    if size > limit {
        return Err(CodecError::TooLarge { what, size, limit });
    }
    Ok(())
}

fn decode_msgpack<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    // The structural walk rejects declared lengths the input cannot hold, too
    // deep nesting and trailing bytes, so serde below never sees a length
    // prefix larger than the remaining input (no huge pre-allocation).
    msgpack_check::check(bytes, MAX_DEPTH)?;
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    de.set_max_depth(MAX_DEPTH + 1);
    T::deserialize(&mut de).map_err(CodecError::from_msgpack)
}
