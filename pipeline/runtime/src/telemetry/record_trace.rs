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
//! own, because each exported span costs ≈ 20 µs of CPU on the dev machine
//! (tracing layer, SDK, gRPC export; mostly per attribute) — more than a
//! pass-through stage's whole work per record. The outputs'
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
//! (errors are always kept; see `otel`). The `docflow.sampled` span
//! attribute is the runtime's decision, which the sampler obeys.

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
    /// Start the trace of `raw` in `stage`; `None` while tracing is off.
    pub fn start(stage: &str, raw: &RawRecord) -> Option<Self> {
        let ratio = sample_ratio()?;
        let parent = raw.header(TRACEPARENT).and_then(TraceParent::parse);
        let context = parent.unwrap_or_else(|| TraceParent::new_root_sampled(ratio));
        let sampled = context.is_sampled().then(|| {
            let key = raw.key.as_deref().map(String::from_utf8_lossy);
            let record = tracing::info_span!(
                target: "docflow::trace",
                "record",
                otel.name = %format_args!("{stage} record"),
                otel.kind = "consumer",
                otel.status_code = tracing::field::Empty,
                docflow.sampled = true,
                docflow.stage = stage,
                docflow.decode.duration_us = tracing::field::Empty,
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

    /// Note how long decoding took (the last attempt's, on retries).
    pub fn decoded(&self, took: Duration) {
        if let Some(s) = &self.sampled {
            s.record.record("docflow.decode.duration_us", took.as_micros() as u64);
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

/// Copy the input's trace headers unchanged (tracing off).
pub(crate) fn passthrough_headers(raw: &RawRecord) -> impl Iterator<Item = (&'static str, &[u8])> {
    [TRACEPARENT, TRACESTATE].into_iter().filter_map(|name| raw.header(name).map(|v| (name, v)))
}
