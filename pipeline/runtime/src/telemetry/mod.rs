//! Telemetry: a Prometheus scrape endpoint with health checks, built into
//! the runtime so every stage exports the same metrics without code.
//!
//! - `registry`: [`Registry`] of counters, gauges, histograms; the public API
//!   stage code uses for metrics the runner cannot see (cache hits, encoder,
//!   GPU, model version), and the text format 0.0.4 rendering.
//! - `stages`: the runner's stages, read live at scrape time (records
//!   in/out/failed, in-flight, retries, pauses, utilisation, consumer lag
//!   from librdkafka statistics every 2 s) and asked for readiness.
//! - `server`: [`serve`]: `GET /metrics`, `/healthz`, `/readyz`.
//! - `otel`: OpenTelemetry over OTLP/gRPC from the standard `OTEL_*`
//!   variables ([`init_from_env`]: logging + spans + metrics, off without an
//!   endpoint), the head sampler and its policy.
//! - `otlp_metrics`: the registry's metrics exported over OTLP too.
//! - `spans`: document spans built with the OTel SDK directly:
//!   [`SpanParent`] (a record span as stage code sees it) and [`StepSpan`]
//!   (a stage step, made with [`crate::step_span!`]).
//! - `record_trace`: each consumed record's span (one per sampled record,
//!   plus `dead_letter` on errors) and the trace context of its outputs.
//! - [`trace_context`]: W3C `traceparent` in Kafka headers;
//!   [`inject_trace_headers`] for producers outside the runtime.
//!
//! The metric names are the contract in `deploy/observability/metrics.txt`.

mod otel;
mod otlp_metrics;
#[doc(hidden)]
pub mod record_trace;
mod registry;
mod server;
#[doc(hidden)]
pub mod spans;
pub(crate) mod stages;
pub mod trace_context;

pub use otel::{init_from_env, install, sample_ratio, DocflowSampler, OtelConfig, OtelError, TelemetryGuard, DEFAULT_SAMPLE_RATIO, SAMPLED_ATTR};
pub use registry::{Counter, Gauge, Histogram, Labels, Registry, TelemetryError, DOCUMENTED, DURATION_BUCKETS};
pub use server::{serve, MetricsServer};
pub use spans::{AttributeValue, SpanParent, StepSpan};
pub use trace_context::{current_trace_headers, inject_trace_headers, TraceParent};

/// Environment variable with the endpoint's address (`127.0.0.1:9464`);
/// unset or empty: no endpoint.
pub const METRICS_ADDR_ENV: &str = "DOCFLOW_METRICS_ADDR";

/// Why the metrics endpoint of [`serve_from_env`] did not start.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("{METRICS_ADDR_ENV}={value:?} is not an address like 127.0.0.1:9464")]
    Address { value: String, source: std::net::AddrParseError },
    /// The port is taken, or the address is not this host's.
    #[error("binding the metrics endpoint on {addr}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
}

/// Start the endpoint on `$DOCFLOW_METRICS_ADDR` over the global registry,
/// if set. Call once per process inside the tokio runtime, before starting
/// stages (`docflow stage`, `docflow run`); keep the returned server alive.
pub async fn serve_from_env() -> Result<Option<MetricsServer>, EndpointError> {
    let value = match std::env::var(METRICS_ADDR_ENV) {
        Ok(a) if !a.trim().is_empty() => a,
        _ => return Ok(None),
    };
    let addr: std::net::SocketAddr = match value.trim().parse() {
        Ok(addr) => addr,
        Err(source) => return Err(EndpointError::Address { value, source }),
    };
    let server = serve(addr, Registry::global()).await.map_err(|source| EndpointError::Bind { addr, source })?;
    Ok(Some(server))
}
