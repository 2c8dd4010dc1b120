//! The stage API: what a stage author implements.
//!
//! A stage turns a batch of decoded inputs into, for each input, either zero
//! or more outputs or a [`StageError`]. Everything else — consuming,
//! decoding, batching, retries, the dead-letter topic, producing, offsets,
//! backpressure, priority lanes, rebalances and shutdown — is the runtime's.
//!
//! ```ignore
//! struct Upper;
//! impl Stage for Upper {
//!     type Input = String;
//!     type Output = String;
//!     fn name(&self) -> &str { "upper" }
//!     async fn process(&self, batch: Vec<Input<String>>) -> Vec<ProcessResult<String>> {
//!         batch.into_iter().map(|i| Ok(vec![Output::new(i.key_or_empty(), i.value.to_uppercase())])).collect()
//!     }
//! }
//! ```
//!
//! `process` runs on the async runtime: CPU-heavy work belongs in
//! `tokio::task::spawn_blocking` (or a dedicated thread, like the GPU
//! encoder), I/O should be awaited. Up to `concurrency` batches run at once;
//! the records of one partition are always handed over in order.

use crate::telemetry::SpanParent;
use docflow_core::StageError;
use docflow_schemas::{codec_from_headers, decode, CodecError, Limits};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;

/// Where a consumed record came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMeta {
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    /// Kafka record timestamp (ms since the epoch), when the broker has one.
    pub timestamp_ms: Option<i64>,
}

/// A consumed record before decoding, as [`Stage::decode`] sees it.
#[derive(Debug, Clone)]
pub struct RawRecord {
    pub meta: RecordMeta,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    /// Kafka headers in order (a `None` value is a null header).
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl RawRecord {
    /// Last value of header `name` (ASCII case-insensitive), Kafka's `lastHeader`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_deref())
    }

    /// Size of the payload in bytes.
    pub fn payload_len(&self) -> usize {
        self.payload.as_ref().map_or(0, Vec::len)
    }
}

/// One decoded input handed to [`Stage::process`].
#[derive(Debug, Clone)]
pub struct Input<T> {
    pub value: T,
    pub key: Option<Vec<u8>>,
    pub meta: RecordMeta,
    /// The record's span in its document's trace. Put the stage's own
    /// steps below it with [`crate::step_span!`] (nothing, at no cost, for
    /// untraced records); the step ends when its span is dropped:
    /// `let _span = docflow_runtime::step_span!(&input.span, "parse");`
    /// (for async work, move the span into the future doing the step).
    /// A batch-wide step goes below the first traced record and links the
    /// others: [`crate::telemetry::StepSpan::start_for_batch`].
    /// Disabled ([`SpanParent::none`]) when tracing is off or the document
    /// is not sampled.
    pub span: SpanParent,
}

impl<T> Input<T> {
    /// An input with no trace (tests, tools calling `process` directly).
    pub fn new(value: T, key: Option<Vec<u8>>, meta: RecordMeta) -> Self {
        Self { value, key, meta, span: SpanParent::none() }
    }
}

impl<T> Input<T> {
    /// The key, or empty bytes when the record had none.
    pub fn key_or_empty(&self) -> Vec<u8> {
        self.key.clone().unwrap_or_default()
    }
}

/// One record a stage wants produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Output<T> {
    /// Kafka key (the document id everywhere in docflow).
    pub key: Vec<u8>,
    pub value: T,
    /// Target topic; `None` means the stage's configured `output_topic`.
    pub topic: Option<String>,
    /// Extra headers. The codec headers and the input's W3C trace context
    /// (`traceparent`, `tracestate`) are added by the runtime.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl<T> Output<T> {
    /// An output to the stage's default output topic.
    pub fn new(key: impl Into<Vec<u8>>, value: T) -> Self {
        Self { key: key.into(), value, topic: None, headers: Vec::new() }
    }

    /// Send this output to another topic than the default.
    pub fn to_topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What processing one input gave: its outputs (possibly none), or why not.
pub type ProcessResult<T> = Result<Vec<Output<T>>, StageError>;

