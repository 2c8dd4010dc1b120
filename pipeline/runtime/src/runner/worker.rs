//! Workers: decode → process (with retries) → produce, for one batch at a time.
//!
//! Each worker owns a fixed set of partitions (see `dispatch`), so records
//! of a partition are processed and produced in order. A worker always takes
//! the highest-priority lane's batch first. Outputs are handed to the
//! producer without waiting for acks; the acks complete the records (see
//! `shared::InFlight`), which is what moves the committed offsets.
//!
//! Errors are mapped to "retry or dead-letter" here and only here:
//! - decode failure, oversized record, non-retryable `StageError`, panic in
//!   the stage, wrong result count → dead letter at once;
//! - retryable `StageError` → the failed inputs of the batch are retried
//!   together with backoff (`RetryPolicy`), then dead-lettered. The records
//!   after them wait, which keeps per-partition order; the wait is bounded.

use super::clients::{classify_produce_error, ProducerCtx, ProducerSlot};
use super::dispatch::Batch;
use super::shared::{InFlight, Shared};
use crate::config::StageConfig;
use crate::dlq;
use crate::stage::{codec_error, Input, Output, ProcessResult, Stage};
use docflow_core::StageError;
use docflow_schemas::{Limits, HEADER_CODEC, HEADER_SCHEMA};
use futures::FutureExt;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, ThreadedProducer};
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::telemetry::record_trace::passthrough_headers;
use crate::telemetry::trace_context::{TRACEPARENT, TRACESTATE};

pub(crate) struct WorkerCtx<S: Stage> {
    pub stage: Arc<S>,
    pub shared: Arc<Shared>,
    /// Taken for each record under the gate (exactly-once may replace it).
    pub producer: Arc<ProducerSlot>,
    pub cfg: Arc<StageConfig>,
    /// Exactly-once: held (shared) while a record's outputs are produced;
    /// the transaction commit holds it exclusively (see `transactions`).
    pub gate: Option<super::transactions::Gate>,
    /// Input decoding limits (`max_record_bytes` on the wire).
    pub limits: Limits,
    pub schema_header: String,
}

/// Process batches until the dispatcher closes the channel.
pub(crate) async fn worker_loop<S: Stage>(ctx: Arc<WorkerCtx<S>>, mut rx: UnboundedReceiver<Batch>, lanes: usize) {
    let mut queues: Vec<VecDeque<Vec<Arc<InFlight>>>> = (0..lanes.max(1)).map(|_| VecDeque::new()).collect();
    let lane_of = |b: &Batch| b.lane.min(queues_len(lanes) - 1);
    loop {
        while let Ok(batch) = rx.try_recv() {
            let lane = lane_of(&batch);
            queues[lane].push_back(batch.records);
        }
        if let Some(records) = next_batch(&mut queues, ctx.cfg.batch_size) {
            let started = std::time::Instant::now();
            handle_batch(&ctx, records).await;
            ctx.shared.metrics.busy_ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            continue;
        }
        match rx.recv().await {
            Some(batch) => {
                let lane = lane_of(&batch);
                queues[lane].push_back(batch.records);
            }
            None => break,
        }
    }
}

fn queues_len(lanes: usize) -> usize {
    lanes.max(1)
}

/// The front batch of the highest-priority non-empty lane, merged with the
/// batches queued behind it in that lane while the total stays within
/// `batch_size`. The dispatcher cuts batches on a short linger, so behind a
/// slow batch many small ones pile up; processing them one by one would
/// pay every per-call cost (an encoder pass, a round trip) per few records
/// exactly when the stage is behind. Merging keeps arrival order, so
/// per-partition order holds.
fn next_batch<T>(queues: &mut [VecDeque<Vec<T>>], batch_size: usize) -> Option<Vec<T>> {
    let lane = queues.iter_mut().find(|q| !q.is_empty())?;
    let mut records = lane.pop_front()?;
    while lane.front().is_some_and(|b| records.len() + b.len() <= batch_size) {
        records.extend(lane.pop_front().into_iter().flatten());
    }
    Some(records)
}

