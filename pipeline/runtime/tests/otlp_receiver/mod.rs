//! An OTLP/gRPC receiver built from the `opentelemetry-proto` types: it
//! accepts trace and metric exports, keeps what arrived and answers like a
//! collector. Used by `tests/otlp.rs` and by `examples/otlp_sink.rs` (the
//! collector stand-in of the overhead benchmark).

#![allow(dead_code)]

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{MetricsService, MetricsServiceServer};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What the receiver got so far.
#[derive(Default)]
pub struct Received {
    /// Every span, with its resource's `service.name`.
    pub spans: Mutex<Vec<(String, Span)>>,
    /// Every metric of every export, in arrival order.
    pub metrics: Mutex<Vec<Metric>>,
    /// Counts only (when `keep` is false: the benchmark sink).
    pub span_count: AtomicU64,
    pub metric_exports: AtomicU64,
    keep: bool,
}

impl Received {
    pub fn spans(&self) -> Vec<(String, Span)> {
        self.spans.lock().unwrap().clone()
    }
    pub fn metrics(&self) -> Vec<Metric> {
        self.metrics.lock().unwrap().clone()
    }
}

struct Traces(Arc<Received>);
struct Metrics(Arc<Received>);

#[tonic::async_trait]
impl TraceService for Traces {
    async fn export(&self, req: tonic::Request<ExportTraceServiceRequest>) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut n = 0;
        let mut kept = Vec::new();
        for rs in req.into_inner().resource_spans {
            let service = rs.resource.as_ref().and_then(|r| attr(&r.attributes, "service.name")).unwrap_or_default();
            for ss in rs.scope_spans {
                n += ss.spans.len() as u64;
                if self.0.keep {
                    kept.extend(ss.spans.into_iter().map(|s| (service.clone(), s)));
                }
            }
        }
        self.0.span_count.fetch_add(n, Ordering::Relaxed);
        self.0.spans.lock().unwrap().extend(kept);
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl MetricsService for Metrics {
    async fn export(&self, req: tonic::Request<ExportMetricsServiceRequest>) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.0.metric_exports.fetch_add(1, Ordering::Relaxed);
        if self.0.keep {
            let mut m = self.0.metrics.lock().unwrap();
            for rm in req.into_inner().resource_metrics {
                for sm in rm.scope_metrics {
                    m.extend(sm.metrics);
                }
            }
        }
        Ok(tonic::Response::new(ExportMetricsServiceResponse { partial_success: None }))
    }
}

/// A running receiver.
pub struct Receiver {
    pub addr: SocketAddr,
    pub received: Arc<Received>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// The endpoint URL for an OTLP/gRPC exporter.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Serve on `addr` (port 0: any). `keep`: store spans and metrics (tests),
/// or only count them (benchmark sink).
pub async fn start(addr: SocketAddr, keep: bool) -> std::io::Result<Receiver> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let received = Arc::new(Received { keep, ..Received::default() });
    let router = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(Traces(received.clone())).max_decoding_message_size(64 << 20))
        .add_service(MetricsServiceServer::new(Metrics(received.clone())).max_decoding_message_size(64 << 20));
    let incoming = tokio_stream_of(listener);
    let task = tokio::spawn(async move {
        if let Err(e) = router.serve_with_incoming(incoming).await {
            eprintln!("OTLP receiver stopped: {e}");
        }
    });
    Ok(Receiver { addr, received, task })
}

/// Accepted connections as the stream tonic serves.
fn tokio_stream_of(listener: tokio::net::TcpListener) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, |l| async move {
        let r = l.accept().await.map(|(s, _)| s);
        Some((r, l))
    })
}

/// A string attribute's value.
pub fn attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| match &kv.value {
        Some(AnyValue { value: Some(any_value::Value::StringValue(s)) }) => Some(s.clone()),
        Some(AnyValue { value: Some(any_value::Value::IntValue(i)) }) => Some(i.to_string()),
        Some(AnyValue { value: Some(any_value::Value::BoolValue(b)) }) => Some(b.to_string()),
        _ => None,
    })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
