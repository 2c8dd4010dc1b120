//! Builds the driver session: the driver's default load balancing is
//! token-aware (with prepared statements and bound partition keys, each
//! request goes straight to a replica), preferring `local_dc` when set.

use std::sync::Arc;
use std::time::Duration;

use openssl::ssl::{SslConnector, SslFiletype, SslMethod};
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::policies::retry::DefaultRetryPolicy;
use scylla::statement::{Consistency, SerialConsistency};

use crate::config::TlsConfig;
use crate::error::{classify_new_session, StoreError};
use crate::StoreConfig;

/// A session to `config.nodes` with docflow's execution profile:
/// LOCAL_QUORUM / LOCAL_SERIAL, client timeout, token-aware DC-aware policy.
pub async fn connect_session(config: &StoreConfig) -> Result<Session, StoreError> {
    config.validate()?;
    let mut lb = DefaultPolicy::builder().token_aware(true);
    if let Some(dc) = &config.local_dc {
        lb = lb.prefer_datacenter(dc.clone()).permit_dc_failover(false);
    }
    let profile = ExecutionProfile::builder()
        .consistency(Consistency::LocalQuorum)
        .serial_consistency(Some(SerialConsistency::LocalSerial))
        .request_timeout(Some(config.request_timeout()))
        .load_balancing_policy(lb.build())
        // The driver retries an idempotent request once on another node for
        // errors where that helps; docflow's own loop (guard.rs) adds
        // backoff on top and feeds the circuit breaker.
        .retry_policy(Arc::new(DefaultRetryPolicy::new()))
        .build();
    let mut b = SessionBuilder::new()
        .known_nodes(&config.nodes)
        .connection_timeout(Duration::from_millis(config.connect_timeout_ms))
        .default_execution_profile_handle(profile.into_handle());
    if let (Some(u), Some(p)) = (&config.username, &config.password) {
        b = b.user(u, p);
    }
    if let Some(tls) = &config.tls {
        b = b.tls_context(Some(tls_connector(tls)?));
    }
    b.build().await.map_err(classify_new_session)
}

/// OpenSSL client context: peer verification on (SslConnector's default),
/// CA from `ca_file` or the system store, optional client certificate.
fn tls_connector(t: &TlsConfig) -> Result<openssl::ssl::SslConnectorBuilder, StoreError> {
    let cfg = |what: &str, e: openssl::error::ErrorStack| StoreError::Config(format!("tls {what}: {e}"));
    let mut b = SslConnector::builder(SslMethod::tls()).map_err(|e| cfg("init", e))?;
    if let Some(ca) = &t.ca_file {
        b.set_ca_file(ca).map_err(|e| cfg(&format!("ca_file {}", ca.display()), e))?;
    }
    if let (Some(cert), Some(key)) = (&t.cert_file, &t.key_file) {
        b.set_certificate_chain_file(cert).map_err(|e| cfg(&format!("cert_file {}", cert.display()), e))?;
        b.set_private_key_file(key, SslFiletype::PEM).map_err(|e| cfg(&format!("key_file {}", key.display()), e))?;
        b.check_private_key().map_err(|e| cfg("key does not match certificate", e))?;
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tls_files_are_config_errors() {
        let t = TlsConfig { ca_file: Some("/nonexistent/ca.pem".into()), cert_file: None, key_file: None };
        match tls_connector(&t) {
            Err(StoreError::Config(m)) => assert!(m.contains("/nonexistent/ca.pem"), "{m}"),
            Err(e) => panic!("expected config error, got {e}"),
            Ok(_) => panic!("expected config error, got a connector"),
        }
    }
}
