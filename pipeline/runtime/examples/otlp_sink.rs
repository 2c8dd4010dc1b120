//! A stand-in OTLP/gRPC collector that counts what it receives: the
//! endpoint of the telemetry-overhead benchmark.
//!
//! `cargo run --release -p docflow-runtime --example otlp_sink -- 127.0.0.1:4317`
//! then run a stage (or the runtime benchmark) with
//! `OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317`. Prints the span and
//! metric-export counts every 5 s.

#[path = "../tests/otlp_receiver/mod.rs"]
mod otlp_receiver;

use std::sync::atomic::Ordering;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:4317".to_owned()).parse()?;
    let r = otlp_receiver::start(addr, false).await?;
    println!("OTLP sink on {}", r.endpoint());
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        println!(
            "spans={} metric_exports={}",
            r.received.span_count.load(Ordering::Relaxed),
            r.received.metric_exports.load(Ordering::Relaxed)
        );
    }
}
