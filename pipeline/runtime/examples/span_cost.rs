//! CPU per traced record, isolated from Kafka and stage work: the span
//! part of the telemetry-overhead measurement.
//!
//! Start the counting receiver
//! (`cargo run --release -p docflow-runtime --example otlp_sink -- 127.0.0.1:14317`), then
//! `OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:14317 OTEL_TRACES_SAMPLER_ARG=1 \
//!  cargo run --release -p docflow-runtime --example span_cost -- 200000`.
//! Traces N records as a stage does (record span, one step span, the output
//! `traceparent`), flushes the exporter, and prints this process's CPU
//! (all threads: tracing layer, SDK, batch processor, gRPC export) per
//! record and per sampled record. With the variables unset it measures the
//! tracing-off path.

use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(200_000);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let telemetry = rt.block_on(async { docflow_runtime::telemetry::init_from_env("warn") })?;
    // Warm up (registry slabs, channel, connection) outside the window.
    docflow_runtime::telemetry::record_trace::trace_records_for_bench("parse", n / 10, None);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (cpu0, faults0, t0) = (cpu_secs(), minor_faults(), Instant::now());
    let sampled = docflow_runtime::telemetry::record_trace::trace_records_for_bench("parse", n, None);
    drop(telemetry); // flushes every queued span to the receiver
    let (cpu, faults, secs) = (cpu_secs() - cpu0, minor_faults() - faults0, t0.elapsed().as_secs_f64());
    drop(rt);
    println!(
        "{n} records, {sampled} sampled, in {secs:.2} s: CPU {:.2} µs/record, {}; {:.3} page faults/record",
        cpu * 1e6 / n as f64,
        if sampled > 0 { format!("{:.1} µs/sampled record", cpu * 1e6 / sampled as f64) } else { "none sampled".to_owned() },
        faults / n as f64,
    );
    Ok(())
}

/// User + system CPU seconds of this process (every thread).
fn cpu_secs() -> f64 {
    (proc_stat(11) + proc_stat(12)) / 100.0
}

/// Minor page faults of this process so far (fresh memory touched).
fn minor_faults() -> f64 {
    proc_stat(7)
}

/// Field `i` (counted after the command name) of `/proc/self/stat`.
fn proc_stat(i: usize) -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    rest.split_whitespace().nth(i).and_then(|x| x.parse().ok()).unwrap_or(0.0)
}
