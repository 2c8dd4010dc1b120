//! Per-document spans built with the OpenTelemetry SDK directly: the
//! record span's handle given to stage code ([`SpanParent`]) and the stage
//! steps below it ([`StepSpan`], through [`crate::step_span!`]).
//!
//! Why not `tracing` spans: a span made through `tracing` and
//! `tracing-opentelemetry` passes every subscriber layer, a field visitor
//! per attribute, the registry's slab and an OTel span builder kept in the
//! span's extensions; for docflow's two spans per sampled document that
//! layering was about two thirds of the instructions of creating and ending
//! them (`examples/span_cost.rs` under callgrind, docs/benchmarks.md).
//! These spans go straight to the SDK tracer, its sampler and its batch
//! processor: the same export, sampling policy and OTLP output.
//!
//! `tracing` stays for logs, and for producers outside the runtime whose
//! own `tracing` spans name the trace ([`super::current_trace_headers`]).

use opentelemetry::trace::{Link, SpanContext, SpanKind, Tracer as _, TraceContextExt as _};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{SdkTracer, Span};
use std::borrow::Cow;
use std::sync::OnceLock;

/// The exporting tracer, set once when span export is installed.
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// Make `tracer` the one docflow's document spans go to (the first
/// installation wins; a process installs telemetry once).
pub(crate) fn set_tracer(tracer: SdkTracer) {
    let _ = TRACER.set(tracer);
}

/// The exporting tracer while span export is on.
pub(crate) fn tracer() -> Option<&'static SdkTracer> {
    super::otel::sample_ratio().and(TRACER.get())
}

/// Start a span named `name` below `parent` (or a root with no parent),
/// `None` when export is off.
pub(crate) fn start(
    name: impl Into<Cow<'static, str>>,
    kind: SpanKind,
    parent: Option<SpanContext>,
    attributes: Vec<KeyValue>,
    links: Vec<Link>,
) -> Option<Span> {
    Some(start_with(tracer()?, name, kind, parent, attributes, links))
}

fn start_with(
    tracer: &SdkTracer,
    name: impl Into<Cow<'static, str>>,
    kind: SpanKind,
    parent: Option<SpanContext>,
    attributes: Vec<KeyValue>,
    links: Vec<Link>,
) -> Span {
    let mut builder = tracer.span_builder(name).with_kind(kind).with_attributes(attributes);
    if !links.is_empty() {
        builder = builder.with_links(links);
    }
    let cx = match parent {
        Some(sc) => Context::new().with_remote_span_context(sc),
        None => Context::new(),
    };
    tracer.build_with_context(builder, &cx)
}

/// Where a stage's steps attach in a document's trace: the record span of
/// a sampled record, or nothing (tracing off, record not sampled, inputs
/// built by tests). Cheap to clone; steps below an empty parent cost
/// nothing and are not exported.
#[derive(Debug, Clone, Default)]
pub struct SpanParent(Option<SpanContext>);

impl SpanParent {
    /// No trace: steps below it are not recorded.
    pub fn none() -> Self {
        Self(None)
    }

    pub(crate) fn of(span_context: SpanContext) -> Self {
        Self(Some(span_context))
    }

    /// Whether steps below this parent are not recorded.
    pub fn is_disabled(&self) -> bool {
        self.0.is_none()
    }

    /// The record span's context (`None` when disabled).
    pub fn span_context(&self) -> Option<&SpanContext> {
        self.0.as_ref()
    }
}

/// One step of a stage (parse, score, write, tokenize …) in a document's
/// trace: started when made, ended when dropped. Hold it for the step's
/// duration (`let _span = step_span!(…);`, or move it into the async block
/// doing the work). Empty, and free, below a disabled parent.
#[must_use = "the step span ends when dropped"]
#[derive(Debug)]
pub struct StepSpan(Option<Span>);

