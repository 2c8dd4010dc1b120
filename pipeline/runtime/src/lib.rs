//! docflow-runtime: the Kafka stage runtime every docflow stage runs on.
//!
//! A stage author implements [`Stage`] (`process(batch) -> outputs`); the
//! runtime does the rest with at-least-once delivery, in order per partition.
//!
//! Where things are:
//! - [`stage`]: the [`Stage`] trait, [`Input`], [`Output`], [`RawRecord`].
//! - [`config`]: [`StageConfig`], every knob documented, with defaults, and
//!   [`config::merge_toml`] (a TOML overlay on a stage's standard config);
//!   [`retry`], [`backpressure`], [`priority`] hold their sections and the
//!   pure decision logic (backoff, hysteresis gate, lane policy).
//! - [`runner`]: [`run_stage`] / [`run_stages`]; inside it the poll thread,
//!   batching, workers, rebalance and delivery callbacks, the lag monitor.
//! - [`offsets`]: per-partition tracking of the contiguous completed range,
//!   the only thing that decides which offset is committed.
//! - [`dlq`]: the dead-letter record (`docs.dlq`) and its headers.
//! - [`lag`]: consumer-group lag (backpressure, lanes, `docflow status`).
//! - [`telemetry`]: Prometheus `/metrics`, `/healthz`, `/readyz`
//!   ([`telemetry::serve_from_env`]), the metric registry stages feed, and
//!   OpenTelemetry over OTLP ([`telemetry::init_from_env`]): per-record
//!   spans, W3C trace context through Kafka headers, OTLP metrics.
//! - [`shutdown`]: [`ShutdownSignal`] (SIGINT/SIGTERM).
//! - [`passthrough`], [`testdata`], [`bench`]: the pass-through test stage,
//!   test data on a real broker (topics, a fast producer), the benchmark
//!   ([`bench::run_bench`]; its command-line front ends are `docflow bench
//!   runtime` and `docflow-runtime-bench` in `pipeline/bench`). The helpers
//!   only tests use (reading a topic back, a scratch broker, HTTP probes)
//!   are in the test-support crate, `docflow_testkit::{kafka, probe}`.
//! - the global allocator: mimalloc (feature `mimalloc`, on by default) for
//!   every process linking the runtime, declared at the end of this file.
//! - `src/bin/testproc.rs`: a stage as an OS process (tests `kill -9` it).
//!
//! Guarantees (tested in `tests/`): an input offset is committed only after
//! every output it caused is acknowledged (acks=all, idempotent producer),
//! and only up to the contiguous completed range; poison records go to the
//! dead-letter topic and never stop a partition; input pauses while the next
//! stage lags; `docs.raw.critical` is drained before lower lanes.

pub mod backpressure;
pub mod bench;
pub mod config;
pub mod dlq;
pub mod lag;
pub mod metrics;
pub mod offsets;
pub mod passthrough;
pub mod priority;
pub mod retry;
pub mod runner;
pub mod shutdown;
pub mod stage;
pub mod telemetry;
pub mod testdata;

pub use config::{DeliveryMode, OutputCodec, StageConfig};
pub use metrics::StageMetrics;
pub use runner::{run_stage, run_stage_with_metrics, run_stages, stage_task, RunError, StageTask};
pub use shutdown::ShutdownSignal;
pub use stage::{Input, Output, ProcessResult, RawRecord, RecordMeta, Stage};

/// Log to stderr, filtered by `RUST_LOG` (default `info`); for tests and
/// tools. Binaries that run stages use [`telemetry::init_from_env`], which
/// adds OTLP export when configured.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// A span for one step of a stage (parse, score, write …) below a record's
/// span ([`telemetry::StepSpan`]; nothing, at no cost, when the record is
/// not traced). It ends when dropped:
/// `let _span = docflow_runtime::step_span!(&input.span, "parse");`
/// or, for async work, move it into the future doing the step. Attributes
/// follow the name as `key.parts = value` (integers, floats, booleans,
/// strings): `step_span!(&input.span, "work", doc.seq = input.value.seq)`;
/// they are evaluated only when the step is recorded.
#[macro_export]
macro_rules! step_span {
    ($parent:expr, $name:literal $(, $($key:ident).+ = $value:expr)* $(,)?) => {
        $crate::telemetry::StepSpan::start($parent, $name, || {
            ::std::vec![$($crate::__private::KeyValue::new(
                {
                    const KEY: &str = $crate::telemetry::spans::dotted_key(::std::concat!($(::std::stringify!($key), "."),+));
                    KEY
                },
                $crate::telemetry::AttributeValue::into_value($value),
            )),*]
        })
    };
}

#[doc(hidden)]
pub mod __private {
    pub use opentelemetry::KeyValue;
    pub use tracing;
}

/// mimalloc instead of glibc malloc for every docflow process. Records are
/// allocated on the poll thread and freed on workers and librdkafka's
/// threads (spans on the export thread); glibc's per-arena free lists made
/// that cross-thread traffic about a quarter of a pass-through stage's CPU
/// (`malloc_consolidate`, `unlink_chunk`). Measured in docs/benchmarks.md.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