async fn handle_batch<S: Stage>(ctx: &WorkerCtx<S>, records: Vec<Arc<InFlight>>) {
    let mut outcomes: Vec<Option<ProcessResult<S::Output>>> = records.iter().map(|_| None).collect();
    let mut todo = Vec::with_capacity(records.len());
    let mut inputs = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        match ctx.decode(r) {
            Ok(input) => {
                todo.push(i);
                inputs.push(input);
            }
            Err(e) => outcomes[i] = Some(Err(e)),
        }
    }

    let mut attempts = 0u32;
    while !todo.is_empty() {
        attempts += 1;
        let results = ctx.process(std::mem::take(&mut inputs)).await;
        let mut retry = Vec::new();
        for (i, result) in todo.iter().copied().zip(results) {
            match result {
                Err(e) if e.is_retryable() && ctx.cfg.retry.allows_another(attempts) => retry.push(i),
                Err(mut e) if e.is_retryable() => {
                    e.message = format!("{} (gave up after {attempts} attempts)", e.message);
                    outcomes[i] = Some(Err(e));
                }
                other => outcomes[i] = Some(other),
            }
        }
        if retry.is_empty() {
            break;
        }
        ctx.shared.metrics.retries.fetch_add(retry.len() as u64, Ordering::Relaxed);
        for i in &retry {
            if let Some(t) = &records[*i].trace {
                t.note_retry(attempts);
            }
        }
        let wait = ctx.cfg.retry.backoff(attempts);
        tracing::debug!(stage = %ctx.shared.stage_name, records = retry.len(), attempt = attempts, ?wait, "retrying");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = ctx.shared.shutdown.wait() => {
                // Stopping: emit what precedes the first unfinished record,
                // leave the rest uncommitted for the next consumer.
                let first = retry[0];
                for (i, (record, outcome)) in records.iter().zip(outcomes).enumerate() {
                    match outcome {
                        Some(outcome) if i < first => ctx.emit(record, outcome).await,
                        _ => record.abandon(),
                    }
                }
                return;
            }
        }
        todo.clear();
        for i in retry {
            match ctx.decode(&records[i]) {
                Ok(input) => {
                    todo.push(i);
                    inputs.push(input);
                }
                Err(e) => outcomes[i] = Some(Err(e)),
            }
        }
    }

    for (record, outcome) in records.iter().zip(outcomes) {
        // Every index got an outcome above; a gap would be a bug, and
        // abandoning (replay) is the safe answer to it.
        match outcome {
            Some(outcome) => ctx.emit(record, outcome).await,
            None => record.abandon(),
        }
    }
}

impl<S: Stage> WorkerCtx<S> {
    /// Decode one record (again on each retry).
    fn decode(&self, record: &InFlight) -> Result<Input<S::Input>, StageError> {
        let trace = record.trace.as_ref().filter(|t| t.is_sampled());
        let decode_started = trace.map(|_| std::time::Instant::now());
        let raw = &record.raw;
        if raw.payload_len() > self.cfg.max_record_bytes {
            return Err(StageError::user_input(
                "too_large",
                format!("record of {} bytes exceeds max_record_bytes = {}", raw.payload_len(), self.cfg.max_record_bytes),
            ));
        }
        let value = std::panic::catch_unwind(AssertUnwindSafe(|| self.stage.decode(raw, &self.limits)))
            .unwrap_or_else(|panic| Err(StageError::internal("panic", format!("decode panicked: {}", panic_message(&*panic)))))?;
        let span = match (trace, decode_started) {
            (Some(t), Some(at)) => {
                t.decoded(at.elapsed());
                t.span()
            }
            _ => crate::telemetry::SpanParent::none(),
        };
        Ok(Input { value, key: raw.key.clone(), meta: raw.meta.clone(), span })
    }

    /// Run the stage; a panic or a wrong result count fails the whole batch.
    async fn process(&self, inputs: Vec<Input<S::Input>>) -> Vec<ProcessResult<S::Output>> {
        let n = inputs.len();
        let fail_all = |e: StageError| (0..n).map(|_| Err(e.clone())).collect();
        match AssertUnwindSafe(self.stage.process(inputs)).catch_unwind().await {
            Ok(results) if results.len() == n => results,
            Ok(results) => fail_all(StageError::internal(
                "result_count",
                format!("stage returned {} results for {n} inputs", results.len()),
            )),
            Err(panic) => fail_all(StageError::internal("panic", format!("process panicked: {}", panic_message(&*panic)))),
        }
    }

