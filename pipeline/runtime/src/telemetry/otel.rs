//! OpenTelemetry export over OTLP/gRPC: configuration from the standard
//! `OTEL_*` variables, the head sampler, and process-wide installation of
//! logging + tracing + metrics ([`init_from_env`], [`install`]).
//!
//! Off (nothing installed but the log output, no per-record work beyond
//! the old header copy) when no OTLP endpoint is configured.
//!
//! Sampling, as chosen for docflow:
//! - a document's trace starts where it enters the pipeline (a producer
//!   using `inject_trace_headers`, or the first stage when the record has no
//!   `traceparent`); that point decides with probability
//!   `OTEL_TRACES_SAMPLER_ARG` (default 0.1) and writes the decision into
//!   the `traceparent` flags; every later stage follows the flag
//!   (parent-based), so a document is traced through all stages or none;
//! - errors are always kept: a record that is dead-lettered gets an exported
//!   `dead_letter` span in the document's trace even when the trace was not
//!   sampled (the rest of such a trace is not recorded);
//! - spans outside any record (no parent) are not exported, except spans
//!   linked to a sampled record and consumer spans: only the runtime makes
//!   those (a record's span), and only for records it sampled.
//!
//! The exporters run on a dedicated one-thread tokio runtime owned by the
//! [`TelemetryGuard`], so installation works before, inside or without the
//! caller's runtime, and the final flush never waits on a runtime that is
//! shutting down.

// The workspace pins the gRPC-only build of opentelemetry-otlp under this name.
use opentelemetry_otlp_grpc as opentelemetry_otlp;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt as _, TraceId, TracerProvider as _};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer as _;

/// Span attribute carrying the runtime's sampling decision; the sampler obeys it.
pub const SAMPLED_ATTR: &str = "docflow.sampled";
/// Default head-sampling ratio.
pub const DEFAULT_SAMPLE_RATIO: f64 = 0.1;
/// Span queue of the batch processor when `OTEL_BSP_MAX_QUEUE_SIZE` is not
/// set: the SDK's 2048 overflows within a second at 10% of 80k records/s.
const DEFAULT_SPAN_QUEUE: usize = 65_536;
/// Spans per export request when `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` is not
/// set: fewer, larger requests than the SDK's 512 (the per-request cost of
/// gRPC is paid on the same shared cores as the stage).
const DEFAULT_EXPORT_BATCH: usize = 2_048;

static TRACING_ON: AtomicBool = AtomicBool::new(false);
static RATIO_BITS: AtomicU64 = AtomicU64::new(0);

/// The head-sampling ratio while span export is installed, else `None`.
pub fn sample_ratio() -> Option<f64> {
    TRACING_ON.load(Ordering::Relaxed).then(|| f64::from_bits(RATIO_BITS.load(Ordering::Relaxed)))
}

