//! [`StoreConfig`]: how to reach the cluster and how hard to push it. Every
//! field is documented here; this is the user documentation of the
//! `[store]` section.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::error::StoreError;
use crate::plan::DEFAULT_AUDIT_THRESHOLD;
use crate::store_env;

/// Connection and behaviour of the ScyllaDB/Cassandra store.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Contact points, `host:port` (env `DOCFLOW_SCYLLA_NODES`, comma-separated;
    /// every variable: [`crate::store_env`]).
    /// The driver discovers the rest of the cluster from them.
    pub nodes: Vec<String>,
    /// Keyspace holding docflow's tables (env `DOCFLOW_KEYSPACE`).
    pub keyspace: String,
    /// User name for PasswordAuthenticator (env `DOCFLOW_SCYLLA_USER`); none: no auth.
    pub username: Option<String>,
    /// Password (env `DOCFLOW_SCYLLA_PASSWORD`).
    pub password: Option<String>,
    /// TLS to the nodes; none: plaintext (loopback development only).
    pub tls: Option<TlsConfig>,
    /// Preferred (local) datacenter: requests go to its replicas first and
    /// `LOCAL_*` consistencies refer to it. None: no preference (single DC).
    pub local_dc: Option<String>,
    /// Most requests in flight to the cluster from this process (a
    /// semaphore); callers beyond it wait.
    pub max_in_flight: usize,
    /// Client-side timeout of one request, ms.
    pub request_timeout_ms: u64,
    /// Timeout to open a connection, ms.
    pub connect_timeout_ms: u64,
    /// Retries of a transient failure (timeout, unavailable, overloaded) per
    /// statement, with exponential backoff and jitter.
    pub max_retries: u32,
    /// First backoff, ms (doubles per retry).
    pub retry_base_ms: u64,
    /// Backoff ceiling, ms.
    pub retry_max_ms: u64,
    /// Consecutive transient failures that open the circuit breaker.
    pub breaker_failure_threshold: u32,
    /// How long the breaker stays open before letting one probe through, ms
    /// (doubles after each failed probe, up to `breaker_max_open_ms`).
    pub breaker_open_ms: u64,
    /// Ceiling of the open period, ms.
    pub breaker_max_open_ms: u64,
    /// `anomaly_score` above this opens a pending audit.
    pub audit_threshold: f64,
    /// Store the embedding blob on the document row (the learn stage reads it
    /// for audit feedback). 1.5 KiB per document for MiniLM.
    pub store_embeddings: bool,
}

/// TLS settings (OpenSSL). Peer verification is always on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the CA(s) that signed the nodes' certificates; none: the
    /// system trust store.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for clusters that require client auth.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            nodes: vec!["127.0.0.1:9042".into()],
            keyspace: "docflow".into(),
            username: None,
            password: None,
            tls: None,
            local_dc: None,
            max_in_flight: 512,
            request_timeout_ms: 5_000,
            connect_timeout_ms: 5_000,
            max_retries: 4,
            retry_base_ms: 50,
            retry_max_ms: 2_000,
            breaker_failure_threshold: 8,
            breaker_open_ms: 1_000,
            breaker_max_open_ms: 15_000,
            audit_threshold: DEFAULT_AUDIT_THRESHOLD,
            store_embeddings: true,
        }
    }
}

impl StoreConfig {
    /// Defaults overridden by `DOCFLOW_SCYLLA_NODES`, `DOCFLOW_KEYSPACE`,
    /// `DOCFLOW_SCYLLA_USER`, `DOCFLOW_SCYLLA_PASSWORD`. For TLS, a password
    /// file and the local datacenter as well, follow with
    /// [`store_env::apply`].
    pub fn from_env() -> Self {
        let mut c = Self::default();
        store_env::connection(&mut c, store_env::process_env);
        c.username = store_env::process_env(store_env::USER).filter(|s| !s.is_empty());
        c.password = store_env::process_env(store_env::PASSWORD).filter(|s| !s.is_empty());
        c
    }

    /// Rejects settings that cannot work, with the reason.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.nodes.is_empty() {
            return Err(StoreError::Config("nodes is empty".into()));
        }
        crate::schema::check_keyspace_name(&self.keyspace)?;
        if self.username.is_some() != self.password.is_some() {
            return Err(StoreError::Config("username and password must be set together".into()));
        }
        if self.max_in_flight == 0 {
            return Err(StoreError::Config("max_in_flight must be > 0".into()));
        }
        if self.request_timeout_ms == 0 || self.connect_timeout_ms == 0 {
            return Err(StoreError::Config("timeouts must be > 0".into()));
        }
        if !(0.0..=1.0).contains(&self.audit_threshold) {
            return Err(StoreError::Config("audit_threshold must be in [0, 1]".into()));
        }
        if let Some(t) = &self.tls {
            if t.cert_file.is_some() != t.key_file.is_some() {
                return Err(StoreError::Config("tls.cert_file and tls.key_file must be set together".into()));
            }
        }
        Ok(())
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

/// `"a:9042, b:9042"` → `["a:9042", "b:9042"]`.
pub fn split_nodes(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        StoreConfig::default().validate().unwrap();
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let e = serde_json::from_str::<StoreConfig>(r#"{"nodes": ["a:1"], "nodez": 1}"#).unwrap_err();
        assert!(e.to_string().contains("nodez"), "{e}");
        let c: StoreConfig = serde_json::from_str(r#"{"nodes": ["a:1"], "max_in_flight": 8}"#).unwrap();
        assert_eq!(c.max_in_flight, 8);
        assert_eq!(c.keyspace, "docflow");
    }

    #[test]
    fn bad_settings_are_explained() {
        let mut c = StoreConfig { keyspace: "bad-name".into(), ..Default::default() };
        assert!(c.validate().is_err());
        c.keyspace = "ok".into();
        c.username = Some("u".into());
        assert!(matches!(c.validate(), Err(StoreError::Config(m)) if m.contains("password")));
    }

    #[test]
    fn node_lists_split_on_commas() {
        assert_eq!(split_nodes(" a:1, ,b:2 "), vec!["a:1", "b:2"]);
    }
}
