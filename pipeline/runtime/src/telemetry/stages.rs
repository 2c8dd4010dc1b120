//! Running stages as seen by the telemetry layer: the runner registers each
//! stage's shared state; a scrape reads its live counters (no copying on the
//! hot path) and `/readyz` asks whether each is connected to Kafka.
//!
//! Entries hold a `Weak`: a stage that has ended disappears by itself.

use super::registry::{Labels, Registry};
use crate::metrics::StageMetrics;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

/// Shortest window for `agent_utilization_ratio`: closer scrapes repeat the
/// previous value instead of dividing by almost nothing.
const MIN_WINDOW_SECS: f64 = 0.2;

/// What the telemetry layer reads from a running stage (the runner's
/// shared state implements it).
pub(crate) trait TelemetryView: Send + Sync {
    fn stage_name(&self) -> &str;
    fn metrics(&self) -> &StageMetrics;
    /// Records consumed and not yet resolved.
    fn in_flight(&self) -> usize;
    /// `Ok` when partitions were assigned, the broker has not been reported
    /// down since, and the stage itself is ready (`Stage::ready`); else why not.
    fn ready(&self) -> Result<(), String>;
    /// The stage is stopping or stopped.
    fn closing(&self) -> bool;
    /// (topic, partition, lag) of the assigned input partitions.
    fn consumer_lag(&self) -> Vec<(String, i32, u64)>;
}

pub(crate) struct StageEntry {
    view: Weak<dyn TelemetryView>,
    /// (time, busy_ns) at the previous utilisation reading, and its value.
    last: Mutex<(Instant, u64, f64)>,
}

/// Register a running stage with `registry` (the runner does this).
pub(crate) fn register(registry: &Registry, view: Arc<dyn TelemetryView>) {
    let busy = view.metrics().busy_ns.load(Ordering::Relaxed);
    let mut stages = registry.stages.lock().unwrap_or_else(|p| p.into_inner());
    stages.retain(|e| e.view.strong_count() > 0);
    stages.push(StageEntry { view: Arc::downgrade(&view), last: Mutex::new((Instant::now(), busy, 0.0)) });
}

/// Samples by family name: (type, samples by labels). Stages that share a
/// name (replicas in one process) are summed; utilisation is averaged.
pub(crate) type Pulled = BTreeMap<&'static str, (&'static str, BTreeMap<Labels, f64>)>;

pub(crate) fn collect(registry: &Registry) -> Pulled {
    let stages = registry.stages.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = Pulled::new();
    let mut util: BTreeMap<String, (f64, u32)> = BTreeMap::new();
    for entry in stages.iter() {
        let Some(view) = entry.view.upgrade() else { continue };
        if view.closing() {
            continue;
        }
        let m = view.metrics();
        let stage = view.stage_name().to_owned();
        let labels: Labels = vec![("stage".to_owned(), stage.clone())];
        let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed) as f64;
        let mut add = |name: &'static str, kind: &'static str, v: f64| {
            *out.entry(name).or_insert((kind, BTreeMap::new())).1.entry(labels.clone()).or_insert(0.0) += v;
        };
        add("docflow_records_in_total", "counter", get(&m.consumed));
        add("docflow_records_out_total", "counter", get(&m.outputs));
        add("docflow_records_failed_total", "counter", get(&m.dead_lettered));
        add("docflow_retries_total", "counter", get(&m.retries));
        add("docflow_backpressure_pauses_total", "counter", get(&m.backpressure_pauses));
        add("docflow_in_flight", "gauge", view.in_flight() as f64);
        for (topic, partition, lag) in view.consumer_lag() {
            let l = vec![("partition".to_owned(), partition.to_string()), ("stage".to_owned(), stage.clone()), ("topic".to_owned(), topic)];
            // Replicas own disjoint partitions; the same one twice means a
            // rebalance in between, where the larger figure is the safe one.
            let v = out.entry("docflow_consumer_lag").or_insert(("gauge", BTreeMap::new())).1.entry(l).or_insert(0.0);
            *v = v.max(lag as f64);
        }
        let u = utilization(entry, m);
        let slot = util.entry(stage).or_insert((0.0, 0));
        slot.0 += u;
        slot.1 += 1;
    }
    let fam = out.entry("agent_utilization_ratio").or_insert(("gauge", BTreeMap::new()));
    for (stage, (sum, n)) in util {
        fam.1.insert(vec![("stage".to_owned(), stage)], sum / f64::from(n));
    }
    if fam.1.is_empty() {
        out.remove("agent_utilization_ratio");
    }
    out
}

/// Busy fraction of the stage's workers since the previous reading.
fn utilization(entry: &StageEntry, m: &StageMetrics) -> f64 {
    let mut last = entry.last.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    let busy = m.busy_ns.load(Ordering::Relaxed);
    let secs = now.duration_since(last.0).as_secs_f64();
    if secs < MIN_WINDOW_SECS {
        return last.2;
    }
    let workers = m.workers.load(Ordering::Relaxed).max(1) as f64;
    let ratio = (busy.saturating_sub(last.1) as f64 / 1e9 / (secs * workers)).clamp(0.0, 1.0);
    *last = (now, busy, ratio);
    ratio
}

/// `Ok` when at least one stage runs and every running stage is ready
/// (connected to Kafka, and its own `Stage::ready`); otherwise why not.
pub(crate) fn readiness(registry: &Registry) -> Result<(), String> {
    let stages = registry.stages.lock().unwrap_or_else(|p| p.into_inner());
    let mut running = 0;
    let mut not_ready = Vec::new();
    for view in stages.iter().filter_map(|e| e.view.upgrade()) {
        if view.closing() {
            continue;
        }
        running += 1;
        if let Err(why) = view.ready() {
            not_ready.push(format!("{}: {why}", view.stage_name()));
        }
    }
    match (running, not_ready.is_empty()) {
        (0, _) => Err("no stage running".into()),
        (_, true) => Ok(()),
        _ => Err(format!("not ready: {}", not_ready.join("; "))),
    }
}
