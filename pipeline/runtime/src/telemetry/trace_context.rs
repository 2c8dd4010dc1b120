//! W3C Trace Context (`traceparent`, `tracestate`) in Kafka headers.
//!
//! The runtime parses and writes `traceparent` itself (55 ASCII bytes on the
//! stack): that keeps the per-record cost of an unsampled record to a parse
//! and a hex write, with no allocation and no OpenTelemetry `Context` built. `tracestate` is vendor data the
//! runtime forwards unchanged.
//!
//! [`inject_trace_headers`] is the helper for producers outside the runtime
//! (load test publisher, `docflow demo`): it writes the context of the
//! current `tracing` span, or starts a new trace, so the document's trace
//! begins where it is published.

use rdkafka::message::{Header, OwnedHeaders};

/// Header carrying the W3C `traceparent`.
pub const TRACEPARENT: &str = "traceparent";
/// Header carrying the W3C `tracestate` (forwarded unchanged).
pub const TRACESTATE: &str = "tracestate";

/// The `sampled` bit of the trace flags.
const FLAG_SAMPLED: u8 = 0x01;

/// A parsed `traceparent`: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: u128,
    /// The span id of the parent (the producer's span).
    pub span_id: u64,
    pub flags: u8,
}

impl TraceParent {
    /// Parse a header value. Unknown future versions are read by their
    /// version-00 prefix, as the spec asks; invalid values give `None` (the
    /// record then starts a new trace).
    pub fn parse(value: &[u8]) -> Option<Self> {
        let s = std::str::from_utf8(value).ok()?.trim();
        if s.len() < 55 || !s.is_char_boundary(55) {
            return None;
        }
        let (head, rest) = s.split_at(55);
        let b = head.as_bytes();
        if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return None;
        }
        let version = u8::from_str_radix(hex_lower(&head[0..2])?, 16).ok()?;
        // Version ff is forbidden; version 00 has exactly 55 characters;
        // later versions may append fields after a '-'.
        if version == 0xff || (version == 0 && !rest.is_empty()) || (version > 0 && !rest.is_empty() && !rest.starts_with('-')) {
            return None;
        }
        let trace_id = u128::from_str_radix(hex_lower(&head[3..35])?, 16).ok()?;
        let span_id = u64::from_str_radix(hex_lower(&head[36..52])?, 16).ok()?;
        let flags = u8::from_str_radix(hex_lower(&head[53..55])?, 16).ok()?;
        if trace_id == 0 || span_id == 0 {
            return None;
        }
        Some(Self { trace_id, span_id, flags })
    }

    /// A new trace (random ids) with the given sampling decision.
    pub fn new_root(sampled: bool) -> Self {
        Self {
            trace_id: rand::random::<u128>().max(1),
            span_id: rand::random::<u64>().max(1),
            flags: if sampled { FLAG_SAMPLED } else { 0 },
        }
    }

    /// A new trace whose sampling decision is read from its trace id
    /// ([`sampled_by_id`]): the head sampler, one random draw per document.
    pub fn new_root_sampled(ratio: f64) -> Self {
        let mut tp = Self::new_root(false);
        if sampled_by_id(tp.trace_id, ratio) {
            tp.flags = FLAG_SAMPLED;
        }
        tp
    }

    pub fn is_sampled(&self) -> bool {
        self.flags & FLAG_SAMPLED != 0
    }

    /// The version-00 header value.
    pub fn to_header(&self) -> String {
        self.header_value().as_str().to_owned()
    }

    /// The version-00 header value on the stack (no allocation: written
    /// for every record while tracing is on).
    pub fn header_value(&self) -> HeaderValue {
        let mut b = [b'-'; 55];
        b[0] = b'0';
        b[1] = b'0';
        write_hex(&mut b[3..35], &self.trace_id.to_be_bytes());
        write_hex(&mut b[36..52], &self.span_id.to_be_bytes());
        write_hex(&mut b[53..55], &[self.flags]);
        HeaderValue(b)
    }

    /// As an OpenTelemetry remote span context.
    pub fn to_span_context(&self, tracestate: Option<&[u8]>) -> opentelemetry::trace::SpanContext {
        use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
        let state = tracestate
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<TraceState>().ok())
            .unwrap_or_default();
        SpanContext::new(
            TraceId::from(self.trace_id),
            SpanId::from(self.span_id),
            TraceFlags::new(self.flags),
            true,
            state,
        )
    }

    /// From an OpenTelemetry span context (`None` when it is invalid).
    pub fn from_span_context(sc: &opentelemetry::trace::SpanContext) -> Option<Self> {
        sc.is_valid().then(|| Self {
            trace_id: u128::from_be_bytes(sc.trace_id().to_bytes()),
            span_id: u64::from_be_bytes(sc.span_id().to_bytes()),
            flags: sc.trace_flags().to_u8(),
        })
    }
}

/// A formatted `traceparent` (55 ASCII bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HeaderValue([u8; 55]);

