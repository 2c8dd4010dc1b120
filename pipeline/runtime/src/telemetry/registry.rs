//! The metric registry: named families of labelled counters, gauges and
//! histograms, and its Prometheus text rendering (format 0.0.4).
//!
//! Stage code feeds metrics the runner cannot know (cache hits, encoder batch
//! sizes, GPU time, model version) through [`Registry::global`]:
//! `Registry::global().counter("cache_hits_total", &[("cache", "tokens")])?.inc()`.
//! Handles are `Arc`s: look one up once and keep it on hot paths.
//! The runner's own per-stage counters are read at scrape time from the
//! registered stages (see `stages.rs`), not copied in here.

use super::stages::StageEntry;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Buckets of `document_processing_duration_seconds` (seconds).
pub const DURATION_BUCKETS: [f64; 6] = [0.1, 0.5, 1.0, 2.0, 5.0, 10.0];

/// Why a metric could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid metric name {0:?}")]
    InvalidName(String),
    #[error("invalid label name {0:?}")]
    InvalidLabel(String),
    #[error("metric {name} is a {existing}, not a {requested}")]
    KindMismatch { name: String, existing: &'static str, requested: &'static str },
    #[error("histogram {0} needs at least one finite, strictly increasing bucket bound")]
    InvalidBuckets(String),
}

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (an `f64`, stored as bits).
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }
    pub fn add(&self, d: f64) {
        add_f64(&self.0, d);
    }
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// A distribution over fixed bucket upper bounds (`le`), plus sum and count.
pub struct Histogram {
    bounds: Vec<f64>,
    /// Per-bucket (non-cumulative) counts; the last one is `+Inf`.
    counts: Vec<AtomicU64>,
    sum: AtomicU64,
    count: AtomicU64,
    /// Name and labels, for the OTLP mirror.
    name: String,
    labels: Labels,
    /// The OTLP instrument this histogram also records into, once OTLP
    /// metric export is installed (histograms cannot be observed later).
    mirror: OnceLock<Option<super::otlp_metrics::Mirror>>,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram").field("name", &self.name).field("labels", &self.labels).field("count", &self.count()).finish()
    }
}

impl Histogram {
    fn new(name: &str, labels: Labels, bounds: &[f64]) -> Self {
        Self {
            bounds: bounds.to_vec(),
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
            count: AtomicU64::new(0),
            name: name.to_owned(),
            labels,
            mirror: OnceLock::new(),
        }
    }

    pub fn observe(&self, v: f64) {
        if v.is_nan() {
            return; // A NaN would poison the sum forever.
        }
        let i = self.bounds.iter().position(|b| v <= *b).unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        add_f64(&self.sum, v);
        self.count.fetch_add(1, Ordering::Relaxed);
        if super::otlp_metrics::active() {
            let mirror = self.mirror.get_or_init(|| super::otlp_metrics::Mirror::new(&self.name, &self.labels, &self.bounds));
            if let Some(m) = mirror {
                m.record(v);
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn sum(&self) -> f64 {
        f64::from_bits(self.sum.load(Ordering::Relaxed))
    }

    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }
}

fn add_f64(cell: &AtomicU64, d: f64) {
    let _ = cell.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| Some((f64::from_bits(bits) + d).to_bits()));
}

/// Label pairs, sorted by name (the identity of a series).
pub type Labels = Vec<(String, String)>;

/// Counter and gauge values by metric name: (type, samples by labels).
pub type Snapshot = BTreeMap<String, (&'static str, Vec<(Labels, f64)>)>;

enum Series {
    Counter(BTreeMap<Labels, Arc<Counter>>),
    Gauge(BTreeMap<Labels, Arc<Gauge>>),
    Histogram(Vec<f64>, BTreeMap<Labels, Arc<Histogram>>),
}

impl Series {
    fn kind(&self) -> &'static str {
        match self {
            Series::Counter(_) => "counter",
            Series::Gauge(_) => "gauge",
            Series::Histogram(..) => "histogram",
        }
    }
}

/// All metrics of a process. One global instance serves `/metrics`.
#[derive(Default)]
pub struct Registry {
    families: Mutex<BTreeMap<String, Series>>,
    pub(crate) stages: Mutex<Vec<StageEntry>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide registry (what `/metrics` serves, where the runner
    /// registers its stages).
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(Registry::new)
    }