/// Why telemetry could not be set up: a standard `OTEL_*` variable with a
/// value docflow cannot use (named, with the value), or an exporter or the
/// global subscriber that could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum OtelError {
    #[error("OTEL_TRACES_SAMPLER_ARG={value:?} is not a number")]
    SamplerArg { value: String, source: std::num::ParseFloatError },
    #[error("OTEL_TRACES_SAMPLER_ARG={0} is not within [0, 1]")]
    SamplerArgRange(String),
    #[error(
        "OTEL_TRACES_SAMPLER={0:?} is not supported (docflow samples parent-based: \
         parentbased_traceidratio, parentbased_always_on, parentbased_always_off)"
    )]
    Sampler(String),
    #[error("OTEL_METRIC_EXPORT_INTERVAL={value:?} is not milliseconds")]
    MetricInterval { value: String, source: std::num::ParseIntError },
    #[error("the log filter directive for record spans")]
    LogFilter(#[source] tracing_subscriber::filter::ParseError),
    #[error("starting the OTLP export runtime")]
    ExportRuntime(#[source] std::io::Error),
    #[error("building the OTLP span exporter for {endpoint}")]
    SpanExporter { endpoint: String, source: opentelemetry_otlp::ExporterBuildError },
    #[error("building the OTLP metric exporter for {endpoint}")]
    MetricExporter { endpoint: String, source: opentelemetry_otlp::ExporterBuildError },
    /// [`install`] runs once per process.
    #[error("a global tracing subscriber is already installed")]
    SubscriberInstalled(#[source] tracing_subscriber::util::TryInitError),
}

/// What to export and where. [`OtelConfig::from_env`] reads the standard
/// variables; tests build one directly.
#[derive(Debug, Clone, PartialEq)]
pub struct OtelConfig {
    /// OTLP/gRPC endpoint for spans (`http://host:4317`); `None`: no spans.
    /// Env: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub traces_endpoint: Option<String>,
    /// OTLP/gRPC endpoint for metrics; `None`: no OTLP metrics.
    /// Env: `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub metrics_endpoint: Option<String>,
    /// Probability that a new trace is sampled, in [0, 1]. Env:
    /// `OTEL_TRACES_SAMPLER_ARG` (default 0.1); `OTEL_TRACES_SAMPLER` =
    /// `always_on` / `always_off` (and their `parentbased_` forms) mean 1 / 0.
    pub sample_ratio: f64,
    /// `service.name` of the resource. Env: `OTEL_SERVICE_NAME` (default `docflow`).
    pub service_name: String,
    /// Metric export interval; `None`: `OTEL_METRIC_EXPORT_INTERVAL` or the SDK's 60 s.
    pub metrics_interval: Option<Duration>,
}

impl OtelConfig {
    /// Read the standard `OTEL_*` variables. Request headers
    /// (`OTEL_EXPORTER_OTLP_HEADERS`, `..._TRACES_HEADERS`, `..._METRICS_HEADERS`:
    /// `key=value,key2=value2`), timeouts and compression are read by the
    /// exporter itself. `OTEL_SDK_DISABLED=true` turns everything off.
    pub fn from_env() -> Result<Self, OtelError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`OtelConfig::from_env`] over any variable lookup (testable).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, OtelError> {
        let var = |k: &str| get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let generic = var("OTEL_EXPORTER_OTLP_ENDPOINT");
        let endpoint = |specific: &str| if disabled { None } else { var(specific).or_else(|| generic.clone()) };
        let arg = match var("OTEL_TRACES_SAMPLER_ARG") {
            Some(a) => {
                let r: f64 = a.parse().map_err(|source| OtelError::SamplerArg { value: a.clone(), source })?;
                if !(0.0..=1.0).contains(&r) {
                    return Err(OtelError::SamplerArgRange(a));
                }
                r
            }
            None => DEFAULT_SAMPLE_RATIO,
        };
        let sample_ratio = match var("OTEL_TRACES_SAMPLER").as_deref() {
            None | Some("traceidratio" | "parentbased_traceidratio") => arg,
            Some("always_on" | "parentbased_always_on") => 1.0,
            Some("always_off" | "parentbased_always_off") => 0.0,
            Some(other) => return Err(OtelError::Sampler(other.to_owned())),
        };
        let metrics_interval = match var("OTEL_METRIC_EXPORT_INTERVAL") {
            Some(ms) => Some(Duration::from_millis(
                ms.parse().map_err(|source| OtelError::MetricInterval { value: ms.clone(), source })?,
            )),
            None => None,
        };
        Ok(Self {
            traces_endpoint: endpoint("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            metrics_endpoint: endpoint("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
            sample_ratio,
            service_name: var("OTEL_SERVICE_NAME").unwrap_or_else(|| "docflow".to_owned()),
            metrics_interval,
        })
    }

    /// Nothing to export.
    pub fn is_off(&self) -> bool {
        self.traces_endpoint.is_none() && self.metrics_endpoint.is_none()
    }
}

/// The head sampler (see the module docs): the runtime's decision
/// ([`SAMPLED_ATTR`]) first, then the parent's flag; a parentless consumer
/// span (a new trace's record span) is kept, other parentless spans only
/// with a sampled link.
#[derive(Debug, Clone)]
pub struct DocflowSampler;

impl ShouldSample for DocflowSampler {
    fn should_sample(
        &self,
        parent: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let parent_sc = parent.filter(|p| p.has_active_span()).map(|p| p.span().span_context().clone());
        let sampled = match attributes.iter().find(|kv| kv.key.as_str() == SAMPLED_ATTR) {
            Some(kv) => kv.value == Value::Bool(true),
            None => match &parent_sc {
                Some(sc) => sc.is_sampled(),
                // A parentless consumer span is the runtime's record span of
                // a record that came without a trace context: the runtime
                // makes one only when it sampled the new trace (an attribute
                // saying so would cost every record span ≈ 6% more).
                None if *kind == SpanKind::Consumer => true,
                None => links.iter().any(|l| l.span_context.is_sampled()),
            },
        };
        SamplingResult {
            decision: if sampled { SamplingDecision::RecordAndSample } else { SamplingDecision::Drop },
            attributes: Vec::new(),
            trace_state: parent_sc.map(|sc| sc.trace_state().clone()).unwrap_or_default(),
        }
    }
}

/// Keeps the exporters alive; dropping it flushes and shuts them down
/// (waiting up to a few seconds for the collector). Keep it until the
/// process's stages have stopped.
#[must_use = "dropping the guard stops the export"]
pub struct TelemetryGuard {
    tracer_provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
    meter_provider: Option<opentelemetry_sdk::metrics::SdkMeterProvider>,
    _instruments: Vec<Box<dyn std::any::Any + Send + Sync>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("traces", &self.tracer_provider.is_some())
            .field("metrics", &self.meter_provider.is_some())
            .finish()
    }
}

impl TelemetryGuard {
    /// Export what is buffered now (spans and a metrics collection).
    pub fn flush(&self) {
        if let Some(p) = &self.tracer_provider {
            if let Err(e) = p.force_flush() {
                tracing::warn!("span export flush: {e}");
            }
        }
        if let Some(p) = &self.meter_provider {
            if let Err(e) = p.force_flush() {
                tracing::warn!("metric export flush: {e}");
            }
        }
    }

    /// Whether spans / metrics are exported.
    pub fn exporting(&self) -> (bool, bool) {
        (self.tracer_provider.is_some(), self.meter_provider.is_some())
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        TRACING_ON.store(false, Ordering::Relaxed);
        if let Some(p) = self.tracer_provider.take() {
            if let Err(e) = p.shutdown_with_timeout(Duration::from_secs(5)) {
                tracing::warn!("span exporter shutdown: {e}");
            }
        }
        if let Some(p) = self.meter_provider.take() {
            if let Err(e) = p.shutdown_with_timeout(Duration::from_secs(5)) {
                tracing::warn!("metric exporter shutdown: {e}");
            }
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// Install logging (and OTLP export when `OTEL_*` names an endpoint) for the
/// process: see [`install`]. The one call a binary makes at start.
pub fn init_from_env(default_log_filter: &str) -> Result<TelemetryGuard, OtelError> {
    install(&OtelConfig::from_env()?, default_log_filter)
}

/// Install the global `tracing` subscriber: log lines to stderr (JSON when
/// stderr is not a terminal), filtered by `RUST_LOG` or `default_log_filter`;
/// plus, when `config` names endpoints, the OpenTelemetry span layer and
/// the OTLP metric export of the [`super::Registry`]. Fails when a global
/// subscriber is already set.
pub fn install(config: &OtelConfig, default_log_filter: &str) -> Result<TelemetryGuard, OtelError> {
    use std::io::IsTerminal as _;
    // The per-record spans are for export only: formatting their fields
    // for the log output would cost more than building them.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_log_filter))
        .add_directive("docflow::trace=off".parse().map_err(OtelError::LogFilter)?);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if std::io::stderr().is_terminal() { fmt.boxed() } else { fmt.json().boxed() };

    let mut guard = TelemetryGuard { tracer_provider: None, meter_provider: None, _instruments: Vec::new(), runtime: None };
    if !config.is_off() {
        // tonic channels spawn their connection task at build time.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-export")
            .enable_all()
            .build()
            .map_err(OtelError::ExportRuntime)?;
        let _enter = rt.enter();
        let resource = opentelemetry_sdk::Resource::builder().with_service_name(config.service_name.clone()).build();
        if let Some(endpoint) = &config.traces_endpoint {
            use opentelemetry_otlp::WithExportConfig as _;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()
                .map_err(|source| OtelError::SpanExporter { endpoint: endpoint.clone(), source })?;
            let mut batch = opentelemetry_sdk::trace::BatchConfigBuilder::default();
            if std::env::var_os("OTEL_BSP_MAX_QUEUE_SIZE").is_none() {
                batch = batch.with_max_queue_size(DEFAULT_SPAN_QUEUE);
            }
            if std::env::var_os("OTEL_BSP_MAX_EXPORT_BATCH_SIZE").is_none() {
                batch = batch.with_max_export_batch_size(DEFAULT_EXPORT_BATCH);
            }
            let processor = opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter).with_batch_config(batch.build()).build();
            guard.tracer_provider = Some(
                opentelemetry_sdk::trace::SdkTracerProvider::builder()
                    .with_span_processor(processor)
                    .with_sampler(DocflowSampler)
                    .with_resource(resource.clone())
                    .build(),
            );
        }
        if let Some(endpoint) = &config.metrics_endpoint {
            use opentelemetry_otlp::WithExportConfig as _;
            let exporter = opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()
                .map_err(|source| OtelError::MetricExporter { endpoint: endpoint.clone(), source })?;
            let mut reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter);
            if let Some(every) = config.metrics_interval {
                reader = reader.with_interval(every);
            }
            let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder().with_reader(reader.build()).with_resource(resource).build();
            guard._instruments = super::otlp_metrics::install(&provider, super::Registry::global());
            guard.meter_provider = Some(provider);
        }
        drop(_enter);
        guard.runtime = Some(rt);
    }

    let otel_layer = guard.tracer_provider.as_ref().map(|p| {
        // The exporter's own stack (tonic, h2, hyper) must not trace itself.
        let targets = tracing_subscriber::filter::Targets::new()
            .with_default(tracing::Level::INFO)
            .with_target("h2", tracing::level_filters::LevelFilter::OFF)
            .with_target("hyper", tracing::level_filters::LevelFilter::OFF)
            .with_target("tonic", tracing::level_filters::LevelFilter::OFF)
            .with_target("tower", tracing::level_filters::LevelFilter::OFF)
            .with_target("opentelemetry", tracing::level_filters::LevelFilter::OFF);
        // Document spans go to the SDK tracer directly (`spans`); this layer
        // exports `tracing` spans of code outside the runtime (producers
        // naming a trace with their own spans, `current_trace_headers`).
        super::spans::set_tracer(p.tracer("docflow"));
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("docflow"))
            // No busy/idle timings, no thread, target or code location attributes,
            // no OTel context attached on enter: less work per span.
            .with_tracked_inactivity(false)
            .with_threads(false)
            .with_location(false)
            .with_target(false)
            .with_context_activation(false)
            .with_filter(targets)
    });
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel_layer)
        .try_init()
        .map_err(OtelError::SubscriberInstalled)?;
    if guard.tracer_provider.is_some() {
        RATIO_BITS.store(config.sample_ratio.to_bits(), Ordering::Relaxed);
        TRACING_ON.store(true, Ordering::Relaxed);
    }
    let (traces, metrics) = guard.exporting();
    if traces || metrics {
        tracing::info!(
            traces = ?config.traces_endpoint, metrics = ?config.metrics_endpoint, sample_ratio = config.sample_ratio,
            "OpenTelemetry export over OTLP/gRPC"
        );
    }
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<OtelConfig, OtelError> {
        let m: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        OtelConfig::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn config_from_standard_variables() {
        let off = cfg(&[]).unwrap();
        assert!(off.is_off());
        assert_eq!(off.sample_ratio, 0.1);
        let on = cfg(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"), ("OTEL_TRACES_SAMPLER_ARG", "0.25")]).unwrap();
        assert_eq!(on.traces_endpoint.as_deref(), Some("http://c:4317"));
        assert_eq!(on.metrics_endpoint.as_deref(), Some("http://c:4317"));
        assert_eq!(on.sample_ratio, 0.25);
        let split = cfg(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:4317")]).unwrap();
        assert_eq!((split.traces_endpoint.as_deref(), split.metrics_endpoint), (Some("http://t:4317"), None));
        assert!(cfg(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"), ("OTEL_SDK_DISABLED", "true")]).unwrap().is_off());
        assert_eq!(cfg(&[("OTEL_TRACES_SAMPLER", "parentbased_always_on")]).unwrap().sample_ratio, 1.0);
        assert!(cfg(&[("OTEL_TRACES_SAMPLER_ARG", "1.5")]).is_err());
        assert!(cfg(&[("OTEL_TRACES_SAMPLER_ARG", "ten")]).is_err());
        assert!(cfg(&[("OTEL_TRACES_SAMPLER", "jaeger_remote")]).is_err());
        assert_eq!(cfg(&[("OTEL_METRIC_EXPORT_INTERVAL", "500")]).unwrap().metrics_interval, Some(Duration::from_millis(500)));
        assert_eq!(cfg(&[("OTEL_SERVICE_NAME", "docflow-parse")]).unwrap().service_name, "docflow-parse");
    }

    fn decide(parent: Option<bool>, attrs: &[KeyValue], links: &[Link]) -> bool {
        decide_kind(parent, SpanKind::Internal, attrs, links)
    }

    fn decide_kind(parent: Option<bool>, kind: SpanKind, attrs: &[KeyValue], links: &[Link]) -> bool {
        let cx = parent.map(|s| {
            let flags = if s { TraceFlags::SAMPLED } else { TraceFlags::default() };
            Context::new().with_remote_span_context(SpanContext::new(TraceId::from(7u128), SpanId::from(9u64), flags, true, TraceState::default()))
        });
        let r = DocflowSampler.should_sample(cx.as_ref(), TraceId::from(7u128), "x", &kind, attrs, links);
        r.decision == SamplingDecision::RecordAndSample
    }

    #[test]
    fn sampler_obeys_the_runtime_then_the_parent_and_drops_orphans() {
        let forced = [KeyValue::new(SAMPLED_ATTR, true)];
        let vetoed = [KeyValue::new(SAMPLED_ATTR, false)];
        assert!(decide(Some(false), &forced, &[]), "errors are kept in unsampled traces");
        assert!(!decide(Some(true), &vetoed, &[]));
        assert!(decide(Some(true), &[], &[]));
        assert!(!decide(Some(false), &[], &[]));
        assert!(!decide(None, &[], &[]), "spans outside records are not exported");
        let sc = SpanContext::new(TraceId::from(1u128), SpanId::from(2u64), TraceFlags::SAMPLED, true, TraceState::default());
        assert!(decide(None, &[], &[Link::with_context(sc)]), "batch spans linked to a sampled record are kept");
        assert!(decide_kind(None, SpanKind::Consumer, &[], &[]), "a new trace's record span (made only when sampled) is kept");
        assert!(!decide_kind(Some(false), SpanKind::Consumer, &[], &[]), "a record span follows an unsampled parent");
        assert!(!decide_kind(None, SpanKind::Consumer, &vetoed, &[]));
    }
}
