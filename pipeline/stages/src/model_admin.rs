//! The scoring-model operations behind `docflow model rollback`, `promote`,
//! `import` and `show`, on the compacted `model.updates` topic.
//!
//! Each reads the latest `scoring` record (the [`UpdatesReader`] the score
//! and learn stages use, to the high watermark), builds the new record with
//! `docflow_score::model::{rollback, promote}` and publishes it (acks=all,
//! idempotent) with the docflow codec headers. Every running score stage
//! installs it within its poll interval; the learn stage adopts it (a
//! rollback's version is latest + 1, so the learner continues from the
//! restored state and its next version is newer still).

use crate::offline::OfflineError;
use crate::updates::{UpdatesError, UpdatesReader};
use docflow_schemas::{encode, schema_header_value, CodecError, Limits, ModelUpdate, HEADER_CODEC, HEADER_SCHEMA};
use docflow_score::model::{decode_update, ModelError};
use docflow_score::MODEL_KEY;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Why a model operation did not publish.
#[derive(Debug, thiserror::Error)]
pub enum ModelAdminError {
    #[error(transparent)]
    Updates(#[from] UpdatesError),
    /// Nothing to roll back or promote.
    #[error("{0} holds no model version yet")]
    Empty(String),
    #[error("creating the Kafka producer")]
    Producer(#[source] rdkafka::error::KafkaError),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("publishing model version {version} to {topic}")]
    Publish { version: u64, topic: String, source: rdkafka::error::KafkaError },
    /// The new version could not be built (a bad fraction, an unusable model).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The file to import is not a usable saved model.
    #[error(transparent)]
    SavedModel(#[from] OfflineError),
    /// The thread reading the topic panicked.
    #[error("reading the updates topic")]
    Reader(#[from] tokio::task::JoinError),
}

/// Where the model versions are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatesTopic {
    /// The compacted topic of model versions.
    pub name: String,
    /// Longest wait for reading the topic to its end.
    pub timeout: Duration,
}

/// The latest `scoring` record of `topic`, if any.
pub fn latest_update(brokers: &str, topic: &str, kafka: &BTreeMap<String, String>, timeout: Duration) -> Result<Option<ModelUpdate>, ModelAdminError> {
    let reader = UpdatesReader::open(brokers, topic, MODEL_KEY, kafka)?;
    let mut latest: Option<ModelUpdate> = None;
    reader.catch_up(timeout, |u| {
        // Offsets order the records; the version check guards against a
        // second partition (the topic should have one).
        if latest.as_ref().is_none_or(|l| u.version >= l.version) {
            latest = Some(u);
        }
    })?;
    Ok(latest)
}

/// Publishes `update` on `topic` under the model key and waits for the acknowledgement.
pub async fn publish_update(brokers: &str, topic: &str, kafka: &BTreeMap<String, String>, update: &ModelUpdate) -> Result<(), ModelAdminError> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", brokers).set("acks", "all").set("enable.idempotence", "true");
    for (k, v) in kafka {
        cfg.set(k, v);
    }
    let producer: FutureProducer = cfg.create().map_err(ModelAdminError::Producer)?;
    let limits = Limits { max_encoded_bytes: 256 << 20, max_decoded_bytes: 256 << 20, ..Limits::DEFAULT };
    let encoded = encode(update, &limits)?;
    let schema = schema_header_value();
    let headers = OwnedHeaders::new()
        .insert(Header { key: HEADER_CODEC, value: Some(encoded.codec.header_value()) })
        .insert(Header { key: HEADER_SCHEMA, value: Some(schema.as_str()) });
    producer
        .send(FutureRecord::to(topic).key(MODEL_KEY).payload(&encoded.bytes).headers(headers), Duration::from_secs(30))
        .await
        .map_err(|(source, _)| ModelAdminError::Publish { version: update.version, topic: topic.to_owned(), source })?;
    Ok(())
}

/// [`latest_update`] off the async threads.
async fn latest_of(brokers: &str, t: &UpdatesTopic, kafka: &BTreeMap<String, String>) -> Result<Option<ModelUpdate>, ModelAdminError> {
    let (b, topic, k, timeout) = (brokers.to_owned(), t.name.clone(), kafka.clone(), t.timeout);
    tokio::task::spawn_blocking(move || latest_update(&b, &topic, &k, timeout)).await?
}

async fn latest_or_fail(brokers: &str, t: &UpdatesTopic, kafka: &BTreeMap<String, String>) -> Result<ModelUpdate, ModelAdminError> {
    latest_of(brokers, t, kafka).await?.ok_or_else(|| ModelAdminError::Empty(t.name.clone()))
}

/// Publishes a rollback of the latest version; returns the record published.
pub async fn rollback(topic: &UpdatesTopic, brokers: &str, kafka: &BTreeMap<String, String>) -> Result<ModelUpdate, ModelAdminError> {
    let latest = latest_or_fail(brokers, topic, kafka).await?;
    let update = docflow_score::rollback(&latest, docflow_runtime::dlq::now_ms())?;
    publish_update(brokers, &topic.name, kafka, &update).await?;
    Ok(update)
}

/// Publishes the latest version again with rollout fraction `fraction` (in [0, 1]).
pub async fn promote(topic: &UpdatesTopic, fraction: f64, brokers: &str, kafka: &BTreeMap<String, String>) -> Result<ModelUpdate, ModelAdminError> {
    let latest = latest_or_fail(brokers, topic, kafka).await?;
    let update = docflow_score::promote(&latest, fraction, docflow_runtime::dlq::now_ms())?;
    publish_update(brokers, &topic.name, kafka, &update).await?;
    Ok(update)
}

/// Publishes the model saved in `file` (by `docflow process --offline
/// --save-model`) as the next version (latest + 1, so it is never taken for
/// a stale replay), keeping the current version for the documents outside
/// `fraction` and for rollback.
pub async fn import(topic: &UpdatesTopic, file: &Path, fraction: f64, brokers: &str, kafka: &BTreeMap<String, String>) -> Result<ModelUpdate, ModelAdminError> {
    let saved = crate::offline::load_update(file)?;
    let latest = latest_of(brokers, topic, kafka).await?;
    let mut model = decode_update(&saved)?.current;
    let previous = latest.as_ref().map(decode_update).transpose()?.map(|b| b.current);
    model.version = latest.as_ref().map_or(1, |l| l.version + 1).max(model.version);
    let update = docflow_score::encode_update(&model, previous.as_ref(), fraction, docflow_runtime::dlq::now_ms())?;
    publish_update(brokers, &topic.name, kafka, &update).await?;
    Ok(update)
}

/// The version in service on `topic` described for an operator: its
/// default classes, its classes and what it changed (or, before the first
/// version, the default classes a fresh score stage serves).
pub fn describe_in_service(topic: &UpdatesTopic, brokers: &str, kafka: &BTreeMap<String, String>) -> Result<String, ModelAdminError> {
    Ok(match latest_update(brokers, &topic.name, kafka, topic.timeout)? {
        Some(u) => docflow_score::describe(&u)?,
        None => format!(
            "{} holds no version yet; a fresh score stage serves:\n{}",
            topic.name,
            docflow_score::model::describe_model(&docflow_score::ScoringModel::initial(), 1.0, None)
        ),
    })
}
