//! The stage runner: wires a [`Stage`] to Kafka.
//!
//! ```text
//!  poll thread ──batches──► workers (tokio tasks) ──► producer ──acks──► InFlight
//!   │  ▲ pauses                decode/process/retry                      │
//!   │  └── lag monitor thread (backpressure, lanes)                      ▼
//!   └── store offsets ◄──────────────────────────────── OffsetBook (contiguous done)
//! ```
//!
//! Files: `poll` (the consumer loop, drain), `dispatch` (batching),
//! `worker` (processing, retries, DLQ, producing), `clients` (librdkafka
//! settings, delivery and rebalance callbacks), `membership` (readiness from
//! the group's state), `pauses` (why a partition is paused), `monitor` (lag
//! measurements), `shared` (state and per-record acks).

mod clients;
mod dispatch;
mod instance;
mod membership;
mod monitor;
mod pauses;
mod poll;
mod shared;
mod transactions;
mod worker;

use crate::config::{ConfigError, StageConfig};
use crate::metrics::StageMetrics;
use crate::shutdown::ShutdownSignal;
use crate::stage::Stage;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{Producer, ThreadedProducer};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

pub use transactions::TxnError;

/// Longest wait for the producer's last acknowledgements at exit.
const FINAL_FLUSH: Duration = Duration::from_secs(10);

