//! Starting the pipeline (`docflow stage <name>`, `docflow run`): the
//! settings a start resolves ([`PipelineOverrides`] over the config file),
//! then [`start_one`] or [`start_all`], which run until the shutdown signal.
//!
//! A start fails before anything runs, with a message naming the cause,
//! when the config file has an unknown key, a security variable is wrong or
//! a secret is missing ([`PipelineOverrides::resolve`]), or Kafka refuses the
//! credentials or the TLS handshake ([`check_kafka_access`], seconds, not
//! a hang: the stage runtime would otherwise retry the broker forever).

use crate::all::PipelineError;
use crate::config::{ConfigError, PipelineConfig, StoreBackend};
use crate::infer::Device;
use crate::topology::STAGES;
use docflow_model::Precision;
use docflow_runtime::ShutdownSignal;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::ClientConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a start waits for Kafka to answer before giving up.
pub const KAFKA_CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// What a start sets over the config file (the flags of `docflow run` and
/// `docflow stage`); `None` keeps the file's value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PipelineOverrides {
    /// TOML config with per-stage tables; `None`: the defaults.
    pub config: Option<PathBuf>,
    /// Kafka bootstrap servers.
    pub brokers: Option<String>,
    /// Encoder device of the infer stage.
    pub device: Option<Device>,
    /// Precision of the infer stage's CPU encoder.
    pub precision: Option<Precision>,
    /// Model directory of the infer stage.
    pub model: Option<PathBuf>,
    /// Store backend.
    pub store: Option<StoreBackend>,
    /// Prefix of every topic and consumer group.
    pub topic_prefix: Option<String>,
}

impl PipelineOverrides {
    /// Defaults ← config file ← flags ← security settings of the
    /// environment, checked (see [`PipelineConfig::apply_env`], [`PipelineConfig::check`]).
    pub fn resolve(&self) -> Result<PipelineConfig, ConfigError> {
        self.resolve_from(|k| std::env::var(k).ok())
    }

    /// [`Self::resolve`] with the security variables from `lookup`.
    pub fn resolve_from(&self, lookup: impl Fn(&str) -> Option<String>) -> Result<PipelineConfig, ConfigError> {
        let mut cfg = match &self.config {
            Some(path) => PipelineConfig::load(path)?,
            None => PipelineConfig::default(),
        };
        if let Some(b) = &self.brokers {
            cfg.brokers = Some(b.clone());
        }
        if let Some(d) = self.device {
            cfg.infer.device = d;
        }
        if let Some(p) = self.precision {
            cfg.infer.precision = p;
        }
        if let Some(m) = &self.model {
            cfg.infer.model_dir = Some(m.clone());
        }
        if let Some(s) = self.store {
            cfg.store_backend = s;
        }
        if let Some(p) = &self.topic_prefix {
            cfg.topic_prefix = Some(p.clone());
        }
        cfg.apply_env_from(lookup)?;
        cfg.check()?;
        Ok(cfg)
    }
}

