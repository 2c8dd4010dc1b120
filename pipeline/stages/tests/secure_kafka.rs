//! The parse stage against a Kafka that only speaks SASL_SSL
//! (`deploy/local/secure-kafka.sh up`: TLS with a CA made by openssl,
//! SCRAM-SHA-512 and PLAIN users), configured the way a deployment is: the
//! `DOCFLOW_KAFKA_*` security variables through `PipelineOverrides::resolve_from`
//! and started with `start::start_one`, the path of `docflow stage parse`.
//!
//! - the right credentials: documents flow `docs.raw.normal` → `docs.parsed`;
//! - a wrong password: the start fails within seconds naming Kafka and SASL,
//!   the consumer group commits nothing and nothing is produced;
//! - PLAIN over TLS works, a wrong PLAIN password and a TLS handshake with
//!   the wrong CA fail with their own errors.
//!
//! Broker: env `DOCFLOW_SECURE_KAFKA_BROKERS` (default 127.0.0.1:19093);
//! its CA and the `docflow` password: `DOCFLOW_SECURE_KAFKA_DIR` (default
//! `<DOCFLOW_STATE_DIR or repo/.state>/secure-kafka`). Unreachable: the
//! tests fail unless `DOCFLOW_SKIP_INTEGRATION=1`.

mod common;

use common::*;
use docflow_testkit::kafka;
use docflow_schemas::{ParsedDocument, RawDocument};
use docflow_stages::start::{check_kafka_access, start_one, KafkaAccessError, PipelineOverrides, StartError};
use docflow_stages::config::{ConfigError, StoreBackend};
use docflow_stages::PipelineConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

struct Secure {
    brokers: String,
    ca: PathBuf,
    password_file: PathBuf,
}

impl Secure {
    /// The secure broker, or `None` (skip) / panic when it is not up.
    fn require() -> Option<Self> {
        let brokers = std::env::var("DOCFLOW_SECURE_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:19093".into());
        let dir = std::env::var("DOCFLOW_SECURE_KAFKA_DIR").map(PathBuf::from).unwrap_or_else(|_| {
            let state = std::env::var("DOCFLOW_STATE_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.state"));
            state.join("secure-kafka")
        });
        let s = Self { brokers: brokers.clone(), ca: dir.join("tls/ca.crt"), password_file: dir.join("secrets/docflow.password") };
        // Up, and its TLS and password files written by secure-kafka.sh.
        let probe = docflow_testkit::tcp_probe(&brokers).and_then(|()| {
            if s.ca.is_file() && s.password_file.is_file() {
                Ok(())
            } else {
                Err(format!("it answers at {brokers} but {} or {} is missing", s.ca.display(), s.password_file.display()))
            }
        });
        docflow_testkit::up_or_skip(&docflow_testkit::SECURE_KAFKA, probe).then_some(s)
    }

    /// The variables a deployment sets: SCRAM-SHA-512 over TLS, the password by file.
    fn env(&self) -> HashMap<String, String> {
        [
            ("DOCFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL".to_string()),
            ("DOCFLOW_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512".into()),
            ("DOCFLOW_KAFKA_SASL_USERNAME", "docflow".into()),
            ("DOCFLOW_KAFKA_SASL_PASSWORD_FILE", self.password_file.display().to_string()),
            ("DOCFLOW_KAFKA_TLS_CA_FILE", self.ca.display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// `docflow stage parse --brokers <secure> --store memory --topic-prefix <p>`
    /// with a short drain, resolved with `env`.
    fn pipeline(&self, prefix: &str, env: &HashMap<String, String>) -> Result<PipelineConfig, ConfigError> {
        let file = std::env::temp_dir().join(format!("{prefix}.toml"));
        std::fs::write(&file, "[stage.parse]\ndrain_timeout_ms = 3000\n").unwrap();
        let args = PipelineOverrides {
            config: Some(file),
            brokers: Some(self.brokers.clone()),
            store: Some(StoreBackend::Memory),
            topic_prefix: Some(prefix.to_owned()),
            ..Default::default()
        };
        args.resolve_from(|k| env.get(k).cloned())
    }

    /// Client properties with the right credentials (the same function the stages use).
    fn props(&self) -> BTreeMap<String, String> {
        let env = self.env();
        docflow_core::KafkaSecurity::from_lookup(|k| env.get(k).cloned()).unwrap().properties()
    }

    fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in self.props() {
            c.set(k, v);
        }
        c
    }

    async fn create_topics(&self, topics: &[String]) {
        let admin: AdminClient<DefaultClientContext> = self.client().create().unwrap();
        let new: Vec<NewTopic<'_>> = topics.iter().map(|t| NewTopic::new(t, 1, TopicReplication::Fixed(1))).collect();
        for r in admin.create_topics(&new, &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)))).await.unwrap() {
            r.unwrap();
        }
    }

    fn producer(&self) -> Producer {
        self.client().set("acks", "all").set("enable.idempotence", "true").set("linger.ms", "5").create().unwrap()
    }

    /// Every record of `topic` until `n` arrived or `timeout`.
    fn read(&self, topic: &str, n: usize, timeout: Duration) -> Vec<kafka::Consumed> {
        let c: BaseConsumer = self.client().set("group.id", kafka::unique("reader")).set("enable.auto.commit", "false").create().unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, 0, Offset::Beginning).unwrap();
        c.assign(&tpl).unwrap();
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < n && Instant::now() < deadline {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
                out.push(kafka::Consumed {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().map(<[u8]>::to_vec),
                    headers: m.headers().map(|h| h.iter().map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec())).collect()).unwrap_or_default(),
                    timestamp_ms: m.timestamp().to_millis(),
                });
            }
        }
        out
    }

    /// (committed offset of `group` on partition 0 of `topic`, high watermark of `out`).
    fn consumed_and_produced(&self, group: &str, topic: &str, out: &str) -> (Offset, i64) {
        let c: BaseConsumer = self.client().set("group.id", group).set("enable.auto.commit", "false").create().unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(topic, 0);
        let committed = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
        let offset = committed.find_partition(topic, 0).unwrap().offset();
        let (_, high) = c.fetch_watermarks(out, 0, Duration::from_secs(10)).unwrap();
        (offset, high)
    }
}