impl StepSpan {
    /// A step named `name` below `parent`, with the attributes `attributes`
    /// makes (called only when the step is recorded). Use
    /// [`crate::step_span!`] rather than calling this.
    pub fn start(parent: &SpanParent, name: &'static str, attributes: impl FnOnce() -> Vec<KeyValue>) -> Self {
        Self::start_in(tracer(), parent, name, attributes)
    }

    fn start_in(tracer: Option<&SdkTracer>, parent: &SpanParent, name: &'static str, attributes: impl FnOnce() -> Vec<KeyValue>) -> Self {
        match (tracer, &parent.0) {
            (Some(tracer), Some(sc)) => Self(Some(start_with(tracer, name, SpanKind::Internal, Some(sc.clone()), attributes(), Vec::new()))),
            _ => Self(None),
        }
    }

    /// A step done once for several documents (a batch): below the first
    /// recorded parent, linked to the other recorded ones.
    pub fn start_for_batch<'a>(
        parents: impl IntoIterator<Item = &'a SpanParent>,
        name: &'static str,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> Self {
        Self::start_for_batch_in(tracer(), parents, name, attributes)
    }

    fn start_for_batch_in<'a>(
        tracer: Option<&SdkTracer>,
        parents: impl IntoIterator<Item = &'a SpanParent>,
        name: &'static str,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> Self {
        let Some(tracer) = tracer else { return Self(None) };
        let mut recorded = parents.into_iter().filter_map(|p| p.0.as_ref());
        let Some(first) = recorded.next() else { return Self(None) };
        let links = recorded.map(|sc| Link::with_context(sc.clone())).collect();
        Self(Some(start_with(tracer, name, SpanKind::Internal, Some(first.clone()), attributes(), links)))
    }

    /// A step that is not recorded.
    pub fn none() -> Self {
        Self(None)
    }

    /// Whether this step is recorded.
    pub fn is_recording(&self) -> bool {
        self.0.is_some()
    }

    /// Set an attribute known only during the step.
    pub fn set_attribute(&mut self, key: &'static str, value: impl AttributeValue) {
        use opentelemetry::trace::Span as _;
        if let Some(s) = &mut self.0 {
            s.set_attribute(KeyValue::new(key, value.into_value()));
        }
    }
}

/// Values a [`crate::step_span!`] attribute may take (OTel values are
/// `i64`, `f64`, `bool` and strings; unsigned counts are converted).
pub trait AttributeValue {
    fn into_value(self) -> Value;
}