/// Why a start stopped: before anything ran (settings, Kafka access) or
/// when the stages did.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    KafkaAccess(#[from] KafkaAccessError),
    /// The thread checking Kafka access panicked.
    #[error("checking Kafka access")]
    AccessCheck(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// [`crate::run_one`] after [`check_kafka_access`] with the stage's settings.
pub async fn start_one(name: &str, cfg: PipelineConfig, shutdown: ShutdownSignal) -> Result<(), StartError> {
    preflight(&cfg, &[name]).await?;
    Ok(crate::run_one(name, cfg, shutdown).await?)
}

/// [`crate::run_all`] after [`check_kafka_access`] with every stage's settings.
pub async fn start_all(cfg: PipelineConfig, shutdown: ShutdownSignal) -> Result<(), StartError> {
    preflight(&cfg, &STAGES).await?;
    Ok(crate::run_all(cfg, shutdown).await?)
}

/// One access check per distinct (brokers, client properties) of `stages`.
async fn preflight(cfg: &PipelineConfig, stages: &[&str]) -> Result<(), StartError> {
    let mut seen = BTreeSet::new();
    for name in stages {
        let sc = cfg.stage_config(name)?;
        if seen.insert((sc.brokers.clone(), sc.kafka.clone())) {
            tokio::task::spawn_blocking(move || check_kafka_access(&sc.brokers, &sc.kafka, KAFKA_CHECK_TIMEOUT)).await??;
        }
    }
    Ok(())
}

/// Why Kafka could not be used; each names Kafka, the brokers and the
/// security in use (protocol, mechanism, user; never the password).
#[derive(Debug, thiserror::Error)]
pub enum KafkaAccessError {
    #[error("Kafka at {brokers} rejected the SASL credentials ({security}): {reason} (check DOCFLOW_KAFKA_SASL_USERNAME and DOCFLOW_KAFKA_SASL_PASSWORD)")]
    Authentication { brokers: String, security: String, reason: String },
    #[error("Kafka at {brokers}: TLS failed ({security}): {reason} (check DOCFLOW_KAFKA_SECURITY_PROTOCOL and DOCFLOW_KAFKA_TLS_CA_FILE)")]
    Tls { brokers: String, security: String, reason: String },
    #[error("Kafka at {brokers} did not answer within {timeout:?} ({security}): {reason}")]
    Unreachable { brokers: String, security: String, timeout: Duration, reason: String },
    #[error("Kafka client settings ({security}): {source}")]
    Client { security: String, source: KafkaError },
}

/// Connects with `kafka` properties and asks for cluster metadata: Ok once
/// a broker answered; an error as soon as librdkafka reports an
/// authentication or TLS failure, or after `timeout`.
pub fn check_kafka_access(brokers: &str, kafka: &BTreeMap<String, String>, timeout: Duration) -> Result<(), KafkaAccessError> {
    let security = describe_security(kafka);
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers).set("group.id", "docflow-access-check").set("client.id", "docflow-access-check").set("enable.auto.commit", "false");
    for (k, v) in kafka {
        c.set(k, v);
    }
    let consumer: BaseConsumer<ErrorCapture> = c.create_with_context(ErrorCapture::default()).map_err(|source| KafkaAccessError::Client { security: security.clone(), source })?;
    let deadline = Instant::now() + timeout;
    loop {
        // poll() serves the error callbacks.
        let _ = consumer.poll(Duration::from_millis(100));
        if let Some((kind, reason)) = consumer.context().failure() {
            let (brokers, security) = (brokers.to_owned(), security.clone());
            return Err(match kind {
                Failure::Authentication => KafkaAccessError::Authentication { brokers, security, reason },
                Failure::Tls => KafkaAccessError::Tls { brokers, security, reason },
            });
        }
        let last = match consumer.fetch_metadata(None, Duration::from_millis(500)) {
            Ok(md) if !md.brokers().is_empty() => return Ok(()),
            Ok(_) => "metadata without brokers".to_owned(),
            Err(e) => consumer.context().last_error().unwrap_or_else(|| e.to_string()),
        };
        if Instant::now() >= deadline {
            return Err(KafkaAccessError::Unreachable { brokers: brokers.to_owned(), security, timeout, reason: last });
        }
    }
}

/// `SASL_SSL SCRAM-SHA-512 user "docflow"` from client properties (no password).
fn describe_security(kafka: &BTreeMap<String, String>) -> String {
    let protocol = kafka.get("security.protocol").map(|p| p.to_ascii_uppercase()).unwrap_or_else(|| "PLAINTEXT".into());
    match (kafka.get("sasl.mechanism"), kafka.get("sasl.username")) {
        (Some(m), Some(u)) if protocol.starts_with("SASL") => format!("{protocol} {m} user {u:?}"),
        _ => protocol,
    }
}

#[derive(Debug, Clone, Copy)]
enum Failure {
    Authentication,
    Tls,
}

/// Keeps the first authentication/TLS failure and the last error librdkafka reported.
#[derive(Default)]
struct ErrorCapture {
    failure: Mutex<Option<(Failure, String)>>,
    last: Mutex<Option<String>>,
}

impl ErrorCapture {
    fn failure(&self) -> Option<(Failure, String)> {
        self.failure.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn last_error(&self) -> Option<String> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl ConsumerContext for ErrorCapture {}

impl ClientContext for ErrorCapture {
    fn error(&self, error: KafkaError, reason: &str) {
        let code = error.rdkafka_error_code();
        let kind = match code {
            Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed) => Some(Failure::Authentication),
            Some(RDKafkaErrorCode::SSL) => Some(Failure::Tls),
            // A TLS handshake failure arrives as a transport error.
            _ if reason.contains("SSL handshake failed") || reason.contains("certificate verify failed") => Some(Failure::Tls),
            _ if reason.contains("SASL authentication error") => Some(Failure::Authentication),
            _ => None,
        };
        let mut f = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        if let (Some(kind), None) = (kind, f.as_ref()) {
            *f = Some((kind, reason.to_owned()));
        }
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.to_owned());
    }
}

#[cfg(test)]
mod precision_tests {
    use super::*;

    #[test]
    fn precision_comes_from_the_file_and_the_flag_overrides_it() {
        let dir = std::env::temp_dir().join(format!("docflow-cli-precision-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("precision.toml");
        std::fs::write(&file, "store_backend = \"memory\"\n[infer]\nprecision = \"bf16\"\n").unwrap();
        let from_file = PipelineOverrides { config: Some(file.clone()), ..Default::default() }.resolve_from(|_| None).unwrap();
        assert_eq!(from_file.infer.precision, Precision::Bf16);
        let args = PipelineOverrides { config: Some(file), precision: Some(Precision::Int8), ..Default::default() };
        assert_eq!(args.resolve_from(|_| None).unwrap().infer.precision, Precision::Int8);
        assert_eq!(PipelineConfig::default().infer.precision, Precision::Fp32, "fp32 stays the default");
    }
}
