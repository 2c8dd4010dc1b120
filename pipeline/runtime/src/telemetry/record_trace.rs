//! The trace of one consumed record inside a stage.
//!
//! Span tree of a sampled record in stage `S` (names are the OTel names):
//!
//! ```text
//! S record   (consumer; parent: the upstream stage's record span, from `traceparent`)
//! ├─ parse / tokenize / score / write …   (stage code, below `Input::span`)
//! └─ dead_letter      (error status, when the record is dead-lettered)
//! ```
//!
//! One runtime span per sampled record, with few attributes: decode,
//! process attempts and produce are an attribute
//! (`docflow.decode.duration_us`) and events (retries), not spans of their
//! own, because each exported span costs CPU. The spans are built with the
//! OpenTelemetry SDK directly (`spans`), not through `tracing`: a record
//! span and one step span cost ≈ 4 µs of CPU together on the dev machine,
//! export included, half what the `tracing` layering cost
//! (`examples/span_cost.rs`, docs/benchmarks.md). The outputs'
//! `traceparent` names the record span, so the next stage's record span is
//! its child.
//!
//! Sampling is decided before anything is built: from the incoming
//! `traceparent` flag (parent-based), or for a record without one from the
//! id of the new trace (`sampled_by_id`). An unsampled record costs a
//! header parse (or two random ids) and a 55-byte header write on the
//! stack: no span, no allocation; its outputs carry the incoming context (or
//! the new unsampled one) so later stages make the same decision. A
//! dead-lettered unsampled record still gets an exported `dead_letter` span
//! (errors are always kept; see `otel`). The sampler keeps a record span
//! without a parent because only the runtime makes consumer spans, and only
//! for records it sampled.

use super::otel::{sample_ratio, SAMPLED_ATTR};
use super::spans::{self, SpanParent};
use super::trace_context::{HeaderValue, TraceParent, TRACEPARENT, TRACESTATE};
use crate::stage::RawRecord;
use docflow_core::StageError;
use opentelemetry::trace::{Span as _, SpanKind, Status};
use opentelemetry::KeyValue;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Trace state of one in-flight record (only while tracing is on).
pub(crate) struct RecordTrace {
    /// The incoming context, or a new root: what an unsampled record passes on.
    context: TraceParent,
    sampled: Option<Sampled>,
}

struct Sampled {
    /// The record span; ends (and is queued for export) when the record's
    /// trace is dropped. A mutex because workers add to it through `&self`.
    record: Mutex<opentelemetry_sdk::trace::Span>,
    /// Its context: the parent of the stage's steps and of the outputs.
    parent: SpanParent,
}

impl RecordTrace {
    /// Start the trace of `raw` in the stage whose record spans are named
    /// `span_name` ([`record_span_name`], made once per stage rather than
    /// formatted per record); `None` while tracing is off.
    pub fn start(span_name: &'static str, raw: &RawRecord) -> Option<Self> {
        let ratio = sample_ratio()?;
        let parent = raw.header(TRACEPARENT).and_then(TraceParent::parse);
        let context = parent.unwrap_or_else(|| TraceParent::new_root_sampled(ratio));
        let sampled = if context.is_sampled() {
            let mut attributes = Vec::with_capacity(5);
            attributes.push(KeyValue::new("messaging.system", "kafka"));
            attributes.push(KeyValue::new("messaging.destination.name", raw.meta.topic.clone()));
            attributes.push(KeyValue::new("messaging.destination.partition.id", i64::from(raw.meta.partition)));
            attributes.push(KeyValue::new("messaging.kafka.offset", raw.meta.offset));
            if let Some(key) = &raw.key {
                attributes.push(KeyValue::new("messaging.kafka.message.key", String::from_utf8_lossy(key).into_owned()));
            }
            // A new root (no incoming context) gets the SDK's trace id: the
            // outputs name the span, so the document's trace goes on from it.
            let parent_context = parent.as_ref().map(|p| p.to_span_context(raw.header(TRACESTATE)));
            spans::start(span_name, SpanKind::Consumer, parent_context, attributes, Vec::new()).map(|span| {
                let parent = SpanParent::of(span.span_context().clone());
                Sampled { record: Mutex::new(span), parent }
            })
        } else {
            None
        };
        Some(Self { context, sampled })
    }

    /// Whether this record's spans are exported.
    pub fn is_sampled(&self) -> bool {
        self.sampled.is_some()
    }

    /// The record span as the stage's steps see it (`Input::span`);
    /// disabled when not sampled.
    pub fn span(&self) -> SpanParent {
        self.sampled.as_ref().map_or_else(SpanParent::none, |s| s.parent.clone())
    }

