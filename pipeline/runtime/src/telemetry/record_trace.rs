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
//! own, because each exported span costs CPU on the dev machine: ≈ 4–5 µs
//! alone (`examples/span_cost.rs`: tracing layer ≈ 45% of the instructions,
//! SDK-to-protobuf conversion and gRPC encoding the rest), 10–13 µs inside
//! a busy stage — as much as a pass-through stage's whole work per record. The outputs'
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

use super::otel::sample_ratio;
use super::trace_context::{HeaderValue, TraceParent, TRACEPARENT, TRACESTATE};
use crate::stage::RawRecord;
use docflow_core::StageError;
use opentelemetry::trace::TraceContextExt as _;
use std::sync::OnceLock;
use std::time::Duration;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Trace state of one in-flight record (only while tracing is on).
pub(crate) struct RecordTrace {
    /// The incoming context, or a new root: what an unsampled record passes on.
    context: TraceParent,
    sampled: Option<Sampled>,
}

struct Sampled {
    record: Span,
    /// The `traceparent` naming the record span (made on first use).
    header: OnceLock<HeaderValue>,
}

impl RecordTrace {
    /// Start the trace of `raw` in the stage whose record spans are named
    /// `span_name` ([`record_span_name`], made once per stage rather than
    /// formatted per record); `None` while tracing is off.
    pub fn start(span_name: &str, raw: &RawRecord) -> Option<Self> {
        let ratio = sample_ratio()?;
        let parent = raw.header(TRACEPARENT).and_then(TraceParent::parse);
        let context = parent.unwrap_or_else(|| TraceParent::new_root_sampled(ratio));
        let sampled = context.is_sampled().then(|| {
            let key = raw.key.as_deref().map(String::from_utf8_lossy);
            let record = tracing::info_span!(
                target: "docflow::trace",
                "record",
                otel.name = span_name,
                otel.kind = "consumer",
                otel.status_code = tracing::field::Empty,
                messaging.system = "kafka",
                messaging.destination.name = &*raw.meta.topic,
                messaging.destination.partition.id = raw.meta.partition,
                messaging.kafka.offset = raw.meta.offset,
                messaging.kafka.message.key = key.as_deref(),
            );
            // A new root (no incoming context) keeps the span's own trace id:
            // the outputs name the span, so the document's trace goes on.
            if let Some(p) = &parent {
                let tracestate = raw.header(TRACESTATE);
                let _ = record.set_parent(opentelemetry::Context::new().with_remote_span_context(p.to_span_context(tracestate)));
            }
            Sampled { record, header: OnceLock::new() }
        });
        Some(Self { context, sampled })
    }

    /// Whether this record's spans are exported.
    pub fn is_sampled(&self) -> bool {
        self.sampled.is_some()
    }

    /// The record span, the parent of the stage's own spans (`Input::span`);
    /// disabled when not sampled.
    pub fn span(&self) -> Span {
        self.sampled.as_ref().map_or_else(Span::none, |s| s.record.clone())
    }

    /// Note how long decoding took (the last attempt's, on retries). Set on
    /// the OTel span directly: a `tracing` record goes through every layer
    /// and a field visitor, three times the cost.
    pub fn decoded(&self, took: Duration) {
        if let Some(s) = &self.sampled {
            s.record.set_attribute("docflow.decode.duration_us", took.as_micros() as i64);
        }
    }

    /// The `traceparent` for this record's outputs: the record span when
    /// sampled, else the context passed on unchanged (the input's
    /// `tracestate` goes with it as it came).
    pub fn output_traceparent(&self) -> HeaderValue {
        match &self.sampled {
            Some(s) => *s.header.get_or_init(|| header_of(&s.record).unwrap_or_else(|| self.context.header_value())),
            None => self.context.header_value(),
        }
    }

    /// Record the failure and return the `traceparent` for the dead letter:
    /// a `dead_letter` span with error status, exported even when the
    /// record was not sampled. `raw` is the record (its `tracestate`).
    pub fn dead_letter(&self, stage: &str, err: &StageError, raw: &RawRecord) -> HeaderValue {
        let span = match &self.sampled {
            Some(s) => {
                s.record.record("otel.status_code", "ERROR");
                tracing::info_span!(
                    target: "docflow::trace", parent: &s.record, "dead_letter",
                    otel.status_code = "ERROR", error.type = %err.kind, docflow.error.domain = err.domain.as_str(),
                )
            }
            None => {
                let span = tracing::info_span!(
                    target: "docflow::trace", parent: None, "dead_letter",
                    otel.name = %format_args!("{stage} dead_letter"),
                    otel.status_code = "ERROR", error.type = %err.kind, docflow.error.domain = err.domain.as_str(),
                    docflow.stage = stage, docflow.sampled = true, docflow.sampled.reason = "error",
                );
                let _ = span.set_parent(
                    opentelemetry::Context::new().with_remote_span_context(self.context.to_span_context(raw.header(TRACESTATE))),
                );
                span
            }
        };
        header_of(&span).unwrap_or_else(|| self.context.header_value())
    }

    /// A retry event on the record span.
    pub fn note_retry(&self, attempt: u32) {
        if let Some(s) = &self.sampled {
            tracing::info!(target: "docflow::trace", parent: &s.record, attempt, "retrying after a retryable error");
        }
    }
}

/// The `traceparent` naming `span` (`None` if the span is not exported).
fn header_of(span: &Span) -> Option<HeaderValue> {
    let cx = span.context();
    let span = cx.span();
    TraceParent::from_span_context(span.span_context()).map(|tp| tp.header_value())
}

/// The name of `stage`'s record spans (`parse record`).
pub(crate) fn record_span_name(stage: &str) -> String {
    format!("{stage} record")
}

/// Copy the input's trace headers unchanged (tracing off).
pub(crate) fn passthrough_headers(raw: &RawRecord) -> impl Iterator<Item = (&'static str, &[u8])> {
    [TRACEPARENT, TRACESTATE].into_iter().filter_map(|name| raw.header(name).map(|v| (name, v)))
}

/// CPU cost of tracing one record the way a stage does (record span, one
/// step span below it, the output `traceparent`), for `span_cost` in
/// `examples/` (issue 10's overhead work). Returns records traced; the
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
        let Some(trace) = RecordTrace::start(&span_name, &raw) else { continue };
        sampled += u64::from(trace.is_sampled());
        trace.decoded(Duration::from_micros(3));
        {
            let parent = trace.span();
            let _step = crate::step_span!(&parent, "parse", docflow.parse.format = "text").entered();
        }
        std::hint::black_box(trace.output_traceparent());
    }
    sampled
}
