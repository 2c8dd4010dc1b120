//! Open-loop publisher: document `i` is *scheduled* at `start + i / rate`
//! whatever happened to earlier sends, and its latency is later measured from
//! that scheduled time, not from the actual send. A pipeline (or broker) that
//! stalls therefore shows up as latency instead of silently lowering the
//! offered load (no coordinated omission).
//!
//! Documents come from the labeled [`Corpus`](docflow_corpus::Corpus), encoded
//! by a generator thread that runs ahead of the schedule through a bounded
//! channel, so generation cost (PDF rendering) does not delay sends.
//!
//! The times come from a [`Schedule`] (phases of constant rate); a `stop`
//! flag ends publishing early (ramp). With `poison_rate > 0` that fraction
//! of records is replaced by a corrupt payload under the normal headers
//! (chaos: the pipeline must dead-letter it and carry on).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use docflow_schemas::{encode, Limits};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::task::JoinSet;

use docflow_corpus::{AnomalyPlan, Corpus, CorpusConfig};
use crate::ledger::{Ledger, Tag};
use crate::schedule::Schedule;
use crate::topics::{PriorityMix, Topics};

/// The payload of an injected poison record: not MessagePack of anything.
pub const POISON_PAYLOAD: &[u8] = b"\xc1 docflow loadtest poison record: this is not a document";

/// What to publish.
#[derive(Debug, Clone)]
pub struct PublishPlan {
    /// When each document is due (offered load).
    pub schedule: Schedule,
    /// Corpus seed (also seeds the lane choice).
    pub seed: u64,
    /// Probability of each planted anomaly kind per document.
    pub anomaly_rate: f64,
    /// Fraction of records replaced by [`POISON_PAYLOAD`].
    pub poison_rate: f64,
    /// Document formats to rotate through (empty: all).
    pub formats: Vec<docflow_corpus::DocFormat>,
    /// Document ids are `{id_prefix}-{n:06}`.
    pub id_prefix: String,
    pub mix: PriorityMix,
    pub topics: Topics,
}

/// Errors that stop publishing.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("poison rate must be in [0, 1], got {0}")]
    BadPoisonRate(f64),
    #[error("priority mix names lane {0:?} which has no raw topic")]
    NoTopicForLane(String),
    #[error("encoding document {id}: {source}")]
    Encode { id: String, source: docflow_schemas::CodecError },
    #[error("the document generator thread stopped early")]
    GeneratorGone,
}