    /// Produce a record's outputs or its dead letter, then drop the worker's hold.
    async fn emit(&self, record: &Arc<InFlight>, outcome: ProcessResult<S::Output>) {
        let _open = match &self.gate {
            Some(gate) => {
                let open = gate.read().await;
                // Exactly-once: a record of an aborted (rewound) generation,
                // or behind an abandoned one, is redone, not produced.
                if !self.shared.book().may_emit(record.tp, record.generation) {
                    record.abandon();
                    return;
                }
                Some(open)
            }
            None => None,
        };
        let outcome = match self.gate.as_ref().and_then(|_| record.earlier_rejection()) {
            Some(e) => Err(e),
            None => outcome,
        };
        let producer = self.producer.current();
        match outcome {
            Ok(outputs) => self.produce_outputs(&producer, record, outputs).await,
            Err(e) => send_dead_letter(&producer, &self.cfg, record, e).await,
        }
        // An output the producer refused at once: dead-letter the input now,
        // in the same transaction (exactly-once) and before it completes.
        if let Some(e) = record.take_rejection() {
            send_dead_letter(&producer, &self.cfg, record, e).await;
        }
        record.release();
    }

    async fn produce_outputs(&self, producer: &ThreadedProducer<ProducerCtx>, record: &Arc<InFlight>, outputs: Vec<Output<S::Output>>) {
        // Encode everything first: if any output cannot be encoded, the input
        // is dead-lettered and nothing of it is produced.
        let mut encoded = Vec::with_capacity(outputs.len());
        for out in outputs {
            if out.topic.is_none() && self.cfg.output_topic.is_none() {
                let e = StageError::internal("no_output_topic", "output names no topic and the stage has no output_topic");
                return send_dead_letter(producer, &self.cfg, record, e).await;
            }
            match self.cfg.output_codec.encode(&out.value, &Limits::DEFAULT) {
                Ok(enc) => encoded.push((out, enc)),
                Err(e) => {
                    let mut e = codec_error(e);
                    e.domain = docflow_core::ErrorDomain::Internal;
                    return send_dead_letter(producer, &self.cfg, record, e).await;
                }
            }
        }
        record.hold(encoded.len() as u32);
        for (out, enc) in encoded {
            let topic = out.topic.as_deref().or(self.cfg.output_topic.as_deref()).unwrap_or_default();
            let mut headers = OwnedHeaders::new_with_capacity(4 + out.headers.len())
                .insert(Header { key: HEADER_CODEC, value: Some(enc.codec.header_value()) })
                .insert(Header { key: HEADER_SCHEMA, value: Some(self.schema_header.as_str()) });
            // The document's trace context: the record span when traced,
            // else the input's headers as they came. A stage that sets its
            // own trace headers on an output wins.
            let own = |name: &str| out.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
            match &record.trace {
                Some(trace) => {
                    if !own(TRACEPARENT) {
                        let traceparent = trace.output_traceparent();
                        headers = headers.insert(Header { key: TRACEPARENT, value: Some(traceparent.as_bytes()) });
                    }
                    if let Some(ts) = record.raw.header(TRACESTATE).filter(|_| !own(TRACESTATE)) {
                        headers = headers.insert(Header { key: TRACESTATE, value: Some(ts) });
                    }
                }
                None => {
                    for (name, v) in passthrough_headers(&record.raw).filter(|(n, _)| !own(n)) {
                        headers = headers.insert(Header { key: name, value: Some(v) });
                    }
                }
            }
            for (k, v) in &out.headers {
                headers = headers.insert(Header { key: k.as_str(), value: Some(v.as_slice()) });
            }
            self.shared.metrics.outputs.fetch_add(1, Ordering::Relaxed);
            self.shared.outputs_sent.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = send(producer, topic, Some(&out.key), &enc.bytes, headers, record.clone()).await {
                record.settle(classify_produce_error(&e));
            }
        }
    }
}

