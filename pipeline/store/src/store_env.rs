//! The store's settings from the environment: the one place that knows the
//! `DOCFLOW_SCYLLA_*` variables (and `DOCFLOW_KEYSPACE`), as
//! `docflow_core::kafka_env` is for Kafka. The stages, the storage
//! subcommands and the tests all go through it.
//!
//! | variable | [`StoreConfig`] field | values |
//! |---|---|---|
//! | `DOCFLOW_SCYLLA_NODES` | `nodes` | contact points, `host:port`, comma-separated |
//! | `DOCFLOW_KEYSPACE` | `keyspace` | |
//! | `DOCFLOW_SCYLLA_USER` | `username` | PasswordAuthenticator user |
//! | `DOCFLOW_SCYLLA_PASSWORD` | `password` | the secret |
//! | `DOCFLOW_SCYLLA_PASSWORD_FILE` | `password` | a file holding the secret (a mounted Secret); trailing newline ignored |
//! | `DOCFLOW_SCYLLA_TLS_CA_FILE` | `tls.ca_file` | PEM CA bundle; turns TLS on |
//! | `DOCFLOW_SCYLLA_TLS_CERT_FILE` / `DOCFLOW_SCYLLA_TLS_KEY_FILE` | `tls.cert_file` / `tls.key_file` | PEM client certificate and key (mutual TLS) |
//! | `DOCFLOW_SCYLLA_LOCAL_DC` | `local_dc` | the datacenter to prefer |
//!
//! [`connection`] reads where the cluster is; [`apply`] fills what a config
//! file left out of the credentials, TLS and locality, and refuses settings
//! that cannot work (a user without a password, a certificate without its
//! key, a file that is not PEM), naming the variable and never a secret.
//!
//! ```
//! # use docflow_store::{store_env, StoreConfig};
//! let env = [("DOCFLOW_SCYLLA_USER", "docflow")];
//! let mut cfg = StoreConfig::default();
//! let err = store_env::apply(&mut cfg, |k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap_err();
//! assert!(err.to_string().starts_with("missing secret DOCFLOW_SCYLLA_PASSWORD"));
//! ```

use std::path::PathBuf;

use docflow_core::kafka_env::{self, KafkaEnvError};

use crate::config::{split_nodes, StoreConfig, TlsConfig};

pub const NODES: &str = "DOCFLOW_SCYLLA_NODES";
pub const KEYSPACE: &str = "DOCFLOW_KEYSPACE";
pub const USER: &str = "DOCFLOW_SCYLLA_USER";
pub const PASSWORD: &str = "DOCFLOW_SCYLLA_PASSWORD";
pub const PASSWORD_FILE: &str = "DOCFLOW_SCYLLA_PASSWORD_FILE";
pub const TLS_CA_FILE: &str = "DOCFLOW_SCYLLA_TLS_CA_FILE";
pub const TLS_CERT_FILE: &str = "DOCFLOW_SCYLLA_TLS_CERT_FILE";
pub const TLS_KEY_FILE: &str = "DOCFLOW_SCYLLA_TLS_KEY_FILE";
pub const LOCAL_DC: &str = "DOCFLOW_SCYLLA_LOCAL_DC";

/// A store setting from the environment that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreEnvError {
    /// A credential the other settings require is absent or empty.
    #[error("missing secret {var}: {why}")]
    MissingSecret { var: &'static str, why: &'static str },
    /// A non-secret setting the other settings require is absent or empty.
    #[error("missing setting {var}: {why}")]
    Missing { var: &'static str, why: &'static str },
    /// Two settings that contradict each other.
    #[error("{var}: {why}")]
    Refused { var: &'static str, why: &'static str },
    /// The password file cannot be read.
    #[error("{var}={}: cannot read the secret", path.display())]
    SecretFile {
        var: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A TLS file that is missing or not the PEM it should be.
    #[error(transparent)]
    Pem(#[from] KafkaEnvError),
}

impl StoreEnvError {
    /// The variable the error is about.
    pub fn var(&self) -> &'static str {
        match self {
            Self::MissingSecret { var, .. } | Self::Missing { var, .. } | Self::Refused { var, .. } | Self::SecretFile { var, .. } => var,
            Self::Pem(e) => e.var(),
        }
    }
}

/// The process environment as a lookup.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Puts `nodes` and `keyspace` from the environment into `config` (blank
/// values are ignored).
pub fn connection(config: &mut StoreConfig, lookup: impl Fn(&str) -> Option<String>) {
    if let Some(n) = lookup(NODES).filter(|n| !n.trim().is_empty()) {
        config.nodes = split_nodes(&n);
    }
    if let Some(k) = lookup(KEYSPACE).map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()) {
        config.keyspace = k;
    }
}

