//! Shared helpers of the stage integration tests: produce docflow-encoded
//! records, read a topic back decoded, the tiny model, Cassandra keyspaces.
#![allow(dead_code)]

pub mod pause;

use docflow_testkit::kafka;
use docflow_schemas::{decode, encode, Codec, Limits, HEADER_CODEC, HEADER_SCHEMA};
use rdkafka::producer::{DefaultProducerContext, ThreadedProducer};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

pub type Producer = ThreadedProducer<DefaultProducerContext>;

/// Produce `value` with the docflow codec headers.
pub fn send<T: Serialize>(p: &Producer, topic: &str, key: &str, value: &T) {
    let enc = encode(value, &Limits::DEFAULT).expect("encode");
    let schema = docflow_schemas::schema_header_value();
    kafka::send_raw(p, topic, key.as_bytes(), &enc.bytes, &[(HEADER_CODEC, enc.codec.header_value().as_bytes()), (HEADER_SCHEMA, schema.as_bytes())]).expect("send");
}

/// Decode a consumed record by its codec header.
pub fn decoded<T: DeserializeOwned>(c: &kafka::Consumed) -> T {
    let codec = c.header(HEADER_CODEC).and_then(Codec::from_header).expect("codec header");
    decode(c.payload.as_deref().expect("payload"), codec, &Limits { max_decoded_bytes: 256 << 20, max_encoded_bytes: 256 << 20, ..Limits::DEFAULT }).expect("decode")
}

/// Read `topic` until `n` records arrived (or `timeout`).
pub fn read_n(topic: &str, n: usize, timeout: Duration) -> Vec<kafka::Consumed> {
    kafka::read_topic(&kafka::brokers(), topic, timeout, |r| r.len() >= n).expect("read topic")
}

/// A stage config for tests: unique group, fast commits, short drains.
pub fn stage_config(inputs: &[&str], output: Option<&str>, dlq: &str) -> docflow_runtime::StageConfig {
    let mut c = docflow_runtime::StageConfig::new(kafka::unique("g"), inputs.iter().map(|s| s.to_string()).collect(), output.map(str::to_owned));
    c.brokers = kafka::brokers();
    c.dlq_topic = dlq.to_owned();
    c.drain_timeout_ms = 3_000;
    c
}

/// A tiny random BERT on disk and an infer config using it.
pub fn tiny_infer(dir: &docflow_model::tiny::TinyModelDir) -> docflow_stages::InferConfig {
    docflow_stages::InferConfig { model_dir: Some(dir.path().to_path_buf()), threads: 2, ..Default::default() }
}

pub fn tiny_model() -> docflow_model::tiny::TinyModelDir {
    docflow_model::tiny::TinyModelDir::new(&docflow_model::tiny::TinySpec::default()).expect("tiny model")
}

/// Triggers the shutdown signal when dropped, so a failing assertion stops
/// the stages (their poll threads would otherwise keep the test alive).
pub struct StopOnDrop(pub docflow_runtime::ShutdownSignal);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.trigger();
    }
}

/// A keyspace of one test run with docflow's schema, dropped by [`TestKeyspace::drop`].
pub struct TestKeyspace {
    pub name: String,
    pub session: scylla::client::session::Session,
    /// The store settings pointing at this keyspace.
    pub store: docflow_store::StoreConfig,
}

impl TestKeyspace {
    /// `dfs_<tag>_<n>`, `n` the run number ending the run prefix `p`
    /// (`kafka::unique`); `tune` adjusts the store settings from the
    /// environment (timeouts, say) before connecting.
    pub async fn create(tag: &str, p: &str, tune: impl FnOnce(&mut docflow_store::StoreConfig)) -> Self {
        let name = format!("dfs_{tag}_{}", p.rsplit('-').next().unwrap_or(p));
        let mut store = docflow_store::StoreConfig { keyspace: name.clone(), ..docflow_store::StoreConfig::from_env() };
        tune(&mut store);
        let session = docflow_store::connect_session(&store).await.expect("connect to Cassandra");
        docflow_store::apply_schema(&session, &name, &docflow_store::Replication::local()).await.expect("schema");
        Self { name, session, store }
    }

    /// Drop the keyspace; best effort (the test's verdict is already in).
    pub async fn drop(self) {
        let mut q = scylla::statement::Statement::new(format!("DROP KEYSPACE IF EXISTS {}", self.name));
        q.set_request_timeout(Some(docflow_store::schema::DDL_TIMEOUT));
        let _ = self.session.query_unpaged(q, ()).await;
    }
}

/// The persist stage's topics of run `p`, created: (`<p>.docs.scored`,
/// `<p>.docs.results`, two partitions each; `<p>.docs.dlq`).
pub async fn persist_topics(p: &str) -> (String, String, String) {
    let (scored, results, dlq) = (format!("{p}.docs.scored"), format!("{p}.docs.results"), format!("{p}.docs.dlq"));
    kafka::create_topics(&kafka::brokers(), &[(&scored, 2), (&results, 2), (&dlq, 1)]).await.expect("create topics");
    (scored, results, dlq)
}

/// An embedded plain-text document `id` with embedding `e` (score-stage input).
pub fn embedded_doc(id: &str, e: &[f32]) -> docflow_schemas::EmbeddedDocument {
    docflow_schemas::EmbeddedDocument {
        parsed: docflow_schemas::ParsedDocument {
            id: id.into(),
            content_type: "text/plain".into(),
            text: format!("document {id}"),
            fields: docflow_schemas::BusinessFields::default(),
            warnings: vec![],
            created_at_ms: 1,
            priority: docflow_schemas::Priority::Normal,
            locale: None,
        },
        embedding_f32le: docflow_schemas::embedding_to_bytes(e),
        encoder_version: "test@0".into(),
    }
}