    fn families(&self) -> MutexGuard<'_, BTreeMap<String, Series>> {
        self.families.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The counter `name{labels}`, created on first use.
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> Result<Arc<Counter>, TelemetryError> {
        let key = check(name, labels)?;
        let mut fams = self.families();
        match fams.entry(name.to_owned()).or_insert_with(|| Series::Counter(BTreeMap::new())) {
            Series::Counter(m) => Ok(m.entry(key).or_default().clone()),
            other => Err(mismatch(name, other, "counter")),
        }
    }

    /// The gauge `name{labels}`, created on first use (initially 0).
    pub fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> Result<Arc<Gauge>, TelemetryError> {
        let key = check(name, labels)?;
        let mut fams = self.families();
        match fams.entry(name.to_owned()).or_insert_with(|| Series::Gauge(BTreeMap::new())) {
            Series::Gauge(m) => Ok(m.entry(key).or_default().clone()),
            other => Err(mismatch(name, other, "gauge")),
        }
    }

    /// The histogram `name{labels}`. `buckets` are the upper bounds (`+Inf`
    /// is implicit); the first registration of a name fixes them.
    pub fn histogram(&self, name: &str, labels: &[(&str, &str)], buckets: &[f64]) -> Result<Arc<Histogram>, TelemetryError> {
        let key = check(name, labels)?;
        if buckets.is_empty() || buckets.iter().any(|b| !b.is_finite()) || buckets.windows(2).any(|w| w[0] >= w[1]) {
            return Err(TelemetryError::InvalidBuckets(name.to_owned()));
        }
        let mut fams = self.families();
        match fams.entry(name.to_owned()).or_insert_with(|| Series::Histogram(buckets.to_vec(), BTreeMap::new())) {
            Series::Histogram(bounds, m) => {
                let bounds = bounds.clone();
                Ok(m.entry(key.clone()).or_insert_with(|| Arc::new(Histogram::new(name, key, &bounds))).clone())
            }
            other => Err(mismatch(name, other, "histogram")),
        }
    }

    /// Current values of every counter and gauge (registered and read
    /// from the running stages), by name: (type, samples). Histograms are
    /// not included (they are mirrored into OTLP as they are observed).
    pub fn snapshot(&self) -> Snapshot {
        let pulled = super::stages::collect(self);
        let fams = self.families();
        let mut out = BTreeMap::new();
        for (name, series) in fams.iter() {
            let samples: Vec<(Labels, f64)> = match series {
                Series::Counter(m) => m.iter().map(|(l, c)| (l.clone(), c.get() as f64)).collect(),
                Series::Gauge(m) => m.iter().map(|(l, g)| (l.clone(), g.get())).collect(),
                Series::Histogram(..) => continue,
            };
            out.insert(name.clone(), (series.kind(), samples));
        }
        for (name, (kind, samples)) in pulled {
            out.entry(name.to_owned()).or_insert_with(|| (kind, samples.into_iter().collect()));
        }
        out
    }

    /// Everything in Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let pulled = super::stages::collect(self);
        let fams = self.families();
        for (name, series) in fams.iter() {
            header(&mut out, name, series.kind());
            match series {
                Series::Counter(m) => m.iter().for_each(|(l, c)| sample(&mut out, name, l, None, c.get() as f64)),
                Series::Gauge(m) => m.iter().for_each(|(l, g)| sample(&mut out, name, l, None, g.get())),
                Series::Histogram(_, m) => m.iter().for_each(|(l, h)| render_histogram(&mut out, name, l, h)),
            }
        }
        for (name, (kind, samples)) in pulled.iter().filter(|(n, _)| !fams.contains_key(**n)) {
            header(&mut out, name, kind);
            samples.iter().for_each(|(l, v)| sample(&mut out, name, l, None, *v));
        }
        out
    }
}

fn mismatch(name: &str, existing: &Series, requested: &'static str) -> TelemetryError {
    TelemetryError::KindMismatch { name: name.to_owned(), existing: existing.kind(), requested }
}

