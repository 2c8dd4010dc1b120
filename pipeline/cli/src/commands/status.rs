//! `docflow status`: one screen per deployment, from Kafka alone: consumer
//! lag per stage and partition, throughput (committed offsets advanced over a
//! sampling interval), DLQ growth and group members. `--watch` refreshes,
//! `--json` prints one object per sample for scripts.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use docflow_runtime::lag::{group_lag, TopicLag};
use docflow_schemas::topology;
use docflow_stages::topology::{standard_config, STAGES};
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::json;

use super::Context;

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Seconds between the two samples that give throughput and DLQ growth.
    #[arg(long, default_value_t = 3.0)]
    interval: f64,
    /// Keep refreshing (Ctrl-C to stop).
    #[arg(long)]
    watch: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Stages to show (default: all standard stages).
    #[arg(long, value_delimiter = ',')]
    stages: Vec<String>,
}

/// Lag and committed offsets of every (stage, input topic) at one instant.
struct Sample {
    at: Instant,
    lags: Vec<(String, String, TopicLag)>,
    dlq_end: i64,
}

fn sample(brokers: &str, stages: &[String]) -> anyhow::Result<Sample> {
    let timeout = Duration::from_secs(10);
    let mut lags = Vec::new();
    for stage in stages {
        let cfg = standard_config(stage).with_context(|| format!("unknown stage {stage:?} (known: {})", STAGES.join(", ")))?;
        for topic in &cfg.input_topics {
            let lag = group_lag(brokers, &cfg.group_id, topic, timeout)
                .with_context(|| format!("reading lag of {} on {topic} from {brokers}", cfg.group_id))?;
            lags.push((stage.clone(), cfg.group_id.clone(), lag));
        }
    }
    let dlq = group_lag(brokers, "docflow-status", topology::DLQ.name(), timeout)?;
    let dlq_end = dlq.partitions.iter().map(|p| p.high).sum();
    Ok(Sample { at: Instant::now(), lags, dlq_end })
}

fn committed_total(lag: &TopicLag) -> i64 {
    lag.partitions.iter().map(|p| p.committed.unwrap_or(p.low)).sum()
}

fn members(brokers: &str, group: &str) -> usize {
    let probe: Option<BaseConsumer> = super::kafka_config(brokers).ok().and_then(|c| c.create().ok());
    probe
        .and_then(|c| c.fetch_group_list(Some(group), Duration::from_secs(5)).ok())
        .and_then(|list| list.groups().first().map(|g| g.members().len()))
        .unwrap_or(0)
}

pub fn run(ctx: &Context, args: StatusArgs) -> anyhow::Result<()> {
    let stages: Vec<String> = if args.stages.is_empty() { STAGES.iter().map(|s| s.to_string()).collect() } else { args.stages.clone() };
    loop {
        let first = sample(&ctx.brokers, &stages)?;
        std::thread::sleep(Duration::from_secs_f64(args.interval.max(0.1)));
        let second = sample(&ctx.brokers, &stages)?;
        let secs = second.at.duration_since(first.at).as_secs_f64();
        let mut rows = Vec::new();
        let mut group_members = BTreeMap::new();
        for ((stage, group, before), (_, _, after)) in first.lags.iter().zip(&second.lags) {
            let rate = (committed_total(after) - committed_total(before)).max(0) as f64 / secs;
            let members = *group_members.entry(group.clone()).or_insert_with(|| members(&ctx.brokers, group));
            rows.push(json!({
                "stage": stage, "group": group, "topic": after.topic, "members": members,
                "lag": after.total(), "records_per_s": (rate * 10.0).round() / 10.0,
                "partitions": after.partitions.iter().map(|p| json!({
                    "partition": p.partition, "lag": p.lag, "committed": p.committed, "end": p.high
                })).collect::<Vec<_>>(),
            }));
        }
        let dlq_per_s = (second.dlq_end - first.dlq_end).max(0) as f64 / secs;
        if args.json {
            println!("{}", json!({"brokers": ctx.brokers, "interval_s": secs, "stages": rows,
                                  "dlq": {"records": second.dlq_end, "per_s": dlq_per_s}}));
        } else {
            print_table(&rows, second.dlq_end, dlq_per_s);
        }
        if !args.watch {
            return Ok(());
        }
    }
}

fn print_table(rows: &[serde_json::Value], dlq: i64, dlq_per_s: f64) {
    println!("{:<8} {:<18} {:>7} {:>10} {:>10}  per-partition lag", "STAGE", "TOPIC", "MEMBERS", "LAG", "REC/S");
    for r in rows {
        let parts: Vec<String> = r["partitions"]
            .as_array()
            .map(|a| a.iter().map(|p| format!("{}:{}", p["partition"], p["lag"])).collect())
            .unwrap_or_default();
        println!(
            "{:<8} {:<18} {:>7} {:>10} {:>10.1}  {}",
            r["stage"].as_str().unwrap_or(""),
            r["topic"].as_str().unwrap_or(""),
            r["members"].as_u64().unwrap_or(0),
            r["lag"].as_u64().unwrap_or(0),
            r["records_per_s"].as_f64().unwrap_or(0.0),
            parts.join(" ")
        );
    }
    println!("{}: {dlq} records, +{dlq_per_s:.1}/s", topology::DLQ);
}
