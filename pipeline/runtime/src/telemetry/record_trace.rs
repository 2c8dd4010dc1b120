//! The trace of one consumed record inside a stage.
//!
//! Span tree of a sampled record in stage `S` (names are the OTel names):
//!
//! ```text
//! S record   (consumer; parent: the upstream producer's span from `traceparent`)
//! ├─ decode
//! ├─ process          ← `Input::span`: the stage's own spans go below it
//! │   └─ parse / tokenize / score / write …   (stage code)
//! ├─ produce          (producer; its context is the outputs' `traceparent`)
//! └─ dead_letter      (error status, when the record is dead-lettered)
//! ```
//!
//! An unsampled record costs a header parse (or two random ids) and a
//! header write: no span exists, the outputs carry the incoming context
//! (or a new unsampled one) so later stages make the same decision. A
//! dead-lettered unsampled record still gets an exported `dead_letter` span
//! (errors are always kept; see `otel`). The `docflow.sampled` span
//! attribute is the runtime's decision, which the sampler obeys.

use super::otel::sample_ratio;
use super::trace_context::{TraceParent, TRACEPARENT, TRACESTATE};
use crate::stage::RawRecord;
use docflow_core::StageError;
use opentelemetry::trace::TraceContextExt as _;
use std::sync::OnceLock;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Trace state of one in-flight record (only while tracing is on).
pub(crate) struct RecordTrace {
    /// The incoming context, or a new root: what an unsampled record passes on.
    context: TraceParent,
    /// Incoming `tracestate`, forwarded unchanged.
    tracestate: Option<Vec<u8>>,
    sampled: Option<Sampled>,
}

struct Sampled {
    record: Span,
    /// The `produce` span and the `traceparent` value naming it.
    produce: OnceLock<(Span, String)>,
}

impl RecordTrace {
    /// Start the trace of `raw` in `stage`; `None` while tracing is off.
    pub fn start(stage: &str, raw: &RawRecord) -> Option<Self> {
        let ratio = sample_ratio()?;
        let parent = raw.header(TRACEPARENT).and_then(TraceParent::parse);
        let tracestate = raw.header(TRACESTATE).map(<[u8]>::to_vec);
        let sampled = match &parent {
            Some(p) => p.is_sampled(),
            None => ratio > 0.0 && rand::random::<f64>() < ratio,
        };
        let context = parent.unwrap_or_else(|| TraceParent::new_root(false));
        let sampled = sampled.then(|| {
            let key = raw.key.as_deref().map(String::from_utf8_lossy);
            let record = tracing::info_span!(
                target: "docflow::trace",
                "record",
                otel.name = %format_args!("{stage} record"),
                otel.kind = "consumer",
                otel.status_code = tracing::field::Empty,
                docflow.sampled = true,
                docflow.stage = stage,
                messaging.system = "kafka",
                messaging.operation.type = "process",
                messaging.destination.name = &*raw.meta.topic,
                messaging.destination.partition.id = raw.meta.partition,
                messaging.kafka.offset = raw.meta.offset,
                messaging.kafka.message.key = key.as_deref(),
            );
            if let Some(p) = &parent {
                let _ = record.set_parent(opentelemetry::Context::new().with_remote_span_context(p.to_span_context(tracestate.as_deref())));
            }
            Sampled { record, produce: OnceLock::new() }
        });
        Some(Self { context, tracestate, sampled })
    }

    /// A `decode` span (disabled when not sampled).
    pub fn decode_span(&self) -> Span {
        match &self.sampled {
            Some(s) => tracing::info_span!(target: "docflow::trace", parent: &s.record, "decode"),
            None => Span::none(),
        }
    }

    /// A `process` span for one attempt (disabled when not sampled).
    pub fn process_span(&self, attempt: u32) -> Span {
        match &self.sampled {
            Some(s) => tracing::info_span!(target: "docflow::trace", parent: &s.record, "process", docflow.attempt = attempt),
            None => Span::none(),
        }
    }

    /// `(traceparent, tracestate)` for this record's outputs. Sampled: the
    /// `produce` span (started on first use, ended when the record is
    /// done); else the context passed on unchanged.
    pub fn output_headers(&self) -> (String, Option<&[u8]>) {
        let traceparent = match &self.sampled {
            Some(s) => {
                s.produce
                    .get_or_init(|| {
                        let span = tracing::info_span!(target: "docflow::trace", parent: &s.record, "produce", otel.kind = "producer");
                        let header = header_of(&span).unwrap_or_else(|| self.context.to_header());
                        (span, header)
                    })
                    .1
                    .clone()
            }
            None => self.context.to_header(),
        };
        (traceparent, self.tracestate.as_deref())
    }

    /// Record the failure and return `(traceparent, tracestate)` for the
    /// dead letter: a `dead_letter` span with error status, exported even
    /// when the record was not sampled.
    pub fn dead_letter(&self, stage: &str, err: &StageError) -> (String, Option<&[u8]>) {
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
                    opentelemetry::Context::new().with_remote_span_context(self.context.to_span_context(self.tracestate.as_deref())),
                );
                span
            }
        };
        let traceparent = header_of(&span).unwrap_or_else(|| self.context.to_header());
        (traceparent, self.tracestate.as_deref())
    }

    /// The record's `process`-level parent for a retry event.
    pub fn note_retry(&self, attempt: u32) {
        if let Some(s) = &self.sampled {
            tracing::info!(target: "docflow::trace", parent: &s.record, attempt, "retrying after a retryable error");
        }
    }
}

/// The `traceparent` naming `span` (`None` if the span is not exported).
fn header_of(span: &Span) -> Option<String> {
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    TraceParent::from_span_context(&sc).map(|tp| tp.to_header())
}

/// Copy the input's trace headers unchanged (tracing off).
pub(crate) fn passthrough_headers(raw: &RawRecord) -> impl Iterator<Item = (&'static str, &[u8])> {
    [TRACEPARENT, TRACESTATE].into_iter().filter_map(|name| raw.header(name).map(|v| (name, v)))
}