fn valid_ident(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    let ok_first = |c: char| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':');
    chars.next().is_some_and(ok_first) && chars.all(|c| ok_first(c) || c.is_ascii_digit())
}

fn check(name: &str, labels: &[(&str, &str)]) -> Result<Labels, TelemetryError> {
    if !valid_ident(name, true) {
        return Err(TelemetryError::InvalidName(name.to_owned()));
    }
    let mut key = Labels::with_capacity(labels.len());
    for (k, v) in labels {
        if !valid_ident(k, false) || k.starts_with("__") || *k == "le" {
            return Err(TelemetryError::InvalidLabel((*k).to_owned()));
        }
        key.push(((*k).to_owned(), (*v).to_owned()));
    }
    key.sort();
    key.dedup_by(|a, b| a.0 == b.0);
    Ok(key)
}

/// The documented metrics (deploy/observability/metrics.txt): name and type.
/// OTLP export registers exactly these.
pub const DOCUMENTED: [(&str, &str); 17] = [
    ("document_processing_duration_seconds", "histogram"),
    ("agent_utilization_ratio", "gauge"),
    ("cache_hits_total", "counter"),
    ("docflow_records_in_total", "counter"),
    ("docflow_records_out_total", "counter"),
    ("docflow_records_failed_total", "counter"),
    ("docflow_in_flight", "gauge"),
    ("docflow_consumer_lag", "gauge"),
    ("docflow_backpressure_pauses_total", "counter"),
    ("docflow_dlq_records_total", "counter"),
    ("docflow_retries_total", "counter"),
    ("docflow_circuit_breaker_open", "gauge"),
    ("docflow_encoder_batch_size", "histogram"),
    ("docflow_encoder_batch_tokens", "histogram"),
    ("docflow_gpu_kernel_seconds", "histogram"),
    ("docflow_gpu_memory_bytes", "gauge"),
    ("docflow_model_version", "gauge"),
];

/// Help text of the documented metrics (deploy/observability/metrics.txt).
pub(crate) fn help(name: &str) -> &'static str {
    match name {
        "document_processing_duration_seconds" => "Time from consuming an input record to all its outputs acknowledged.",
        "agent_utilization_ratio" => "Busy fraction of the stage's workers since the previous scrape.",
        "cache_hits_total" => "Cache hits by cache.",
        "docflow_records_in_total" => "Records consumed from the input topics.",
        "docflow_records_out_total" => "Output records produced.",
        "docflow_records_failed_total" => "Input records sent to the dead-letter topic.",
        "docflow_in_flight" => "Records consumed and not yet completed.",
        "docflow_consumer_lag" => "Consumer-group lag per input partition.",
        "docflow_backpressure_pauses_total" => "Times the input was paused because the next stage lags.",
        "docflow_dlq_records_total" => "Dead-lettered records by reason.",
        "docflow_retries_total" => "Retry attempts of retryable errors.",
        "docflow_circuit_breaker_open" => "1 while the stage's circuit breaker is open.",
        "docflow_encoder_batch_size" => "Documents per encoder batch.",
        "docflow_encoder_batch_tokens" => "Tokens per encoder batch.",
        "docflow_gpu_kernel_seconds" => "GPU kernel time per encoder batch.",
        "docflow_gpu_memory_bytes" => "GPU memory in use.",
        "docflow_model_version" => "Version of the model in use.",
        _ => "docflow metric.",
    }
}

fn header(out: &mut String, name: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} {kind}", help(name));
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

fn sample(out: &mut String, name: &str, labels: &Labels, le: Option<&str>, v: f64) {
    out.push_str(name);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        let mut first = true;
        for (k, val) in labels.iter().map(|(k, v)| (k.as_str(), escape(v))).chain(le.map(|le| ("le", le.to_owned()))) {
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, "{k}=\"{val}\"");
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", fmt_value(v));
}