fn raw(i: usize) -> RawDocument {
    RawDocument {
        id: format!("sec-{i}"),
        content_type: Some("text/plain".into()),
        body: format!("INVOICE\nInvoice number: INV-{i:04}\nDate: 2024-03-05\nTotal: {i}.50 EUR\n").into_bytes(),
        metadata: BTreeMap::new(),
        created_at_ms: 1_700_000_000_000,
    }
}

/// Topics the parse stage uses under `cfg`'s prefix (with the model
/// versions it follows for learned layouts).
fn parse_topics(cfg: &PipelineConfig) -> Vec<String> {
    let sc = cfg.stage_config("parse").unwrap();
    let mut t = sc.input_topics.clone();
    t.extend(sc.output_topic.clone());
    t.push(sc.dlq_topic.clone());
    t.push(cfg.score_config().updates_topic);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_flow_through_the_parse_stage_over_sasl_ssl_scram() {
    let Some(sec) = Secure::require() else { return };
    let prefix = kafka::unique("secure");
    let cfg = sec.pipeline(&prefix, &sec.env()).expect("resolve");
    let sc = cfg.stage_config("parse").unwrap();
    assert_eq!(sc.kafka["security.protocol"], "sasl_ssl");
    assert_eq!(sc.kafka["sasl.mechanism"], "SCRAM-SHA-512");
    sec.create_topics(&parse_topics(&cfg)).await;

    let shutdown = docflow_runtime::ShutdownSignal::new();
    let _stop = StopOnDrop(shutdown.clone());
    let stage = tokio::spawn(start_one("parse", cfg.clone(), shutdown.clone()));

    const N: usize = 20;
    let producer = sec.producer();
    let input = cfg.name("docs.raw.normal");
    for i in 0..N {
        let d = raw(i);
        send(&producer, &input, &d.id, &d);
    }
    kafka::flush(&producer).unwrap();

    let out = tokio::task::spawn_blocking({
        let (sec, topic) = (Secure { brokers: sec.brokers.clone(), ca: sec.ca.clone(), password_file: sec.password_file.clone() }, cfg.name("docs.parsed"));
        move || sec.read(&topic, N, Duration::from_secs(90))
    })
    .await
    .unwrap();
    let mut ids: Vec<String> = out.iter().map(|c| decoded::<ParsedDocument>(c).id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "parsed over SASL_SSL: {ids:?}");
    let first: ParsedDocument = decoded(&out[0]);
    assert!(first.text.contains("INVOICE") && first.priority == docflow_schemas::Priority::Normal, "{first:?}");

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(30), stage).await.expect("stage stops").unwrap().expect("stage result");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_fast_naming_kafka_and_sasl_and_consumes_nothing() {
    let Some(sec) = Secure::require() else { return };
    let prefix = kafka::unique("secure-bad");
    let mut env = sec.env();
    env.remove("DOCFLOW_KAFKA_SASL_PASSWORD_FILE");
    env.insert("DOCFLOW_KAFKA_SASL_PASSWORD".into(), "not-the-password-7Qx".into());
    // The settings are well-formed: resolving succeeds, the broker says no.
    let cfg = sec.pipeline(&prefix, &env).expect("resolve");
    sec.create_topics(&parse_topics(&cfg)).await;
    let producer = sec.producer();
    let input = cfg.name("docs.raw.normal");
    for i in 0..3 {
        let d = raw(i);
        send(&producer, &input, &d.id, &d);
    }
    kafka::flush(&producer).unwrap();

    let shutdown = docflow_runtime::ShutdownSignal::new();
    let _stop = StopOnDrop(shutdown.clone());
    let t0 = Instant::now();
    let res = tokio::time::timeout(Duration::from_secs(60), start_one("parse", cfg.clone(), shutdown.clone())).await.expect("start_one hung with wrong credentials");
    let took = t0.elapsed();
    let err = res.expect_err("a wrong password must not start the stage");
    assert!(matches!(err, StartError::KafkaAccess(KafkaAccessError::Authentication { .. })), "{err:?}");
    let msg = format!("{:#}", anyhow::Error::from(err));
    println!("wrong password: failed after {took:.1?}: {msg}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(msg.contains("Kafka at 127.0.0.1:19093") || msg.contains(&format!("Kafka at {}", sec.brokers)), "{msg}");
    assert!(msg.contains("SASL") && msg.contains("SCRAM-SHA-512") && msg.contains("docflow"), "{msg}");
    assert!(!msg.contains("not-the-password-7Qx"), "the password is printed: {msg}");

    let sc = cfg.stage_config("parse").unwrap();
    let (committed, produced) = sec.consumed_and_produced(&sc.group_id, &input, sc.output_topic.as_deref().unwrap());
    assert_eq!(committed, Offset::Invalid, "the group committed an offset");
    assert_eq!(produced, 0, "something reached the output topic");
}

#[test]
fn plain_over_tls_works_and_wrong_plain_password_or_wrong_ca_fail_with_their_error() {
    let Some(sec) = Secure::require() else { return };
    let password = std::fs::read_to_string(&sec.password_file).unwrap().trim().to_owned();
    let mut plain = sec.props();
    plain.insert("sasl.mechanism".into(), "PLAIN".into());
    plain.insert("sasl.password".into(), password);
    check_kafka_access(&sec.brokers, &plain, Duration::from_secs(20)).expect("PLAIN over TLS");

    plain.insert("sasl.password".into(), "wrong-plain-pw".into());
    let t0 = Instant::now();
    let e = check_kafka_access(&sec.brokers, &plain, Duration::from_secs(20)).unwrap_err();
    assert!(matches!(e, KafkaAccessError::Authentication { .. }) && e.to_string().contains("PLAIN"), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    assert!(!e.to_string().contains("wrong-plain-pw"), "{e}");

    // A CA that did not sign the broker's certificate: the handshake fails.
    let other_ca = std::env::temp_dir().join(format!("docflow-other-ca-{}.crt", std::process::id()));
    let ok = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other CA", "-keyout"])
        .arg(other_ca.with_extension("key"))
        .arg("-out")
        .arg(&other_ca)
        .output()
        .expect("openssl")
        .status
        .success();
    assert!(ok, "openssl req");
    let mut wrong_ca = sec.props();
    wrong_ca.insert("ssl.ca.location".into(), other_ca.display().to_string());
    let e = check_kafka_access(&sec.brokers, &wrong_ca, Duration::from_secs(20)).unwrap_err();
    assert!(matches!(e, KafkaAccessError::Tls { .. }), "{e}");
    println!("wrong CA: {e}");
}