/// One encoded document ready to send.
struct Ready {
    index: u64,
    id: String,
    topic: String,
    value: Vec<u8>,
    headers: [(&'static str, String); 2],
    tag: Tag,
}

/// Publishes the schedule's documents on time, registering each in `ledger`
/// before its send, until the schedule ends or `stop` is set. Returns when
/// every send has been acknowledged or failed, with the number sent.
pub async fn publish(
    producer: &FutureProducer,
    ledger: Arc<Ledger>,
    plan: &PublishPlan,
    stop: Option<Arc<AtomicBool>>,
) -> Result<u64, PublishError> {
    if !(0.0..=1.0).contains(&plan.poison_rate) {
        return Err(PublishError::BadPoisonRate(plan.poison_rate));
    }
    for (lane, _) in &plan.mix.weights {
        if plan.topics.raw_topic(lane).is_none() {
            return Err(PublishError::NoTopicForLane(lane.clone()));
        }
    }
    // A short lead lets the generator fill the channel before the first slot.
    let lead = Duration::from_millis(200);
    let start = Instant::now() + lead;
    let start_wall_ms = (SystemTime::now() + lead).duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Ready, PublishError>>(1024);
    let gen_plan = plan.clone();
    let generator = std::thread::Builder::new()
        .name("loadtest-gen".into())
        .spawn(move || generate(gen_plan, start_wall_ms, tx))
        .expect("spawning a thread");

    let mut acks = JoinSet::new();
    let mut sent = 0;
    for expected in 0..plan.schedule.count() {
        if stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
            break;
        }
        let ready = match rx.recv().await {
            Some(Ok(r)) => r,
            Some(Err(e)) => return Err(e),
            None => return Err(PublishError::GeneratorGone),
        };
        debug_assert_eq!(ready.index, expected);
        let scheduled = start + plan.schedule.at(ready.index).0;
        tokio::time::sleep_until(scheduled.into()).await;
        ledger.register_tagged(&ready.id, scheduled, ready.tag);
        sent += 1;
        let mut headers = OwnedHeaders::new();
        for (k, v) in &ready.headers {
            headers = headers.insert(Header { key: k, value: Some(v.as_bytes()) });
        }
        let mut record = FutureRecord::to(&ready.topic).key(&ready.id).payload(&ready.value).headers(headers);
        let delivery = loop {
            match producer.send_result(record) {
                Ok(d) => break Some(d),
                // The client's queue is full: wait a little; the lateness
                // becomes latency because it is measured from `scheduled`.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((e, _)) => {
                    eprintln!("loadtest: send of {} failed: {e}", ready.id);
                    break None;
                }
            }
        };
        let lag_us = Instant::now().saturating_duration_since(scheduled).as_micros() as u64;
        let Some(delivery) = delivery else {
            ledger.publish_failed(&ready.id);
            continue;
        };
        let l = ledger.clone();
        let id = ready.id;
        acks.spawn(async move {
            match delivery.await {
                Ok(Ok(_)) => l.confirm(&id, lag_us),
                Ok(Err((e, _))) => {
                    eprintln!("loadtest: delivery of {id} failed: {e}");
                    l.publish_failed(&id);
                }
                Err(_) => l.publish_failed(&id),
            }
        });
        // Reap finished acknowledgements so the set stays small on long runs.
        while acks.try_join_next().is_some() {}
    }
    while acks.join_next().await.is_some() {}
    drop(rx);
    let _ = generator.join();
    Ok(sent)
}

/// Generator thread: corpus → lane → encoded record, in schedule order.
fn generate(plan: PublishPlan, start_wall_ms: i64, tx: tokio::sync::mpsc::Sender<Result<Ready, PublishError>>) {
    let cfg = CorpusConfig {
        seed: plan.seed,
        anomalies: if plan.anomaly_rate > 0.0 { AnomalyPlan::uniform(plan.anomaly_rate) } else { AnomalyPlan::none() },
        id_prefix: plan.id_prefix.clone(),
        formats: if plan.formats.is_empty() { docflow_corpus::DocFormat::ALL.to_vec() } else { plan.formats.clone() },
        ..Default::default()
    };
    let mut lanes = StdRng::seed_from_u64(plan.seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut poison = StdRng::seed_from_u64(plan.seed ^ 0x0bad_f00d);
    let limits = Limits::default();
    for (index, doc) in Corpus::new(cfg).take(plan.schedule.count() as usize).enumerate() {
        let index = index as u64;
        let mut raw = doc.raw;
        let (offset, phase) = plan.schedule.at(index);
        // created_at is the scheduled send time, so the pipeline's own
        // end-to-end figures agree with the harness's.
        raw.created_at_ms = start_wall_ms + offset.as_millis() as i64;
        let lane = plan.mix.pick(lanes.random::<f64>());
        let topic = plan.topics.raw_topic(lane).unwrap_or_default().to_string();
        let is_poison = plan.poison_rate > 0.0 && poison.random::<f64>() < plan.poison_rate;
        let tag = Tag { phase: phase as u32, poison: is_poison };
        let item = match encode(&raw, &limits) {
            Ok(enc) => {
                let value = if is_poison { POISON_PAYLOAD.to_vec() } else { enc.bytes.clone() };
                Ok(Ready { index, id: raw.id, topic, headers: enc.headers(), value, tag })
            }
            Err(source) => Err(PublishError::Encode { id: raw.id, source }),
        };
        let failed = item.is_err();
        if tx.blocking_send(item).is_err() || failed {
            return;
        }
    }
}