fn render_histogram(out: &mut String, name: &str, labels: &Labels, h: &Histogram) {
    let bucket = format!("{name}_bucket");
    let mut cumulative = 0u64;
    for (i, c) in h.counts.iter().enumerate() {
        cumulative += c.load(Ordering::Relaxed);
        let le = h.bounds.get(i).map_or_else(|| "+Inf".to_owned(), |b| fmt_value(*b));
        sample(out, &bucket, labels, Some(&le), cumulative as f64);
    }
    sample(out, &format!("{name}_sum"), labels, None, h.sum());
    // The count equals the +Inf bucket by construction of this snapshot.
    sample(out, &format!("{name}_count"), labels, None, cumulative as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_cumulative_buckets() {
        let r = Registry::new();
        r.counter("cache_hits_total", &[("cache", "tok\"en")]).unwrap().add(3);
        r.gauge("docflow_gpu_memory_bytes", &[]).unwrap().set(1.5);
        let h = r.histogram("document_processing_duration_seconds", &[("stage", "s"), ("outcome", "ok")], &DURATION_BUCKETS).unwrap();
        h.observe(0.05);
        h.observe(0.7);
        h.observe(30.0);
        let text = r.render();
        assert!(text.contains("# TYPE cache_hits_total counter\ncache_hits_total{cache=\"tok\\\"en\"} 3\n"), "{text}");
        assert!(text.contains("docflow_gpu_memory_bytes 1.5\n"), "{text}");
        let l = "outcome=\"ok\",stage=\"s\"";
        for (le, n) in [("0.1", 1), ("0.5", 1), ("1", 2), ("2", 2), ("5", 2), ("10", 2), ("+Inf", 3)] {
            assert!(text.contains(&format!("document_processing_duration_seconds_bucket{{{l},le=\"{le}\"}} {n}\n")), "le={le}: {text}");
        }
        assert!(text.contains(&format!("document_processing_duration_seconds_count{{{l}}} 3\n")), "{text}");
        assert!(text.contains(&format!("document_processing_duration_seconds_sum{{{l}}} 30.75\n")), "{text}");
    }

    #[test]
    fn documented_list_matches_the_contract_file() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/observability/metrics.txt");
        let text = std::fs::read_to_string(path).unwrap();
        let mut contract: Vec<(String, String)> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f[0].to_owned(), f[1].to_owned())
            })
            .collect();
        let mut ours: Vec<(String, String)> = DOCUMENTED.iter().map(|(n, k)| (n.to_string(), k.to_string())).collect();
        contract.sort();
        ours.sort();
        assert_eq!(ours, contract);
        for (name, _) in DOCUMENTED {
            assert_ne!(help(name), "docflow metric.", "{name} has no help text");
        }
    }

    #[test]
    fn snapshot_holds_counters_and_gauges_not_histograms() {
        let r = Registry::new();
        r.counter("cache_hits_total", &[("cache", "t")]).unwrap().add(2);
        r.gauge("docflow_model_version", &[("stage", "score")]).unwrap().set(3.0);
        r.histogram("docflow_encoder_batch_size", &[], &[1.0, 8.0]).unwrap().observe(4.0);
        let snap = r.snapshot();
        assert_eq!(snap["cache_hits_total"], ("counter", vec![(vec![("cache".into(), "t".into())], 2.0)]));
        assert_eq!(snap["docflow_model_version"].1[0].1, 3.0);
        assert!(!snap.contains_key("docflow_encoder_batch_size"));
    }

    #[test]
    fn bad_names_and_kind_conflicts_are_errors() {
        let r = Registry::new();
        assert_eq!(r.counter("9bad", &[]).unwrap_err(), TelemetryError::InvalidName("9bad".into()));
        assert!(matches!(r.counter("x_total", &[("le", "1")]), Err(TelemetryError::InvalidLabel(_))));
        r.counter("x_total", &[]).unwrap();
        assert!(matches!(r.gauge("x_total", &[]), Err(TelemetryError::KindMismatch { .. })));
        assert!(matches!(r.histogram("h", &[], &[2.0, 1.0]), Err(TelemetryError::InvalidBuckets(_))));
        // Same series, same handle.
        r.counter("x_total", &[("a", "1")]).unwrap().inc();
        assert_eq!(r.counter("x_total", &[("a", "1")]).unwrap().get(), 1);
    }
}