impl HeaderValue {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits and '-' are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Debug for HeaderValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The head-sampling decision for a new trace, from its id (as
/// OpenTelemetry's `TraceIdRatioBased`: the low 64 bits below
/// `ratio * 2^64`), so no second random draw is needed and anyone holding
/// the id can recompute it.
pub fn sampled_by_id(trace_id: u128, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 || ratio.is_nan() {
        return false;
    }
    // `as` saturates; ratio < 1 keeps the bound below 2^64.
    (trace_id as u64) < (ratio * 18_446_744_073_709_551_616.0) as u64
}

fn write_hex(out: &mut [u8], bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0x0f)];
    }
}

/// Hex digits must be lowercase in `traceparent`.
fn hex_lower(s: &str) -> Option<&str> {
    s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)).then_some(s)
}

/// The trace headers a producer outside the runtime should attach to a new
/// document: the current `tracing` span's context when tracing is on and
/// that span is recorded; otherwise a new trace whose sampling decision is
/// the head-sampling ratio. Empty when tracing is off (the first stage then
/// starts the trace).
pub fn current_trace_headers() -> Vec<(&'static str, String)> {
    let Some(ratio) = super::otel::sample_ratio() else {
        return Vec::new();
    };
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let cx = tracing::Span::current().context();
    let parent = {
        use opentelemetry::trace::TraceContextExt as _;
        let span = cx.span();
        TraceParent::from_span_context(span.span_context())
    };
    let tp = parent.unwrap_or_else(|| TraceParent::new_root_sampled(ratio));
    vec![(TRACEPARENT, tp.to_header())]
}

/// Add `traceparent` (see [`current_trace_headers`]) to `headers`. Call it
/// on every record a producer publishes into the pipeline (`docs.raw.*`,
/// `docs.feedback`). A no-op when tracing is off.
pub fn inject_trace_headers(headers: &mut OwnedHeaders) {
    let extra = current_trace_headers();
    if extra.is_empty() {
        return;
    }
    let mut h = std::mem::replace(headers, OwnedHeaders::new());
    for (k, v) in &extra {
        h = h.insert(Header { key: k, value: Some(v.as_str()) });
    }
    *headers = h;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_the_spec_example() {
        let v = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let tp = TraceParent::parse(v.as_bytes()).unwrap();
        assert_eq!(tp.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(tp.span_id, 0x00f067aa0ba902b7);
        assert!(tp.is_sampled());
        assert_eq!(tp.to_header(), v);
        let sc = tp.to_span_context(Some(b"congo=t61rcWkgMzE"));
        assert!(sc.is_remote() && sc.is_sampled());
        assert_eq!(sc.trace_state().get("congo"), Some("t61rcWkgMzE"));
        assert_eq!(TraceParent::from_span_context(&sc), Some(tp));
    }

    #[test]
    fn rejects_invalid_values() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad.as_bytes()), None, "{bad}");
        }
        // A later version with extra fields is read by its 00 prefix.
        let future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-ever";
        assert!(!TraceParent::parse(future.as_bytes()).unwrap().is_sampled());
    }

    #[test]
    fn new_roots_are_valid_and_carry_the_decision() {
        let a = TraceParent::new_root(true);
        let b = TraceParent::new_root(false);
        assert_ne!(a.trace_id, b.trace_id);
        assert!(a.is_sampled() && !b.is_sampled());
        assert_eq!(TraceParent::parse(b.to_header().as_bytes()), Some(b));
    }

    #[test]
    fn header_value_matches_the_formatted_header() {
        let tp = TraceParent { trace_id: 0x0af7651916cd43dd8448eb211c80319c, span_id: 0x00f067aa0ba902b7, flags: 1 };
        assert_eq!(tp.header_value().as_str(), "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01");
        let small = TraceParent { trace_id: 1, span_id: 2, flags: 0 };
        assert_eq!(small.header_value().as_str(), format!("00-{:032x}-{:016x}-00", 1, 2));
        assert_eq!(TraceParent::parse(small.header_value().as_bytes()), Some(small));
    }

    #[test]
    fn head_sampling_by_trace_id_keeps_about_the_ratio() {
        assert!(sampled_by_id(u128::MAX, 1.0) && !sampled_by_id(0, 0.0));
        assert!(sampled_by_id(5, 0.1) && !sampled_by_id(u128::from(u64::MAX), 0.1));
        let n = 20_000;
        let kept = (0..n).filter(|_| TraceParent::new_root_sampled(0.1).is_sampled()).count();
        assert!((1_600..2_400).contains(&kept), "{kept} of {n} kept at 10%");
    }

    #[test]
    fn injection_is_a_no_op_when_tracing_is_off() {
        // No exporter is installed in unit tests.
        let mut h = OwnedHeaders::new();
        inject_trace_headers(&mut h);
        use rdkafka::message::Headers as _;
        assert_eq!(h.count(), 0);
    }
}
