//! `docflow model rollback`, `docflow model promote --fraction F` and
//! `docflow model import FILE`: operator commands on the compacted
//! `model.updates` topic.
//!
//! Each reads the latest `scoring` record (the [`UpdatesReader`] the score
//! and learn stages use, to the high watermark), builds the new record with
//! `docflow_score::model::{rollback, promote}` and publishes it (acks=all,
//! idempotent) with the docflow codec headers. Every running score stage
//! installs it within its poll interval; the learn stage adopts it (a
//! rollback's version is latest + 1, so the learner continues from the
//! restored state and its next version is newer still).

use crate::updates::UpdatesReader;
use anyhow::Context as _;
use docflow_schemas::{encode, schema_header_value, Limits, ModelUpdate, HEADER_CODEC, HEADER_SCHEMA};
use docflow_score::model::decode_update;
use docflow_score::MODEL_KEY;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Where the model versions are.
#[derive(clap::Args, Debug, Clone)]
pub struct UpdatesTopicArgs {
    /// The compacted topic of model versions.
    #[arg(long, default_value = "model.updates")]
    pub updates_topic: String,
    /// Longest wait for reading the topic to its end (ms).
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
}

/// `docflow model rollback`.
#[derive(clap::Args, Debug, Clone)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub topic: UpdatesTopicArgs,
}

/// `docflow model show`.
#[derive(clap::Args, Debug, Clone)]
pub struct ShowArgs {
    #[command(flatten)]
    pub topic: UpdatesTopicArgs,
}

/// `docflow model promote --fraction F`.
#[derive(clap::Args, Debug, Clone)]
pub struct PromoteArgs {
    /// Fraction of documents (by id hash) the newest version serves, in [0, 1].
    #[arg(long)]
    pub fraction: f64,
    #[command(flatten)]
    pub topic: UpdatesTopicArgs,
}

/// `docflow model import FILE`: serve a model saved by `docflow process --offline --save-model`.
#[derive(clap::Args, Debug, Clone)]
pub struct ImportArgs {
    /// The saved model (`--save-model` of the offline mode).
    pub file: PathBuf,
    /// Fraction of documents the imported version serves at first (the rest keep the current one).
    #[arg(long, default_value_t = 1.0)]
    pub fraction: f64,
    #[command(flatten)]
    pub topic: UpdatesTopicArgs,
}

/// The latest `scoring` record of `topic`, if any.
pub fn latest_update(brokers: &str, topic: &str, kafka: &BTreeMap<String, String>, timeout: Duration) -> anyhow::Result<Option<ModelUpdate>> {
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
pub async fn publish_update(brokers: &str, topic: &str, kafka: &BTreeMap<String, String>, update: &ModelUpdate) -> anyhow::Result<()> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", brokers).set("acks", "all").set("enable.idempotence", "true");
    for (k, v) in kafka {
        cfg.set(k, v);
    }
    let producer: FutureProducer = cfg.create().context("creating the Kafka producer")?;
    let limits = Limits { max_encoded_bytes: 256 << 20, max_decoded_bytes: 256 << 20, ..Limits::DEFAULT };
    let encoded = encode(update, &limits)?;
    let schema = schema_header_value();
    let headers = OwnedHeaders::new()
        .insert(Header { key: HEADER_CODEC, value: Some(encoded.codec.header_value()) })
        .insert(Header { key: HEADER_SCHEMA, value: Some(schema.as_str()) });
    producer
        .send(FutureRecord::to(topic).key(MODEL_KEY).payload(&encoded.bytes).headers(headers), Duration::from_secs(30))
        .await
        .map_err(|(e, _)| anyhow::anyhow!("publishing model version {} to {topic}: {e}", update.version))?;
    Ok(())
}

async fn latest_or_fail(brokers: &str, t: &UpdatesTopicArgs, kafka: &BTreeMap<String, String>) -> anyhow::Result<ModelUpdate> {
    let (b, topic, k, timeout) = (brokers.to_owned(), t.updates_topic.clone(), kafka.clone(), Duration::from_millis(t.timeout_ms));
    tokio::task::spawn_blocking(move || latest_update(&b, &topic, &k, timeout))
        .await??
        .ok_or_else(|| anyhow::anyhow!("{} holds no model version yet", t.updates_topic))
}

