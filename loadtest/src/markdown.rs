//! `report.md`: the Markdown rendering of a [`Report`], KPI table first.

use std::fmt::Write as _;

use crate::report::Report;

/// Renders the summary.
pub fn render(r: &Report) -> String {
    let mut md = String::new();
    let l = &r.latency;
    let _ = writeln!(md, "# docflow load test: {} at {:.0} documents/s for {:.0} s\n", r.mode, r.target_rate, r.duration_secs);
    let m = &r.machine;
    let _ = writeln!(
        md,
        "Machine: {} ({} CPUs, {}, {:.0} GiB; load average {:.2} at the end); finished {}.\n",
        m.hostname, m.cpus, m.cpu_model, m.memory_gib, m.load_average, r.finished_at
    );
    kpis(r, &mut md);

    md.push_str("## Accounting\n\n");
    md.push_str("| published | delivered | dead-lettered | lost | duplicates | foreign | undecodable | publish errors |\n|---|---|---|---|---|---|---|---|\n");
    let _ = writeln!(
        md,
        "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
        r.published, r.delivered, r.dead_lettered, r.lost, r.duplicates, r.foreign, r.undecodable, r.publish_errors
    );
    if r.poison.injected > 0 {
        let _ = writeln!(
            md,
            "Poison records injected: {} ({} dead-lettered, {} delivered); valid documents: {}.\n",
            r.poison.injected,
            r.poison.dead_lettered,
            r.poison.delivered,
            r.valid_published()
        );
    }
    let verdict = if r.lost == 0 && r.balanced() { "**nothing lost**" } else { "**documents lost** (listed below)" };
    let _ = writeln!(md, "Every published id was classified as delivered, dead-lettered or lost: {verdict}.\n");

    md.push_str("## End-to-end latency (from scheduled send time)\n\n");
    md.push_str("| samples | mean | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|\n");
    let _ = writeln!(
        md,
        "| {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |\n",
        l.samples, l.mean_ms, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
    );
    let _ = writeln!(md, "Worst send lag behind schedule: {:.1} ms.\n", r.max_send_lag_ms);
    hops(r, &mut md);

    if r.phases.len() > 1 || r.ramp.is_some() {
        md.push_str("## Phases\n\n| phase | offered rate | published | delivered | dead-lettered | p50 | p99 | max | SLO |\n|---|---|---|---|---|---|---|---|---|\n");
        for p in &r.phases {
            let slo = match p.passed {
                Some(true) => "met",
                Some(false) => "missed",
                None => "-",
            };
            let _ = writeln!(
                md,
                "| {} | {:.0}/s | {} | {} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {slo} |",
                p.label, p.rate, p.published, p.delivered, p.dead_lettered, p.latency.p50_ms, p.latency.p99_ms, p.latency.max_ms
            );
        }
        md.push('\n');
    }
    if let Some(ramp) = &r.ramp {
        let _ = writeln!(
            md,
            "**Maximum sustainable rate: {:.0} documents/s** (p99 ≤ {:.0} ms); the ramp stopped because {}.\n",
            ramp.max_sustainable_rate, ramp.slo_p99_ms, ramp.stopped_because
        );
    }

    if !r.processes.is_empty() {
        md.push_str("## Stage processes\n\n| process | max RSS | mean RSS | RSS drift | utilisation mean / max | max consumer lag | lag drift |\n|---|---|---|---|---|---|---|\n");
        for p in &r.processes {
            let opt = |v: Option<f64>, unit: &str, prec: usize| v.map_or("-".to_string(), |v| format!("{v:.prec$}{unit}"));
            let lags = if p.max_lag.is_empty() { "-".into() } else { p.max_lag.iter().map(|(s, v)| format!("{s} {v:.0}")).collect::<Vec<_>>().join(", ") };
            let drift = if p.lag_slope_per_min.is_empty() {
                "-".into()
            } else {
                p.lag_slope_per_min.iter().map(|(s, v)| format!("{s} {v:+.0}/min")).collect::<Vec<_>>().join(", ")
            };
            let util = match (p.mean_utilization, p.max_utilization) {
                (Some(a), Some(b)) => format!("{:.0} % / {:.0} %", a * 100.0, b * 100.0),
                _ => "-".into(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {util} | {lags} | {drift} |",
                p.name,
                opt(p.max_rss_mb, " MB", 0),
                opt(p.mean_rss_mb, " MB", 0),
                opt(p.rss_slope_mb_per_h, " MB/h", 1),
            );
        }
        md.push('\n');
    }
    if !r.stage_processes.is_empty() {
        md.push_str("| managed stage | command | starts | kills (-9) | unexpected exits |\n|---|---|---|---|---|\n");
        for s in &r.stage_processes {
            let _ = writeln!(md, "| {} | `{}` | {} | {} | {} |", s.name, s.command, s.starts, s.kills, if s.unexpected_exits.is_empty() { "none".into() } else { s.unexpected_exits.join("; ") });
        }
        md.push('\n');
    }

    if !r.chaos.is_empty() {
        md.push_str("## Chaos\n\n| at | until | action | ok | p99 in the 10 s before | worst p99 from it to 30 s after |\n|---|---|---|---|---|---|\n");
        for e in &r.chaos {
            let before = window_p99(r, e.at_secs - 10.0, e.at_secs);
            let after = window_p99(r, e.at_secs, e.end_secs + 30.0);
            let _ = writeln!(
                md,
                "| {:.1} s | {:.1} s | {} | {} | {} | {} |",
                e.at_secs,
                e.end_secs,
                e.detail,
                if e.ok { "yes" } else { "NO" },
                before.map_or("-".into(), |v| format!("{v:.0} ms")),
                after.map_or("-".into(), |v| format!("{v:.0} ms"))
            );
        }
        let _ = writeln!(md, "\nAfter the chaos: {} lost, {} duplicates seen downstream, {} dead-lettered.\n", r.lost, r.duplicates, r.dead_lettered);
    }

    if !r.dlq_by_reason.is_empty() {
        md.push_str("## Dead letters by reason\n\n| error_kind | count |\n|---|---|\n");
        for (k, v) in &r.dlq_by_reason {
            let _ = writeln!(md, "| {k} | {v} |");
        }
        md.push('\n');
    }
    if !r.lost_ids.is_empty() {
        let _ = writeln!(md, "## Lost documents ({}; not seen within {} s)\n", r.lost, r.deadline_secs);
        for id in r.lost_ids.iter().take(1000) {
            let _ = writeln!(md, "- `{id}`");
        }
        if r.lost_ids.len() > 1000 {
            let _ = writeln!(md, "- … and {} more (all in report.json)", r.lost_ids.len() - 1000);
        }
        md.push('\n');
    }
    if !r.plots.is_empty() {
        md.push_str("## Plots\n\n");
        for p in &r.plots {
            let _ = writeln!(md, "![{p}]({p})\n");
        }
    }
    md
}

/// The KPI table: the seed's KPIs (its table's rows) beside docflow's figures.
/// Where the end-to-end time went, stage by stage.
fn hops(r: &Report, md: &mut String) {
    if r.hops.iter().all(|h| h.latency.samples == 0) {
        return;
    }
    md.push_str("## Latency per stage (input record timestamp → output record timestamp)\n\n");
    md.push_str("| stage | output topic | documents | mean | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|---|---|\n");
    for h in &r.hops {
        let l = &h.latency;
        let _ = writeln!(
            md,
            "| {} | `{}` | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
            h.stage, h.output_topic, l.samples, l.mean_ms, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
        );
    }
    md.push_str("\nEach hop includes the input's trip through the broker and the stage's batching; record timestamps have 1 ms resolution.\n\n");
}

fn kpis(r: &Report, md: &mut String) {
    let l = &r.latency;
    md.push_str("## Against the seed's KPI table\n\n| KPI (seed) | docflow, measured here | how |\n|---|---|---|\n");
    let tp = match &r.ramp {
        Some(ramp) => format!("{:.0} sustained (p99 ≤ {:.0} ms)", ramp.max_sustainable_rate, ramp.slo_p99_ms),
        None => format!("{:.1} (offered {:.1})", r.throughput, r.offered_rate),
    };
    let _ = writeln!(md, "| documents/second | {tp} | end to end, `docs.raw.*` → `docs.results`, every document followed by id |");
    let _ = writeln!(md, "| average latency | {:.1} ms (p50 {:.1}, p99 {:.1}, max {:.1}) | from each document's scheduled send time (open loop) |", l.mean_ms, l.p50_ms, l.p99_ms, l.max_ms);
    let util: Vec<String> =
        r.processes.iter().filter_map(|p| p.mean_utilization.map(|u| format!("{} {:.0} %", p.name, u * 100.0))).collect();
    let util = if util.is_empty() { "not measured (no stage metrics endpoint: --stage or --watch-metrics)".to_string() } else { util.join(", ") };
    let _ = writeln!(md, "| agent utilisation | {util} | `agent_utilization_ratio` (busy time of the stage's workers), mean of 1 s samples |");
    let mem: Vec<String> = r.processes.iter().filter_map(|p| p.max_rss_mb.map(|m| format!("{} {m:.0} MB", p.name))).collect();
    let mem = if mem.is_empty() { "not measured (no stage process: --stage or --watch-pid)".to_string() } else { mem.join(", ") };
    let _ = writeln!(md, "| memory per agent | {mem} | peak RSS of each stage process (`/proc/<pid>/status`) |");
    let _ = writeln!(md, "| success rate | {:.2} % | valid documents that reached `docs.results` / valid documents published |", r.success_rate * 100.0);
    let _ = writeln!(md, "| learning efficiency | not measured by the load test | the score stage's offline evaluation on the labeled corpus |\n");
}

/// Worst per-bucket p99 among documents scheduled in `[from, to)`.
fn window_p99(r: &Report, from: f64, to: f64) -> Option<f64> {
    r.timeline.iter().filter(|b| b.t >= from && b.t < to && b.p99_ms > 0.0).map(|b| b.p99_ms).reduce(f64::max)
}