/// Fills what `config` leaves out of the credentials (user, password or a
/// file holding it), TLS (CA, client certificate and key) and the local
/// datacenter from the environment, then checks that the result can work.
/// Call after loading the `[store]` table: what the file sets wins.
pub fn apply(config: &mut StoreConfig, lookup: impl Fn(&str) -> Option<String>) -> Result<(), StoreEnvError> {
    let get = |k: &str| lookup(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if config.username.is_none() {
        config.username = get(USER);
    }
    if config.local_dc.is_none() {
        config.local_dc = get(LOCAL_DC);
    }
    if config.password.is_none() {
        config.password = match (lookup(PASSWORD).filter(|p| !p.is_empty()), get(PASSWORD_FILE)) {
            (Some(_), Some(_)) => {
                return Err(StoreEnvError::Refused { var: PASSWORD_FILE, why: "set either DOCFLOW_SCYLLA_PASSWORD or DOCFLOW_SCYLLA_PASSWORD_FILE, not both" })
            }
            (Some(p), None) => Some(p),
            (None, Some(f)) => {
                let text = std::fs::read_to_string(&f).map_err(|source| StoreEnvError::SecretFile { var: PASSWORD_FILE, path: f.into(), source })?;
                Some(text.trim_end_matches(['\n', '\r']).to_owned()).filter(|p| !p.is_empty())
            }
            (None, None) => None,
        };
    }
    match (&config.username, &config.password) {
        (Some(_), None) => {
            return Err(StoreEnvError::MissingSecret {
                var: PASSWORD,
                why: "a store user is set (DOCFLOW_SCYLLA_USER or [store] username) and PasswordAuthenticator needs its password (or DOCFLOW_SCYLLA_PASSWORD_FILE)",
            })
        }
        (None, Some(_)) => return Err(StoreEnvError::Missing { var: USER, why: "a store password is set without a user" }),
        _ => {}
    }
    let [ca, cert, key] = [TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE].map(|v| get(v).map(PathBuf::from));
    if ca.is_some() || cert.is_some() || key.is_some() {
        let tls = config.tls.get_or_insert(TlsConfig { ca_file: None, cert_file: None, key_file: None });
        tls.ca_file = tls.ca_file.take().or(ca);
        tls.cert_file = tls.cert_file.take().or(cert);
        tls.key_file = tls.key_file.take().or(key);
    }
    if let Some(tls) = &config.tls {
        for (var, path, label) in [(TLS_CA_FILE, &tls.ca_file, "CERTIFICATE"), (TLS_CERT_FILE, &tls.cert_file, "CERTIFICATE"), (TLS_KEY_FILE, &tls.key_file, "PRIVATE KEY")] {
            if let Some(p) = path {
                kafka_env::check_pem(var, p, label)?;
            }
        }
        match (&tls.cert_file, &tls.key_file) {
            (Some(_), None) => return Err(StoreEnvError::MissingSecret { var: TLS_KEY_FILE, why: "the client certificate needs its key" }),
            (None, Some(_)) => return Err(StoreEnvError::Missing { var: TLS_CERT_FILE, why: "the key needs its certificate" }),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    fn tmp_file(name: &str, text: &str) -> String {
        let dir = std::env::temp_dir().join(format!("docflow-store-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    #[test]
    fn connection_reads_nodes_and_keyspace_and_ignores_blanks() {
        let mut c = StoreConfig::default();
        connection(&mut c, env(&[(NODES, "a:1, b:2"), (KEYSPACE, " ks1 ")]));
        assert_eq!(c.nodes, vec!["a:1", "b:2"]);
        assert_eq!(c.keyspace, "ks1");
        let mut d = StoreConfig::default();
        connection(&mut d, env(&[(NODES, " "), (KEYSPACE, "")]));
        assert_eq!(d, StoreConfig::default());
    }

    #[test]
    fn credentials_tls_and_dc_fill_what_the_file_left_out() {
        let ca = tmp_file("ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
        let pw = tmp_file("pw", "s3cret\n");
        let mut c = StoreConfig { local_dc: Some("dc-file".into()), ..Default::default() };
        apply(&mut c, env(&[(USER, "docflow"), (PASSWORD_FILE, &pw), (TLS_CA_FILE, &ca), (LOCAL_DC, "dc-env")])).unwrap();
        assert_eq!(c.username.as_deref(), Some("docflow"));
        assert_eq!(c.password.as_deref(), Some("s3cret"));
        assert_eq!(c.local_dc.as_deref(), Some("dc-file"));
        assert_eq!(c.tls.unwrap().ca_file, Some(PathBuf::from(ca)));
    }

    #[test]
    fn settings_that_cannot_work_name_their_variable_and_no_secret() {
        let e = apply(&mut StoreConfig::default(), env(&[(USER, "docflow")])).unwrap_err();
        assert!(e.to_string().starts_with("missing secret DOCFLOW_SCYLLA_PASSWORD"), "{e}");
        let e = apply(&mut StoreConfig::default(), env(&[(PASSWORD, "pw-1")])).unwrap_err();
        assert_eq!(e.var(), USER);
        assert!(!e.to_string().contains("pw-1"), "{e}");
        let e = apply(&mut StoreConfig::default(), env(&[(USER, "u"), (PASSWORD, "pw-1"), (PASSWORD_FILE, "/x")])).unwrap_err();
        assert_eq!(e.var(), PASSWORD_FILE);
        let e = apply(&mut StoreConfig::default(), env(&[(USER, "u"), (PASSWORD_FILE, "/nonexistent/pw")])).unwrap_err();
        assert!(matches!(&e, StoreEnvError::SecretFile { source, .. } if source.kind() == std::io::ErrorKind::NotFound), "{e:?}");
        let e = apply(&mut StoreConfig::default(), env(&[(TLS_CA_FILE, "/nonexistent/ca.crt")])).unwrap_err();
        assert!(e.to_string().contains("DOCFLOW_SCYLLA_TLS_CA_FILE=/nonexistent/ca.crt"), "{e}");
        let cert = tmp_file("client.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
        let e = apply(&mut StoreConfig::default(), env(&[(TLS_CERT_FILE, &cert)])).unwrap_err();
        assert_eq!(e.var(), TLS_KEY_FILE);
    }
}