    /// Run `f` on the record span, when sampled.
    fn with_record(&self, f: impl FnOnce(&mut opentelemetry_sdk::trace::Span)) {
        if let Some(s) = &self.sampled {
            f(&mut s.record.lock().unwrap_or_else(|p| p.into_inner()));
        }
    }

    /// Note how long decoding took (the last attempt's, on retries).
    pub fn decoded(&self, took: Duration) {
        self.with_record(|span| span.set_attribute(KeyValue::new("docflow.decode.duration_us", took.as_micros() as i64)));
    }

    /// The `traceparent` for this record's outputs: the record span when
    /// sampled, else the context passed on unchanged (the input's
    /// `tracestate` goes with it as it came).
    pub fn output_traceparent(&self) -> HeaderValue {
        let named = self.sampled.as_ref().and_then(|s| s.parent.span_context()).and_then(TraceParent::from_span_context);
        named.unwrap_or(self.context).header_value()
    }

    /// Record the failure and return the `traceparent` for the dead letter:
    /// a `dead_letter` span with error status, exported even when the
    /// record was not sampled. `raw` is the record (its `tracestate`).
    pub fn dead_letter(&self, stage: &str, err: &StageError, raw: &RawRecord) -> HeaderValue {
        let error_attributes = || {
            vec![KeyValue::new("error.type", err.kind.to_string()), KeyValue::new("docflow.error.domain", err.domain.as_str())]
        };
        let span = match &self.sampled {
            Some(s) => {
                self.with_record(|span| span.set_status(Status::error("")));
                spans::start("dead_letter", SpanKind::Internal, s.parent.span_context().cloned(), error_attributes(), Vec::new())
            }
            None => {
                let mut attributes = error_attributes();
                attributes.push(KeyValue::new("docflow.stage", stage.to_owned()));
                // Errors are kept in unsampled traces: the sampler obeys this.
                attributes.push(KeyValue::new(SAMPLED_ATTR, true));
                attributes.push(KeyValue::new("docflow.sampled.reason", "error"));
                let parent = self.context.to_span_context(raw.header(TRACESTATE));
                spans::start(format!("{stage} dead_letter"), SpanKind::Internal, Some(parent), attributes, Vec::new())
            }
        };
        let Some(mut span) = span else { return self.context.header_value() };
        span.set_status(Status::error(""));
        TraceParent::from_span_context(span.span_context()).unwrap_or(self.context).header_value()
    }

    /// A retry event on the record span.
    pub fn note_retry(&self, attempt: u32) {
        self.with_record(|span| {
            span.add_event("retrying after a retryable error", vec![KeyValue::new("attempt", i64::from(attempt))]);
        });
    }
}

/// The name of `stage`'s record spans (`parse record`), made once per
/// stage name: span names are `'static` in the SDK, so each distinct name
/// is kept for the process's life (a handful of stages).
pub(crate) fn record_span_name(stage: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut names = NAMES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    names.entry(stage.to_owned()).or_insert_with(|| Box::leak(format!("{stage} record").into_boxed_str()))
}

/// Copy the input's trace headers unchanged (tracing off).
pub(crate) fn passthrough_headers(raw: &RawRecord) -> impl Iterator<Item = (&'static str, &[u8])> {
    [TRACEPARENT, TRACESTATE].into_iter().filter_map(|name| raw.header(name).map(|v| (name, v)))
}

/// CPU cost of tracing one record the way a stage does (record span, one
/// step span below it, the output `traceparent`), for `span_cost` in
/// `examples/` (the overhead measurement). Returns records traced; the
/// caller measures CPU around it and the exporter's flush.
#[doc(hidden)]
pub fn trace_records_for_bench(stage: &str, n: u64, traceparent: Option<&[u8]>) -> u64 {
    use crate::stage::RecordMeta;
    use std::sync::Arc;
    let topic: Arc<str> = Arc::from("bench.docs.raw.normal");
    let span_name = record_span_name(stage);
    let mut sampled = 0;
    for i in 0..n {
        let mut headers = Vec::new();
        if let Some(tp) = traceparent {
            headers.push((TRACEPARENT.to_owned(), Some(tp.to_vec())));
        }
        let raw = RawRecord {
            meta: RecordMeta { topic: topic.clone(), partition: (i % 4) as i32, offset: i as i64, timestamp_ms: None },
            key: Some(format!("doc-{i:08}").into_bytes()),
            payload: None,
            headers,
        };
        let Some(trace) = RecordTrace::start(span_name, &raw) else { continue };
        sampled += u64::from(trace.is_sampled());
        trace.decoded(Duration::from_micros(3));
        {
            let parent = trace.span();
            let _step = crate::step_span!(&parent, "parse", docflow.parse.format = "text");
        }
        std::hint::black_box(trace.output_traceparent());
    }
    sampled
}