/// Send `record` to the dead-letter topic because of `err`.
pub(crate) async fn send_dead_letter(
    producer: &ThreadedProducer<ProducerCtx>,
    cfg: &StageConfig,
    record: &Arc<InFlight>,
    err: StageError,
) {
    let shared = record.shared().clone();
    record.mark_dead_lettered();
    shared.metrics.dead_lettered.fetch_add(1, Ordering::Relaxed);
    if let Ok(c) = crate::telemetry::Registry::global()
        .counter("docflow_dlq_records_total", &[("stage", &shared.stage_name), ("reason", &err.kind)])
    {
        c.inc();
    }
    let meta = &record.raw.meta;
    tracing::warn!(stage = %shared.stage_name, topic = %meta.topic, partition = meta.partition, offset = meta.offset,
        kind = %err.kind, domain = err.domain.as_str(), "dead-lettered: {}", err.message);
    let dl = dlq::dead_letter(&shared.stage_name, &record.raw, &err, dlq::now_ms());
    let (enc, dl_headers) = match dlq::encode_dead_letter(&dl, cfg.dlq_codec) {
        Ok(x) => x,
        Err(e) => {
            shared.set_fatal(format!("cannot encode a dead letter: {e}"));
            record.abandon();
            return;
        }
    };
    let mut headers = OwnedHeaders::new_with_capacity(dl_headers.len() + 2);
    for (k, v) in &dl_headers {
        headers = headers.insert(Header { key: k, value: Some(v.as_slice()) });
    }
    // The dead letter stays in the document's trace (errors are always traced).
    match &record.trace {
        Some(trace) => {
            let traceparent = trace.dead_letter(&shared.stage_name, &err, &record.raw);
            headers = headers.insert(Header { key: TRACEPARENT, value: Some(traceparent.as_bytes()) });
            if let Some(ts) = record.raw.header(TRACESTATE) {
                headers = headers.insert(Header { key: TRACESTATE, value: Some(ts) });
            }
        }
        None => {
            for (name, v) in passthrough_headers(&record.raw) {
                headers = headers.insert(Header { key: name, value: Some(v) });
            }
        }
    }
    record.hold(1);
    shared.outputs_sent.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = send(producer, &cfg.dlq_topic, record.raw.key.as_deref(), &enc.bytes, headers, record.clone()).await {
        record.settle(classify_produce_error(&e));
    }
}

/// Hand one record to the producer, waiting (async) while its queue is full.
async fn send(
    producer: &ThreadedProducer<ProducerCtx>,
    topic: &str,
    key: Option<&[u8]>,
    payload: &[u8],
    headers: OwnedHeaders,
    opaque: Arc<InFlight>,
) -> Result<(), KafkaError> {
    let mut record: BaseRecord<'_, [u8], [u8], Arc<InFlight>> =
        BaseRecord::with_opaque_to(topic, opaque).payload(payload).headers(headers);
    if let Some(key) = key {
        record = record.key(key);
    }
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            // Dropping the returned record drops its opaque: no leak.
            Err((e, _record)) => return Err(e),
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned())
}

#[cfg(test)]
mod tests {
    use super::next_batch;
    use std::collections::VecDeque;

    #[test]
    fn queued_batches_of_a_lane_merge_up_to_the_batch_size_in_order() {
        let mut queues = vec![VecDeque::new(), VecDeque::from(vec![vec![1, 2], vec![3], vec![4, 5], vec![6]])];
        assert_eq!(next_batch(&mut queues, 4), Some(vec![1, 2, 3]));
        assert_eq!(next_batch(&mut queues, 4), Some(vec![4, 5, 6]));
        assert_eq!(next_batch(&mut queues, 4), None);
    }

    #[test]
    fn the_higher_lane_goes_first_and_lanes_never_mix() {
        let mut queues = vec![VecDeque::from(vec![vec!["hi"]]), VecDeque::from(vec![vec!["lo"]])];
        assert_eq!(next_batch(&mut queues, 10), Some(vec!["hi"]));
        assert_eq!(next_batch(&mut queues, 10), Some(vec!["lo"]));
    }

    #[test]
    fn a_full_batch_is_not_merged() {
        let mut queues = vec![VecDeque::from(vec![vec![1, 2, 3], vec![4]])];
        assert_eq!(next_batch(&mut queues, 3), Some(vec![1, 2, 3]));
        assert_eq!(next_batch(&mut queues, 3), Some(vec![4]));
    }
}