macro_rules! attribute_value_as_i64 {
    ($($t:ty),*) => {$(
        impl AttributeValue for $t {
            fn into_value(self) -> Value {
                // Counts and ids beyond i64::MAX do not occur; saturate rather than wrap.
                Value::I64(i64::try_from(self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
attribute_value_as_i64!(i8, i16, i32, i64, u8, u16, u32, u64, usize);

impl AttributeValue for f64 {
    fn into_value(self) -> Value {
        Value::F64(self)
    }
}

impl AttributeValue for bool {
    fn into_value(self) -> Value {
        Value::Bool(self)
    }
}

impl AttributeValue for &str {
    fn into_value(self) -> Value {
        Value::from(self.to_owned())
    }
}

impl AttributeValue for String {
    fn into_value(self) -> Value {
        Value::from(self)
    }
}

impl AttributeValue for &String {
    fn into_value(self) -> Value {
        Value::from(self.clone())
    }
}

/// `a.b.` → `a.b`: the attribute key [`crate::step_span!`] writes as
/// `a.b = value`, joined at compile time.
#[doc(hidden)]
pub const fn dotted_key(joined_with_trailing_dot: &'static str) -> &'static str {
    let (key, _dot) = joined_with_trailing_dot.as_bytes().split_at(joined_with_trailing_dot.len() - 1);
    match std::str::from_utf8(key) {
        Ok(k) => k,
        Err(_) => panic!("attribute keys are identifiers"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState, TracerProvider as _};
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
    use std::sync::{Arc, Mutex};

    /// Keeps every exported span (a simple processor exports each at its end).
    #[derive(Debug, Clone, Default)]
    struct Collect(Arc<Mutex<Vec<SpanData>>>);

    impl SpanExporter for Collect {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.0.lock().unwrap().extend(batch);
            Ok(())
        }
    }

    fn provider() -> (SdkTracerProvider, Collect) {
        let out = Collect::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(out.clone())
            .with_sampler(super::super::DocflowSampler)
            .build();
        (provider, out)
    }

    fn record(span_id: u64, sampled: bool) -> SpanParent {
        let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
        SpanParent::of(SpanContext::new(TraceId::from(7u128), SpanId::from(span_id), flags, false, TraceState::default()))
    }

    #[test]
    fn a_step_is_a_child_of_its_record_with_its_attributes() {
        let (provider, out) = provider();
        let tracer = provider.tracer("test");
        let mut step = StepSpan::start_in(Some(&tracer), &record(5, true), "parse", || vec![KeyValue::new("docflow.parse.format", "html")]);
        step.set_attribute("docs", 3usize);
        assert!(step.is_recording());
        drop(step);
        let spans = out.0.lock().unwrap();
        let [span] = spans.as_slice() else { panic!("one span expected, got {}", spans.len()) };
        assert_eq!(span.name, "parse");
        assert_eq!(span.parent_span_id, SpanId::from(5u64));
        assert_eq!(span.span_context.trace_id(), TraceId::from(7u128));
        let attr = |k: &str| span.attributes.iter().find(|kv| kv.key.as_str() == k).map(|kv| kv.value.clone());
        assert_eq!(attr("docflow.parse.format"), Some(Value::from("html")));
        assert_eq!(attr("docs"), Some(Value::I64(3)));
    }

    #[test]
    fn nothing_is_made_below_a_disabled_parent_or_without_a_tracer() {
        let (provider, out) = provider();
        let tracer = provider.tracer("test");
        let mut asked = false;
        let step = StepSpan::start_in(Some(&tracer), &SpanParent::none(), "parse", || {
            asked = true;
            Vec::new()
        });
        assert!(!step.is_recording() && !asked, "attributes are not even made");
        assert!(!StepSpan::start_in(None, &record(5, true), "parse", Vec::new).is_recording());
        assert!(!StepSpan::start_for_batch_in(Some(&tracer), [&SpanParent::none()], "encode_batch", Vec::new).is_recording());
        drop(step);
        assert!(out.0.lock().unwrap().is_empty());
    }

    #[test]
    fn a_batch_step_goes_below_the_first_recorded_parent_and_links_the_others() {
        let (provider, out) = provider();
        let tracer = provider.tracer("test");
        let parents = [SpanParent::none(), record(11, true), SpanParent::none(), record(12, true), record(13, true)];
        drop(StepSpan::start_for_batch_in(Some(&tracer), &parents, "encode_batch", Vec::new));
        let spans = out.0.lock().unwrap();
        let [span] = spans.as_slice() else { panic!("one span expected, got {}", spans.len()) };
        assert_eq!(span.parent_span_id, SpanId::from(11u64));
        let linked: Vec<SpanId> = span.links.iter().map(|l| l.span_context.span_id()).collect();
        assert_eq!(linked, [SpanId::from(12u64), SpanId::from(13u64)]);
    }

    #[test]
    fn a_step_below_an_unsampled_parent_is_not_exported() {
        let (provider, out) = provider();
        let tracer = provider.tracer("test");
        drop(StepSpan::start_in(Some(&tracer), &record(5, false), "parse", Vec::new));
        assert!(out.0.lock().unwrap().is_empty());
    }

    #[test]
    fn step_span_keys_are_joined_at_compile_time() {
        assert_eq!(dotted_key("doc.seq."), "doc.seq");
        assert_eq!(dotted_key("docs."), "docs");
        // Without an installed tracer the macro makes nothing and evaluates no attribute.
        let mut evaluated = false;
        let parent = record(1, true);
        let span = crate::step_span!(&parent, "work", doc.seq = {
            evaluated = true;
            7u64
        });
        assert!(!span.is_recording() && !evaluated);
    }
}