/// Publishes a rollback of the latest version; returns the record published.
pub async fn rollback(args: &RollbackArgs, brokers: &str, kafka: &BTreeMap<String, String>) -> anyhow::Result<ModelUpdate> {
    let latest = latest_or_fail(brokers, &args.topic, kafka).await?;
    let update = docflow_score::rollback(&latest, docflow_runtime::dlq::now_ms())?;
    publish_update(brokers, &args.topic.updates_topic, kafka, &update).await?;
    Ok(update)
}

/// Publishes the latest version again with rollout fraction `args.fraction`.
pub async fn promote(args: &PromoteArgs, brokers: &str, kafka: &BTreeMap<String, String>) -> anyhow::Result<ModelUpdate> {
    let latest = latest_or_fail(brokers, &args.topic, kafka).await?;
    let update = docflow_score::promote(&latest, args.fraction, docflow_runtime::dlq::now_ms())?;
    publish_update(brokers, &args.topic.updates_topic, kafka, &update).await?;
    Ok(update)
}

/// Publishes a saved model as the next version (latest + 1, so it is never
/// taken for a stale replay), keeping the current version for the documents
/// outside `args.fraction` and for rollback.
pub async fn import(args: &ImportArgs, brokers: &str, kafka: &BTreeMap<String, String>) -> anyhow::Result<ModelUpdate> {
    let saved = crate::offline::load_update(&args.file)?;
    let (b, topic, k, timeout) = (brokers.to_owned(), args.topic.updates_topic.clone(), kafka.clone(), Duration::from_millis(args.topic.timeout_ms));
    let latest = tokio::task::spawn_blocking(move || latest_update(&b, &topic, &k, timeout)).await??;
    let mut model = decode_update(&saved)?.current;
    let previous = latest.as_ref().map(decode_update).transpose()?.map(|b| b.current);
    model.version = latest.as_ref().map_or(1, |l| l.version + 1).max(model.version);
    let update = docflow_score::encode_update(&model, previous.as_ref(), args.fraction, docflow_runtime::dlq::now_ms())?;
    publish_update(brokers, &args.topic.updates_topic, kafka, &update).await?;
    Ok(update)
}

fn report(what: &str, u: &ModelUpdate) {
    println!(
        "{what}: model version {} published (rollout fraction {}, previous version {})",
        u.version,
        u.rollout_fraction,
        u.previous_version.map_or("none".to_string(), |v| v.to_string())
    );
}

fn block_on<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(f)
}

/// What the CLI calls for `docflow model rollback` (synchronous; prints the new version).
/// These use the environment's Kafka security settings (`docflow_core::kafka_env`).
pub fn run_rollback(args: &RollbackArgs, brokers: &str) -> anyhow::Result<()> {
    let u = block_on(rollback(args, brokers, &docflow_core::kafka_client_properties()?))?;
    report("rollback", &u);
    Ok(())
}

/// What the CLI calls for `docflow model show`: the version in service,
/// its classes and what it changed (or the default classes, before the first version).
pub fn run_show(args: &ShowArgs, brokers: &str) -> anyhow::Result<()> {
    let kafka = docflow_core::kafka_client_properties()?;
    let (b, topic, timeout) = (brokers.to_owned(), args.topic.updates_topic.clone(), Duration::from_millis(args.topic.timeout_ms));
    match latest_update(&b, &topic, &kafka, timeout)? {
        Some(u) => println!("{}", docflow_score::describe(&u)?),
        None => {
            println!("{topic} holds no version yet; a fresh score stage serves:");
            println!("{}", docflow_score::model::describe_model(&docflow_score::ScoringModel::initial(), 1.0, None));
        }
    }
    Ok(())
}

/// What the CLI calls for `docflow model promote --fraction F`.
pub fn run_promote(args: &PromoteArgs, brokers: &str) -> anyhow::Result<()> {
    let u = block_on(promote(args, brokers, &docflow_core::kafka_client_properties()?))?;
    report("promote", &u);
    Ok(())
}

/// What the CLI calls for `docflow model import FILE`.
pub fn run_import(args: &ImportArgs, brokers: &str) -> anyhow::Result<()> {
    let u = block_on(import(args, brokers, &docflow_core::kafka_client_properties()?))?;
    report("import", &u);
    Ok(())
}
