//! The run's accounting and its two renderings: a JSON file (`report.json`)
//! and a Markdown summary (`report.md`) with the measured figures beside the
//! columns of the seed's KPI table.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::ledger::Ledger;

/// End-to-end latency percentiles, milliseconds (from scheduled send time).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    pub samples: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// Where the run happened.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Machine {
    pub hostname: String,
    pub cpus: usize,
    pub cpu_model: String,
}

impl Machine {
    /// This machine, best effort (fields are empty when unreadable).
    pub fn this() -> Self {
        let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default().trim().to_string();
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("model name").map(|r| r.trim_start_matches([' ', '\t', ':']).to_string()))
            .unwrap_or_default();
        Self { hostname, cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), cpu_model }
    }
}

/// Everything a run measured. Invariant: `delivered + dead_lettered + lost == published`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub mode: String,
    pub target_rate: f64,
    pub duration_secs: f64,
    pub deadline_secs: f64,
    pub topics: TopicsUsed,
    pub published: u64,
    pub publish_errors: u64,
    pub delivered: u64,
    pub dead_lettered: u64,
    pub lost: u64,
    /// Ids published but seen on neither topic before the deadline.
    pub lost_ids: Vec<String>,
    pub duplicates: u64,
    /// Records on the followed topics that this run did not publish.
    pub foreign: u64,
    pub undecodable: u64,
    pub dlq_by_reason: BTreeMap<String, u64>,
    pub latency: Latency,
    /// Published documents / time from first to last scheduled send.
    pub offered_rate: f64,
    /// Classified documents / time from first scheduled send to last sighting.
    pub throughput: f64,
    /// `delivered / published` (valid documents that reached the results topic).
    pub success_rate: f64,
    /// Worst lateness of a send behind its schedule (harness or broker saturation).
    pub max_send_lag_ms: f64,
    pub machine: Machine,
    pub finished_at: String,
}

/// Topics of the run, for the record.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopicsUsed {
    pub raw: Vec<String>,
    pub results: String,
    pub dlq: String,
}

/// Inputs of [`Report::build`] that the ledger does not hold.
pub struct RunInfo {
    pub mode: String,
    pub target_rate: f64,
    pub duration_secs: f64,
    pub deadline_secs: f64,
    pub topics: TopicsUsed,
}

