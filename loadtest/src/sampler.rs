//! Once per interval: the ledger's counters, and for every stage process the
//! harness knows (managed, watched by pid, or by metrics address) its RSS
//! and what its `/metrics` page says (utilisation, in-flight, consumer lag
//! per stage, DLQ by reason). The time series feed the report's drift
//! analysis and the plots.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::ledger::Ledger;
use crate::procs::{rss_by_name, Supervisor, WatchMetrics, WatchPid};
use crate::scrape::{scrape, StageFigures};

/// One stage process at one instant.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ProcessPoint {
    pub rss_mb: Option<f64>,
    pub utilization: Option<f64>,
    pub in_flight: Option<f64>,
    /// Consumer lag of each stage running in this process.
    pub lag: BTreeMap<String, f64>,
    /// DLQ counters by reason (cumulative).
    pub dlq_by_reason: BTreeMap<String, f64>,
}

/// Everything sampled at one instant (`t` seconds from the run's start).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TimePoint {
    pub t: f64,
    pub published: u64,
    pub delivered: u64,
    pub dead_lettered: u64,
    pub outstanding: u64,
    pub processes: BTreeMap<String, ProcessPoint>,
}

/// What to sample.
#[derive(Clone, Default)]
pub struct Targets {
    pub supervisor: Option<Arc<Supervisor>>,
    pub pids: Vec<WatchPid>,
    pub metrics: Vec<WatchMetrics>,
}

impl Targets {
    fn endpoints(&self) -> Vec<(String, SocketAddr)> {
        let mut v: Vec<(String, SocketAddr)> = self.metrics.iter().map(|m| (m.name.clone(), m.addr)).collect();
        if let Some(s) = &self.supervisor {
            v.extend(s.current().into_iter().filter(|(_, pid, _)| pid.is_some()).map(|(n, _, a)| (n, a)));
        }
        v
    }

    pub fn is_empty(&self) -> bool {
        self.supervisor.is_none() && self.pids.is_empty() && self.metrics.is_empty()
    }
}

/// One sample now.
pub fn sample(t0: Instant, ledger: &Ledger, targets: &Targets) -> TimePoint {
    let outstanding = ledger.outstanding();
    let (published, delivered, dead_lettered) = ledger.with(|s| (s.published, s.delivered, s.dead_lettered));
    let mut processes: BTreeMap<String, ProcessPoint> = BTreeMap::new();
    for (name, rss) in rss_by_name(targets.supervisor.as_deref(), &targets.pids) {
        processes.entry(name).or_default().rss_mb = Some(rss as f64 / (1 << 20) as f64);
    }
    for (name, addr) in targets.endpoints() {
        // A stage just killed does not answer: its point simply lacks figures.
        if let Ok(samples) = scrape(addr, Duration::from_millis(500)) {
            let f = StageFigures::from_samples(&samples);
            let p = processes.entry(name).or_default();
            p.utilization = f.utilization;
            p.in_flight = Some(f.in_flight);
            p.lag = f.lag;
            p.dlq_by_reason = f.dlq_by_reason;
        }
    }
    TimePoint { t: t0.elapsed().as_secs_f64(), published, delivered, dead_lettered, outstanding, processes }
}

/// Samples every `every` until `stop`; returns the series.
pub fn run(t0: Instant, ledger: Arc<Ledger>, targets: Targets, every: Duration, stop: Arc<AtomicBool>) -> Vec<TimePoint> {
    let mut out = Vec::new();
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        out.push(sample(t0, &ledger, &targets));
        next += every;
        while Instant::now() < next && !stop.load(Ordering::Relaxed) {
            std::thread::sleep((next - Instant::now()).min(Duration::from_millis(100)));
        }
    }
    out.push(sample(t0, &ledger, &targets));
    out
}

/// Least-squares slope of `(x, y)` points (units of y per unit of x);
/// `None` with fewer than 3 points or no spread in x.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_fits_a_line() {
        let pts: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 3.0 + 2.0 * i as f64)).collect();
        assert!((slope(&pts).unwrap() - 2.0).abs() < 1e-9);
        assert_eq!(slope(&pts[..2]), None);
        assert_eq!(slope(&[(1.0, 1.0), (1.0, 2.0), (1.0, 3.0)]), None);
    }

    #[test]
    fn samples_the_ledger_and_a_watched_pid() {
        let ledger = Ledger::new();
        let t0 = Instant::now();
        ledger.register("a", t0);
        ledger.confirm("a", 0);
        let targets = Targets { pids: vec![WatchPid { name: "me".into(), pid: std::process::id() }], ..Default::default() };
        let p = sample(t0, &ledger, &targets);
        assert_eq!((p.published, p.outstanding), (1, 1));
        assert!(p.processes["me"].rss_mb.unwrap() > 1.0);
    }
}