/// A pipeline stage. See the module docs.
pub trait Stage: Send + Sync + 'static {
    type Input: DeserializeOwned + Send + 'static;
    type Output: Serialize + Send + Sync + 'static;

    /// Short stage name (`parse`, `infer`, …): DLQ records and logs carry it.
    fn name(&self) -> &str;

    /// Raw record → input. The default reads the docflow codec headers and
    /// decodes MessagePack / LZ4 / JSON within `limits`. A stage accepting
    /// other formats overrides it. An error dead-letters the record.
    fn decode(&self, record: &RawRecord, limits: &Limits) -> Result<Self::Input, StageError> {
        decode_record(record, limits)
    }

    /// Process a batch: the result must hold exactly one entry per input, in
    /// order (a mismatch dead-letters the whole batch as an internal error).
    fn process(
        &self,
        batch: Vec<Input<Self::Input>>,
    ) -> impl Future<Output = Vec<ProcessResult<Self::Output>>> + Send;

    /// Whether the stage's own dependencies are usable, for `/readyz`
    /// (Kafka connectivity is the runtime's part). `Err(why)` makes the
    /// process report not ready, e.g. while a database circuit breaker is
    /// open. Called on every `/readyz` request: keep it cheap (read a flag).
    fn ready(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The default decoding of a docflow record (see [`Stage::decode`]).
pub fn decode_record<T: DeserializeOwned>(record: &RawRecord, limits: &Limits) -> Result<T, StageError> {
    let headers = record.headers.iter().map(|(k, v)| (k.as_str(), v.as_deref()));
    let codec = codec_from_headers(headers).map_err(codec_error)?;
    let Some(payload) = record.payload.as_deref() else {
        return Err(StageError::user_input("empty", "record has no value (tombstone)"));
    };
    decode(payload, codec, limits).map_err(codec_error)
}

/// A codec failure as a stage error: the input's fault unless serialising.
pub fn codec_error(e: CodecError) -> StageError {
    if e.is_input_error() {
        StageError::user_input(e.kind(), e.to_string())
    } else {
        StageError::internal(e.kind(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use docflow_schemas::{encode, HEADER_CODEC, HEADER_SCHEMA};

    fn record(payload: Vec<u8>, headers: Vec<(&str, &[u8])>) -> RawRecord {
        RawRecord {
            meta: RecordMeta { topic: "t".into(), partition: 0, offset: 0, timestamp_ms: None },
            key: None,
            payload: Some(payload),
            headers: headers.into_iter().map(|(k, v)| (k.to_owned(), Some(v.to_vec()))).collect(),
        }
    }

    #[test]
    fn default_decode_reads_codec_headers() {
        let enc = encode(&("id-1".to_string(), 7u32), &Limits::DEFAULT).unwrap();
        let schema = docflow_schemas::schema_header_value();
        let r = record(enc.bytes, vec![(HEADER_CODEC, enc.codec.header_value().as_bytes()), (HEADER_SCHEMA, schema.as_bytes())]);
        let v: (String, u32) = decode_record(&r, &Limits::DEFAULT).unwrap();
        assert_eq!(v, ("id-1".to_string(), 7));
    }

    #[test]
    fn bad_input_maps_to_user_input_errors_with_codec_kinds() {
        let garbage = record(vec![0xc1, 0xff, 0x00], vec![]);
        let e = decode_record::<(String, u32)>(&garbage, &Limits::DEFAULT).unwrap_err();
        assert!(!e.is_retryable());
        assert_eq!(e.domain, docflow_core::ErrorDomain::UserInput);

        let wrong_schema = record(vec![0x90], vec![(HEADER_SCHEMA, b"docflow.v9")]);
        let e = decode_record::<Vec<u8>>(&wrong_schema, &Limits::DEFAULT).unwrap_err();
        assert_eq!(e.kind, "unsupported_schema_version");

        let mut tomb = record(vec![], vec![]);
        tomb.payload = None;
        assert_eq!(decode_record::<Vec<u8>>(&tomb, &Limits::DEFAULT).unwrap_err().kind, "empty");
    }

    #[test]
    fn header_lookup_is_last_wins_and_case_insensitive() {
        let r = record(vec![], vec![("A", b"1"), ("a", b"2")]);
        assert_eq!(r.header("a"), Some(&b"2"[..]));
        assert_eq!(r.header("b"), None);
    }
}
