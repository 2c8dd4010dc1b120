//! docflow-schemas: the wire contracts of every topic.
//!
//! Where things are:
//! - [`envelope`] (`src/envelope.rs`): one struct per topic's message value,
//!   field by field; `RawDocument`'s hand-written serde (JSON `body` /
//!   `body_base64`) is in `src/envelope/raw_wire.rs`.
//! - [`codec`] (`src/codec.rs` + `src/codec/`): [`encode`] / [`decode`] /
//!   [`codec_from_headers`], the [`Codec`] and [`Limits`] types, the LZ4 frame
//!   ([`codec::frame`]), the MessagePack structural pre-check, [`CodecError`].
//! - [`topology`] (`src/topology.rs`): the standard topics as typed
//!   constants ([`Topic`]`<Envelope>`) and the raw lanes ([`Priority`]),
//!   checked against `topics/topics.toml` by `tests/topology.rs`.
//! - `schemas/README.md`: the contract for producers in any language (topics,
//!   fields, headers, frame layout, JSON form, versioning policy).
//! - `schemas/cql/`: the CQL schema (applied by `docflow schema apply`).
//! - `schemas/fuzz/`: a `cargo fuzz` target for the decoder (own workspace).
//!
//! Keys are the document id everywhere. Values are MessagePack with named
//! fields, LZ4-framed above a size threshold, with headers naming codec
//! (`docflow-codec`) and schema version (`docflow-schema`). Decoding is total:
//! any input yields a value or a typed [`CodecError`], with bounded memory.

pub mod codec;
pub mod envelope;
pub mod topology;

pub use codec::*;
pub use envelope::*;
pub use topology::{Priority, Topic};

/// Major version of every envelope in this crate; carried in the
/// `docflow-schema` header as `docflow.v<SCHEMA_VERSION>`.
pub const SCHEMA_VERSION: u16 = 1;