/// Why a stage did not start, or stopped for good. Poison records are never
/// one of these: they go to the dead-letter topic.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The stage's configuration cannot run.
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("creating the Kafka producer")]
    Producer(#[source] KafkaError),
    #[error("creating the Kafka consumer")]
    Consumer(#[source] KafkaError),
    #[error("subscribing to the input topics")]
    Subscribe(#[source] KafkaError),
    /// Kafka transactions (exactly-once delivery) could not start.
    #[error(transparent)]
    Transactions(#[from] TxnError),
    /// The lag monitor (backpressure, priority lanes) needs a Kafka client
    /// of its own.
    #[error("creating the lag monitor's Kafka client")]
    LagProbe(#[source] KafkaError),
    #[error("starting the lag monitor thread")]
    MonitorThread(#[source] std::io::Error),
    /// A thread the runner waited for panicked or was cancelled.
    #[error("{what} did not finish")]
    Thread { what: &'static str, source: tokio::task::JoinError },
    /// The stage hit a failure it cannot go on from (the producer could not
    /// deliver, the consumer failed for good); what it was is `message`.
    #[error("stage {stage} stopped: {message}")]
    Fatal { stage: String, message: String },
    /// A stage task of [`run_stages`] panicked.
    #[error("stage task panicked")]
    Panicked(#[source] tokio::task::JoinError),
}

/// Run `stage` until `shutdown` fires (or a fatal error), then drain, commit
/// and flush. Returns an error for invalid configuration or a fatal failure
/// (the producer could not deliver, the consumer failed for good); poison
/// records never cause one.
pub async fn run_stage<S: Stage>(stage: S, config: StageConfig, shutdown: ShutdownSignal) -> Result<(), RunError> {
    run_stage_with_metrics(stage, config, shutdown, Arc::new(StageMetrics::default())).await
}

/// [`run_stage`], with counters the caller can read while it runs.
pub async fn run_stage_with_metrics<S: Stage>(
    stage: S,
    config: StageConfig,
    shutdown: ShutdownSignal,
    metrics: Arc<StageMetrics>,
) -> Result<(), RunError> {
    config.validate()?;
    let cfg = Arc::new(config);
    let name = stage.name().to_owned();
    let stage = Arc::new(stage);
    let topics: Vec<Arc<str>> = cfg.input_topics.iter().map(|t| Arc::from(t.as_str())).collect();
    let (dlq_tx, mut dlq_rx) = mpsc::unbounded_channel();
    // With lanes, the top lane may have a worker of its own (see `priority`).
    let reserved_top_lane = cfg.lanes_enabled() && cfg.priority.top_lane_worker;
    let worker_count = cfg.concurrency + usize::from(reserved_top_lane);
    metrics.workers.store(worker_count as u64, Ordering::Relaxed);
    let shared = Arc::new(shared::Shared::new(name.clone(), topics, shutdown.clone(), dlq_tx, metrics, cfg.exactly_once()));
    {
        let stage = Arc::downgrade(&stage);
        let _ = shared.stage_ready.set(Box::new(move || stage.upgrade().map_or(Ok(()), |s| s.ready())));
    }
    crate::telemetry::stages::register(crate::telemetry::Registry::global(), shared.clone());

    let instance = instance::choose(&cfg, &name);
    let instance_id = instance.as_ref().map(|i| i.id.clone());
    let transactional_id = cfg.exactly_once().then(|| transactions::transactional_id(&cfg, instance_id.as_deref()));
    let producer_config = clients::producer_config(&cfg, &name, transactional_id.as_deref());
    let producer: Arc<ThreadedProducer<clients::ProducerCtx>> =
        Arc::new(producer_config.create_with_context(clients::ProducerCtx).map_err(RunError::Producer)?);
    let producer = Arc::new(clients::ProducerSlot::new(producer));
    let txn = match cfg.exactly_once() {
        true => {
            let (producer, cfg, shutdown) = (producer.clone(), cfg.clone(), shutdown.clone());
            let started = tokio::task::spawn_blocking(move || transactions::Transactions::start(producer, producer_config, &cfg, &shutdown));
            match started.await.map_err(|source| RunError::Thread { what: "starting Kafka transactions", source })?? {
                Some(txn) => Some(txn),
                None => {
                    tracing::info!(stage = %name, "stopped before Kafka transactions could start (the broker never answered)");
                    return Ok(());
                }
            }
        }
        false => None,
    };

    // Workers and their channels.
    let lanes = if cfg.lanes_enabled() { cfg.input_topics.len() } else { 1 };
    let wctx = Arc::new(worker::WorkerCtx {
        stage,
        shared: shared.clone(),
        producer: producer.clone(),
        cfg: cfg.clone(),
        gate: txn.as_ref().map(|t| t.gate.clone()),
        limits: docflow_schemas::Limits { max_encoded_bytes: cfg.max_record_bytes, ..docflow_schemas::Limits::DEFAULT },
        schema_header: docflow_schemas::schema_header_value(),
    });
    let mut senders = Vec::new();
    let mut workers = Vec::new();
    for _ in 0..worker_count {
        let (tx, rx) = mpsc::unbounded_channel();
        senders.push(tx);
        workers.push(tokio::spawn(worker::worker_loop(wctx.clone(), rx, lanes)));
    }
    // Outputs the broker rejected for good are dead-lettered by this task
    // (exactly-once: their transaction aborts; the redo dead-letters them).
    let dlq_task = {
        let (producer, cfg) = (producer.clone(), cfg.clone());
        tokio::spawn(async move {
            while let Some((record, err)) = dlq_rx.recv().await {
                if cfg.exactly_once() {
                    record.reject_for_redo(err);
                } else {
                    worker::send_dead_letter(&producer.current(), &cfg, &record, err).await;
                }
            }
        })
    };

    let ctx = clients::ConsumerCtx {
        shared: shared.clone(),
        dispatch: Mutex::new(dispatch::Dispatch::new(senders, lanes, cfg.batch_size, Duration::from_millis(cfg.batch_linger_ms), reserved_top_lane)),
        pauses: Mutex::new(pauses::PauseState::new(cfg.lanes_enabled())),
        rebalance_drain_timeout: cfg.rebalance_drain_timeout(),
        txn: txn.map(Mutex::new),
    };
    let instance_id = instance_id.as_deref();
    let consumer: Arc<BaseConsumer<clients::ConsumerCtx>> = Arc::new(
        clients::consumer_config(&cfg, &name, instance_id).create_with_context(ctx).map_err(RunError::Consumer)?,
    );
    let topic_refs: Vec<&str> = cfg.input_topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topic_refs).map_err(RunError::Subscribe)?;
    tracing::info!(stage = %name, group = %cfg.group_id, instance = instance_id.unwrap_or("(dynamic)"), topics = ?cfg.input_topics, output = ?cfg.output_topic, "stage started");

    let monitor = monitor::spawn(shared.clone(), cfg.clone())?;
    let poller = {
        let (consumer, cfg) = (consumer.clone(), cfg.clone());
        tokio::task::spawn_blocking(move || poll::PollLoop::new(consumer, cfg).run())
    };
    if let Err(e) = poller.await {
        shared.set_fatal(format!("poll thread panicked: {e}"));
    }

    // The dispatcher closed the channels: workers end once their queues are
    // done (the drain already waited for that, bounded by drain_timeout).
    for w in workers {
        if tokio::time::timeout(Duration::from_secs(1), w).await.is_err() {
            tracing::warn!(stage = %name, "a worker did not finish in time");
        }
    }
    shared.closing.store(true, Ordering::Release);
    {
        let producer = producer.current();
        let flushed = tokio::task::spawn_blocking(move || producer.flush(FINAL_FLUSH)).await;
        if let Ok(Err(e)) = flushed {
            tracing::warn!(stage = %name, "producer flush: {e}");
        }
    }
    dlq_task.abort();
    // Leave the group now (the revoke callback commits what is stored).
    tokio::task::spawn_blocking(move || {
        leave_group(&consumer);
        if let Some(txn) = &consumer.context().txn {
            txn.lock().unwrap_or_else(|p| p.into_inner()).close();
        }
        drop(consumer);
        drop(instance);
        if let Some(m) = monitor {
            let _ = m.join();
        }
    })
    .await
    .ok();
    match shared.fatal() {
        Some(message) => Err(RunError::Fatal { stage: name, message }),
        None => {
            tracing::info!(stage = %name, "stage stopped cleanly");
            Ok(())
        }
    }
}

/// Longest a planned stop waits for the group to take its partitions back.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Unsubscribe and serve the revoke, so the consumer leaves the group before
/// it closes. librdkafka sends a static member's LeaveGroup only when the
/// unassignment completes before the close (a close alone keeps static
/// members in the group until their session times out), so wait for it.
fn leave_group(consumer: &BaseConsumer<clients::ConsumerCtx>) {
    consumer.unsubscribe();
    let deadline = std::time::Instant::now() + LEAVE_TIMEOUT;
    while std::time::Instant::now() < deadline {
        let _ = consumer.poll(Duration::from_millis(20));
        if consumer.assignment().map(|a| a.count() == 0).unwrap_or(true) {
            break;
        }
    }
    // Let the group handler finish the unassignment and send the leave.
    let settle = std::time::Instant::now() + Duration::from_millis(200);
    while std::time::Instant::now() < settle {
        let _ = consumer.poll(Duration::from_millis(20));
    }
}

/// A type-erased stage run, so stages of different types can run together.
pub type StageTask = Pin<Box<dyn Future<Output = Result<(), RunError>> + Send>>;

/// Wrap a stage into a [`StageTask`] for [`run_stages`].
pub fn stage_task<S: Stage>(stage: S, config: StageConfig, shutdown: ShutdownSignal) -> StageTask {
    Box::pin(run_stage(stage, config, shutdown))
}

/// Run several stages in one process (`docflow run`). They share
/// `shutdown`: when one fails fatally the others are stopped too, and the
/// first error is returned after all have drained.
pub async fn run_stages(tasks: Vec<StageTask>, shutdown: ShutdownSignal) -> Result<(), RunError> {
    let handles: Vec<_> = tasks
        .into_iter()
        .map(|task| {
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let result = task.await;
                if result.is_err() {
                    shutdown.trigger();
                }
                result
            })
        })
        .collect();
    let mut first_err = None;
    for result in futures::future::join_all(handles).await {
        let result = result.unwrap_or_else(|e| {
            shutdown.trigger();
            Err(RunError::Panicked(e))
        });
        if let Err(e) = result {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}
