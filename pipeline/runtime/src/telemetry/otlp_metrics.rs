//! OTLP export of the same metrics `/metrics` serves, under the same names
//! and labels (so one dashboard fits both paths).
//!
//! The [`Registry`] stays the single source: counters and gauges become
//! OpenTelemetry observable instruments whose callbacks read a registry
//! snapshot at each collection (no second copy on the hot path);
//! histograms, which OpenTelemetry cannot observe after the fact, record
//! each observation into a mirror instrument with the same bucket bounds
//! once export is installed.

use super::registry::{help, Labels, Registry, DOCUMENTED};
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::KeyValue;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

static METER: OnceLock<Meter> = OnceLock::new();
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// A snapshot serves every callback of one collection.
const SNAPSHOT_TTL: Duration = Duration::from_millis(500);

type Snapshot = Arc<super::registry::Snapshot>;

/// OTLP metric export is installed.
pub(crate) fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// The OTLP twin of one registry histogram series.
pub(crate) struct Mirror {
    histogram: opentelemetry::metrics::Histogram<f64>,
    attributes: Vec<KeyValue>,
}

impl Mirror {
    pub fn new(name: &str, labels: &Labels, bounds: &[f64]) -> Option<Self> {
        let meter = METER.get()?;
        let mut b = meter.f64_histogram(name.to_owned()).with_description(help(name)).with_boundaries(bounds.to_vec());
        if let Some(unit) = unit(name) {
            b = b.with_unit(unit);
        }
        Some(Self { histogram: b.build(), attributes: attributes(labels) })
    }

    pub fn record(&self, v: f64) {
        self.histogram.record(v, &self.attributes);
    }
}

fn attributes(labels: &Labels) -> Vec<KeyValue> {
    labels.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect()
}

fn unit(name: &str) -> Option<&'static str> {
    if name.ends_with("_seconds") {
        Some("s")
    } else if name.ends_with("_bytes") {
        Some("By")
    } else {
        None
    }
}

/// Register the documented counters and gauges of `registry` with
/// `provider` and turn on the histogram mirrors. Returns the instrument
/// handles (keep them as long as the provider).
pub(crate) fn install(
    provider: &opentelemetry_sdk::metrics::SdkMeterProvider,
    registry: &'static Registry,
) -> Vec<Box<dyn std::any::Any + Send + Sync>> {
    let meter = provider.meter("docflow");
    let cache: Arc<Mutex<(Option<Instant>, Snapshot)>> = Arc::new(Mutex::new((None, Arc::default())));
    let snapshot = move || -> Snapshot {
        let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
        if c.0.is_none_or(|at| at.elapsed() > SNAPSHOT_TTL) {
            *c = (Some(Instant::now()), Arc::new(registry.snapshot()));
        }
        c.1.clone()
    };
    let mut handles: Vec<Box<dyn std::any::Any + Send + Sync>> = Vec::new();
    for (name, kind) in DOCUMENTED {
        let snap = snapshot.clone();
        let read = move || snap().get(name).map(|(_, s)| s.iter().map(|(l, v)| (attributes(l), *v)).collect::<Vec<_>>()).unwrap_or_default();
        match kind {
            "counter" => handles.push(Box::new(
                meter
                    .f64_observable_counter(name)
                    .with_description(help(name))
                    .with_callback(move |o| read().iter().for_each(|(a, v)| o.observe(*v, a)))
                    .build(),
            )),
            "gauge" => {
                let mut b = meter.f64_observable_gauge(name).with_description(help(name));
                if let Some(u) = unit(name) {
                    b = b.with_unit(u);
                }
                handles.push(Box::new(b.with_callback(move |o| read().iter().for_each(|(a, v)| o.observe(*v, a))).build()))
            }
            _ => {} // histograms: mirrored as observed
        }
    }
    let _ = METER.set(meter);
    ACTIVE.store(true, Ordering::Relaxed);
    handles
}