impl Report {
    /// Closes the books: every registered id not yet classified is lost.
    pub fn build(ledger: &Ledger, info: RunInfo) -> Self {
        let lost_ids = ledger.outstanding_ids();
        ledger.with(|s| {
            let h = &s.latency_us;
            let ms = |us: u64| us as f64 / 1000.0;
            let latency = Latency {
                samples: h.len(),
                mean_ms: if h.is_empty() { 0.0 } else { h.mean() / 1000.0 },
                p50_ms: ms(h.value_at_quantile(0.50)),
                p90_ms: ms(h.value_at_quantile(0.90)),
                p99_ms: ms(h.value_at_quantile(0.99)),
                p999_ms: ms(h.value_at_quantile(0.999)),
                max_ms: ms(h.max()),
            };
            let offered_secs = if info.target_rate > 0.0 { s.published.saturating_sub(1) as f64 / info.target_rate } else { 0.0 };
            let classified = s.delivered + s.dead_lettered;
            let span = match (s.first_scheduled, s.last_seen) {
                (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
                _ => 0.0,
            };
            Report {
                mode: info.mode,
                target_rate: info.target_rate,
                duration_secs: info.duration_secs,
                deadline_secs: info.deadline_secs,
                topics: info.topics,
                published: s.published,
                publish_errors: s.publish_errors,
                delivered: s.delivered,
                dead_lettered: s.dead_lettered,
                lost: lost_ids.len() as u64,
                lost_ids,
                duplicates: s.duplicates,
                foreign: s.foreign,
                undecodable: s.undecodable,
                dlq_by_reason: s.dlq_by_reason.clone(),
                latency,
                offered_rate: if offered_secs > 0.0 { s.published as f64 / offered_secs } else { s.published as f64 },
                throughput: if span > 0.0 { classified as f64 / span } else { 0.0 },
                success_rate: if s.published > 0 { s.delivered as f64 / s.published as f64 } else { 0.0 },
                max_send_lag_ms: s.max_send_lag_us as f64 / 1000.0,
                machine: Machine::this(),
                finished_at: chrono::Utc::now().to_rfc3339(),
            }
        })
    }

    /// True when the books balance (they always should; the test checks it).
    pub fn balanced(&self) -> bool {
        self.delivered + self.dead_lettered + self.lost == self.published
    }

    /// The Markdown summary.
    pub fn markdown(&self) -> String {
        let l = &self.latency;
        let mut md = format!(
            "# docflow load test: {mode} at {rate} documents/s for {dur} s\n\n\
             Machine: {host} ({cpus} CPUs, {cpu}); finished {fin}.\n\n\
             ## Against the seed's KPI table\n\n\
             | KPI | docflow (measured) |\n|---|---|\n\
             | documents/second | {tp:.1} (offered {off:.1}) |\n\
             | average latency | {mean:.1} ms end to end (p99 {p99:.1} ms) |\n\
             | agent utilisation | not measured |\n\
             | memory per agent | not measured |\n\
             | success rate | {sr:.2} % |\n\
             | learning efficiency | not measured |\n\n\
             ## Accounting\n\n\
             | published | delivered | dead-lettered | lost | duplicates | foreign | undecodable | publish errors |\n\
             |---|---|---|---|---|---|---|---|\n\
             | {p} | {d} | {q} | {lost} | {dup} | {f} | {u} | {pe} |\n\n\
             ## End-to-end latency (from scheduled send time)\n\n\
             | samples | mean | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|\n\
             | {n} | {mean:.1} ms | {p50:.1} ms | {p90:.1} ms | {p99:.1} ms | {p999:.1} ms | {max:.1} ms |\n\n\
             Worst send lag behind schedule: {lag:.1} ms.\n",
            mode = self.mode,
            rate = self.target_rate,
            dur = self.duration_secs,
            host = self.machine.hostname,
            cpus = self.machine.cpus,
            cpu = self.machine.cpu_model,
            fin = self.finished_at,
            tp = self.throughput,
            off = self.offered_rate,
            mean = l.mean_ms,
            p99 = l.p99_ms,
            sr = self.success_rate * 100.0,
            p = self.published,
            d = self.delivered,
            q = self.dead_lettered,
            lost = self.lost,
            dup = self.duplicates,
            f = self.foreign,
            u = self.undecodable,
            pe = self.publish_errors,
            n = l.samples,
            p50 = l.p50_ms,
            p90 = l.p90_ms,
            p999 = l.p999_ms,
            max = l.max_ms,
            lag = self.max_send_lag_ms,
        );
        if !self.dlq_by_reason.is_empty() {
            md.push_str("\n## Dead letters by reason\n\n| error_kind | count |\n|---|---|\n");
            for (k, v) in &self.dlq_by_reason {
                md.push_str(&format!("| {k} | {v} |\n"));
            }
        }
        if !self.lost_ids.is_empty() {
            md.push_str(&format!("\n## Lost documents ({}; not seen within {} s)\n\n", self.lost, self.deadline_secs));
            for id in self.lost_ids.iter().take(1000) {
                md.push_str(&format!("- `{id}`\n"));
            }
            if self.lost_ids.len() > 1000 {
                md.push_str(&format!("- … and {} more (all in report.json)\n", self.lost_ids.len() - 1000));
            }
        }
        md
    }

    /// Writes `report.json` and `report.md` into `dir` (created if needed).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("report.json"), json + "\n")?;
        std::fs::write(dir.join("report.md"), self.markdown())
    }
}
