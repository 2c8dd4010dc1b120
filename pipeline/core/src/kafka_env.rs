//! Kafka client security from the environment: one place that turns the
//! `DOCFLOW_KAFKA_*` security variables into librdkafka properties, used by
//! every Kafka client docflow creates (stages, tools, load tests).
//!
//! | variable | librdkafka property | values |
//! |---|---|---|
//! | `DOCFLOW_KAFKA_SECURITY_PROTOCOL` | `security.protocol` | `PLAINTEXT` (default), `SSL`, `SASL_PLAINTEXT`, `SASL_SSL` |
//! | `DOCFLOW_KAFKA_SASL_MECHANISM` | `sasl.mechanism` | `SCRAM-SHA-512` (default with SASL), `SCRAM-SHA-256`, `PLAIN` (only with `SASL_SSL`) |
//! | `DOCFLOW_KAFKA_SASL_USERNAME` | `sasl.username` | |
//! | `DOCFLOW_KAFKA_SASL_PASSWORD` | `sasl.password` | the secret |
//! | `DOCFLOW_KAFKA_SASL_PASSWORD_FILE` | `sasl.password` | a file holding the secret (a mounted Secret); trailing newline ignored |
//! | `DOCFLOW_KAFKA_TLS_CA_FILE` | `ssl.ca.location` | PEM CA bundle; unset: the system trust store |
//! | `DOCFLOW_KAFKA_TLS_CERT_FILE` / `DOCFLOW_KAFKA_TLS_KEY_FILE` | `ssl.certificate.location` / `ssl.key.location` | PEM client certificate and key (mutual TLS) |
//!
//! Settings that would be silently ignored are errors (a CA file with
//! `PLAINTEXT`, SASL credentials without a SASL protocol), so a typo never
//! downgrades a deployment to plaintext. Secrets are never printed: the
//! `Debug` of [`KafkaSecurity`] and [`Secret`] shows `<redacted>`, errors
//! name variables, never values of secrets.
//!
//! ```
//! # use docflow_core::kafka_env::KafkaSecurity;
//! let env = [("DOCFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"), ("DOCFLOW_KAFKA_SASL_USERNAME", "docflow")];
//! let err = KafkaSecurity::from_lookup(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap_err();
//! assert!(err.to_string().contains("missing secret DOCFLOW_KAFKA_SASL_PASSWORD"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

pub const SECURITY_PROTOCOL: &str = "DOCFLOW_KAFKA_SECURITY_PROTOCOL";
pub const SASL_MECHANISM: &str = "DOCFLOW_KAFKA_SASL_MECHANISM";
pub const SASL_USERNAME: &str = "DOCFLOW_KAFKA_SASL_USERNAME";
pub const SASL_PASSWORD: &str = "DOCFLOW_KAFKA_SASL_PASSWORD";
pub const SASL_PASSWORD_FILE: &str = "DOCFLOW_KAFKA_SASL_PASSWORD_FILE";
pub const TLS_CA_FILE: &str = "DOCFLOW_KAFKA_TLS_CA_FILE";
pub const TLS_CERT_FILE: &str = "DOCFLOW_KAFKA_TLS_CERT_FILE";
pub const TLS_KEY_FILE: &str = "DOCFLOW_KAFKA_TLS_KEY_FILE";

/// Every variable this module reads.
pub const VARIABLES: [&str; 8] = [SECURITY_PROTOCOL, SASL_MECHANISM, SASL_USERNAME, SASL_PASSWORD, SASL_PASSWORD_FILE, TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE];

/// librdkafka properties whose values are secrets (for [`redacted`]).
pub const SECRET_PROPERTIES: [&str; 3] = ["sasl.password", "ssl.key.password", "ssl.keystore.password"];

/// A secret string: readable with [`Secret::expose`], never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for handing to the client library only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    const NAMES: &'static str = "PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL";

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }

    pub const fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    pub const fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Plaintext, Self::Ssl, Self::SaslPlaintext, Self::SaslSsl].into_iter().find(|p| p.as_str().eq_ignore_ascii_case(s))
    }
}

/// `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SaslMechanism {
    #[default]
    ScramSha512,
    ScramSha256,
    Plain,
}

impl SaslMechanism {
    const NAMES: &'static str = "SCRAM-SHA-512, SCRAM-SHA-256, PLAIN";

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ScramSha512 => "SCRAM-SHA-512",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::Plain => "PLAIN",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::ScramSha512, Self::ScramSha256, Self::Plain].into_iter().find(|m| m.as_str().eq_ignore_ascii_case(s))
    }
}

/// SASL user and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslCredentials {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: Secret,
}

/// The security settings of every Kafka client (`Debug` redacts the password).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KafkaSecurity {
    pub protocol: SecurityProtocol,
    /// Set iff the protocol uses SASL.
    pub sasl: Option<SaslCredentials>,
    /// PEM CA bundle; none: librdkafka's default (system) trust store.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate and key (mutual TLS), both or neither.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// A security setting that cannot work; every variant names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KafkaEnvError {
    /// A value outside the allowed set (protocols and mechanisms are not secret).
    #[error("{var}={value:?} is not supported (expected one of {expected})")]
    Unknown { var: &'static str, value: String, expected: &'static str },
    /// A credential the other settings require is absent or empty.
    #[error("missing secret {var}: {why}")]
    MissingSecret { var: &'static str, why: String },
    /// A non-secret setting the other settings require is absent or empty.
    #[error("missing setting {var}: {why}")]
    Missing { var: &'static str, why: String },
    /// A combination refused on purpose (ignored settings, passwords in clear text).
    #[error("{var}: {why}")]
    Refused { var: &'static str, why: String },
    /// A file that cannot be used.
    #[error("{var}={}: {why}", path.display())]
    File { var: &'static str, path: PathBuf, why: String },
}

impl KafkaEnvError {
    /// The variable the error is about.
    pub fn var(&self) -> &'static str {
        match self {
            Self::Unknown { var, .. } | Self::MissingSecret { var, .. } | Self::Missing { var, .. } | Self::Refused { var, .. } | Self::File { var, .. } => var,
        }
    }
}

impl KafkaSecurity {
    /// Reads and checks the `DOCFLOW_KAFKA_*` security variables of this process.
    pub fn from_env() -> Result<Self, KafkaEnvError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`Self::from_env`] over any variable source (tests, config maps).
    /// Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, KafkaEnvError> {
        let get = |k: &str| lookup(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let protocol = match get(SECURITY_PROTOCOL) {
            None => SecurityProtocol::Plaintext,
            Some(v) => SecurityProtocol::parse(&v).ok_or(KafkaEnvError::Unknown { var: SECURITY_PROTOCOL, value: v, expected: SecurityProtocol::NAMES })?,
        };
        let proto = protocol.as_str();

        // SASL.
        let sasl = if protocol.uses_sasl() {
            let mechanism = match get(SASL_MECHANISM) {
                None => SaslMechanism::default(),
                Some(v) => SaslMechanism::parse(&v).ok_or(KafkaEnvError::Unknown { var: SASL_MECHANISM, value: v, expected: SaslMechanism::NAMES })?,
            };
            if mechanism == SaslMechanism::Plain && !protocol.uses_tls() {
                return Err(KafkaEnvError::Refused {
                    var: SASL_MECHANISM,
                    why: format!("PLAIN over {proto} would send the password in clear text; use {SECURITY_PROTOCOL}=SASL_SSL (or SCRAM-SHA-512)"),
                });
            }
            let username = get(SASL_USERNAME).ok_or_else(|| KafkaEnvError::Missing { var: SASL_USERNAME, why: format!("{SECURITY_PROTOCOL}={proto} needs a SASL user") })?;
            let password = match (lookup(SASL_PASSWORD).filter(|v| !v.is_empty()), get(SASL_PASSWORD_FILE)) {
                (Some(_), Some(_)) => {
                    return Err(KafkaEnvError::Refused { var: SASL_PASSWORD_FILE, why: format!("set either {SASL_PASSWORD} or {SASL_PASSWORD_FILE}, not both") })
                }
                (Some(p), None) => p,
                (None, Some(path)) => read_secret_file(SASL_PASSWORD_FILE, Path::new(&path))?,
                (None, None) => {
                    return Err(KafkaEnvError::MissingSecret {
                        var: SASL_PASSWORD,
                        why: format!("{SASL_USERNAME} is set and {SECURITY_PROTOCOL}={proto} needs the password (or {SASL_PASSWORD_FILE})"),
                    })
                }
            };
            Some(SaslCredentials { mechanism, username, password: Secret::new(password) })
        } else {
            for var in [SASL_MECHANISM, SASL_USERNAME, SASL_PASSWORD, SASL_PASSWORD_FILE] {
                if get(var).is_some() {
                    return Err(KafkaEnvError::Refused {
                        var,
                        why: format!("SASL settings are ignored with {SECURITY_PROTOCOL}={proto}; set it to SASL_SSL (or unset {var})"),
                    });
                }
            }
            None
        };

        // TLS.
        let files = [TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE].map(|v| get(v).map(PathBuf::from));
        if !protocol.uses_tls() {
            if let Some(var) = [TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE].into_iter().zip(&files).find_map(|(v, f)| f.as_ref().map(|_| v)) {
                return Err(KafkaEnvError::Refused {
                    var,
                    why: format!("TLS files are ignored with {SECURITY_PROTOCOL}={proto}; set it to SSL or SASL_SSL (or unset {var})"),
                });
            }
        }
        let [ca_file, cert_file, key_file] = files;
        if let Some(ca) = &ca_file {
            check_pem(TLS_CA_FILE, ca, "CERTIFICATE")?;
        }
        let client_cert = match (cert_file, key_file) {
            (None, None) => None,
            (Some(_), None) => return Err(KafkaEnvError::MissingSecret { var: TLS_KEY_FILE, why: format!("{TLS_CERT_FILE} is set; the client certificate needs its key") }),
            (None, Some(_)) => return Err(KafkaEnvError::Missing { var: TLS_CERT_FILE, why: format!("{TLS_KEY_FILE} is set; the key needs its certificate") }),
            (Some(cert), Some(key)) => {
                check_pem(TLS_CERT_FILE, &cert, "CERTIFICATE")?;
                check_pem(TLS_KEY_FILE, &key, "PRIVATE KEY")?;
                Some((cert, key))
            }
        };
        Ok(Self { protocol, sasl, ca_file, client_cert })
    }

    /// True when nothing differs from librdkafka's defaults (plaintext).
    pub fn is_plaintext(&self) -> bool {
        *self == Self::default()
    }

    /// The librdkafka properties to set on every client (empty for plaintext).
    /// The map holds the password: hand it to `ClientConfig::set` only; log
    /// it through [`redacted`].
    pub fn properties(&self) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        if self.is_plaintext() {
            return p;
        }
        p.insert("security.protocol".into(), self.protocol.as_str().to_ascii_lowercase());
        if let Some(s) = &self.sasl {
            p.insert("sasl.mechanism".into(), s.mechanism.as_str().into());
            p.insert("sasl.username".into(), s.username.clone());
            p.insert("sasl.password".into(), s.password.expose().into());
        }
        if let Some(ca) = &self.ca_file {
            p.insert("ssl.ca.location".into(), ca.display().to_string());
        }
        if let Some((cert, key)) = &self.client_cert {
            p.insert("ssl.certificate.location".into(), cert.display().to_string());
            p.insert("ssl.key.location".into(), key.display().to_string());
        }
        p
    }

    /// One line for logs and errors: protocol, mechanism and user, never the password.
    pub fn describe(&self) -> String {
        match &self.sasl {
            Some(s) => format!("{} {} user {:?}", self.protocol.as_str(), s.mechanism.as_str(), s.username),
            None => self.protocol.as_str().to_owned(),
        }
    }
}

/// The one call for code that builds an rdkafka `ClientConfig`:
/// `for (k, v) in kafka_client_properties()? { cfg.set(k, v); }`.
pub fn kafka_client_properties() -> Result<BTreeMap<String, String>, KafkaEnvError> {
    Ok(KafkaSecurity::from_env()?.properties())
}

/// A copy of librdkafka properties with secret values replaced, for logs.
pub fn redacted(props: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    props.iter().map(|(k, v)| (k.clone(), if SECRET_PROPERTIES.contains(&k.as_str()) { "<redacted>".to_owned() } else { v.clone() })).collect()
}

fn read_secret_file(var: &'static str, path: &Path) -> Result<String, KafkaEnvError> {
    let text = std::fs::read_to_string(path).map_err(|e| KafkaEnvError::File { var, path: path.into(), why: format!("cannot read the secret: {e}") })?;
    let secret = text.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        return Err(KafkaEnvError::MissingSecret { var, why: format!("{} is empty", path.display()) });
    }
    Ok(secret.to_owned())
}

/// The file opens and holds a PEM `label` block (`CERTIFICATE`, `PRIVATE
/// KEY`); at most 64 KiB are read and a key file's contents never reach an
/// error message. Shared with the store's TLS settings.
pub fn check_pem(var: &'static str, path: &Path, label: &str) -> Result<(), KafkaEnvError> {
    let err = |why: String| KafkaEnvError::File { var, path: path.into(), why };
    let mut head = Vec::new();
    std::fs::File::open(path).and_then(|f| f.take(64 << 10).read_to_end(&mut head)).map_err(|e| err(format!("unreadable: {e}")))?;
    let text = String::from_utf8_lossy(&head);
    if !text.contains("-----BEGIN ") || !text.lines().any(|l| l.starts_with("-----BEGIN ") && l.contains(label)) {
        return Err(err(format!("not a PEM file with a {label} block")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn sec(vars: &[(&str, &str)]) -> Result<KafkaSecurity, KafkaEnvError> {
        let m: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        KafkaSecurity::from_lookup(|k| m.get(k).cloned())
    }

    fn pem(dir: &Path, name: &str, label: &str) -> String {
        let p = dir.join(name);
        std::fs::write(&p, format!("-----BEGIN {label}-----\nMIIB\n-----END {label}-----\n")).unwrap();
        p.display().to_string()
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("docflow-kafka-env-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn nothing_set_is_plaintext_with_no_properties() {
        let s = sec(&[]).unwrap();
        assert!(s.is_plaintext());
        assert!(s.properties().is_empty());
        assert!(sec(&[(SECURITY_PROTOCOL, "plaintext")]).unwrap().properties().is_empty());
    }

    #[test]
    fn sasl_ssl_with_scram_gives_every_property() {
        let d = tmpdir("full");
        let ca = pem(&d, "ca.crt", "CERTIFICATE");
        let s = sec(&[(SECURITY_PROTOCOL, "SASL_SSL"), (SASL_USERNAME, "docflow"), (SASL_PASSWORD, "s3cret-pw"), (TLS_CA_FILE, &ca)]).unwrap();
        let p = s.properties();
        assert_eq!(p["security.protocol"], "sasl_ssl");
        assert_eq!(p["sasl.mechanism"], "SCRAM-SHA-512");
        assert_eq!(p["sasl.username"], "docflow");
        assert_eq!(p["sasl.password"], "s3cret-pw");
        assert_eq!(p["ssl.ca.location"], ca);
        assert_eq!(redacted(&p)["sasl.password"], "<redacted>");
        assert_eq!(s.describe(), "SASL_SSL SCRAM-SHA-512 user \"docflow\"");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let s = sec(&[(SECURITY_PROTOCOL, "sasl_plaintext"), (SASL_USERNAME, "u"), (SASL_PASSWORD, "hunter2-value")]).unwrap();
        let dbg = format!("{s:?} {:?}", s.sasl);
        assert!(!dbg.contains("hunter2-value"), "{dbg}");
        assert!(dbg.contains("<redacted>"), "{dbg}");
    }

    #[test]
    fn unknown_protocol_and_mechanism_name_the_variable() {
        let e = sec(&[(SECURITY_PROTOCOL, "SASL_TLS")]).unwrap_err();
        assert_eq!(e.var(), SECURITY_PROTOCOL);
        assert!(e.to_string().contains("DOCFLOW_KAFKA_SECURITY_PROTOCOL=\"SASL_TLS\" is not supported"), "{e}");
        let e = sec(&[(SECURITY_PROTOCOL, "SASL_SSL"), (SASL_MECHANISM, "GSSAPI"), (SASL_USERNAME, "u"), (SASL_PASSWORD, "p")]).unwrap_err();
        assert_eq!(e.var(), SASL_MECHANISM);
    }

    #[test]
    fn plain_without_tls_is_refused() {
        let e = sec(&[(SECURITY_PROTOCOL, "SASL_PLAINTEXT"), (SASL_MECHANISM, "PLAIN"), (SASL_USERNAME, "u"), (SASL_PASSWORD, "pw-not-shown")]).unwrap_err();
        assert!(matches!(e, KafkaEnvError::Refused { var: SASL_MECHANISM, .. }), "{e}");
        assert!(e.to_string().contains("clear text") && !e.to_string().contains("pw-not-shown"), "{e}");
        // PLAIN over TLS is fine.
        let s = sec(&[(SECURITY_PROTOCOL, "SASL_SSL"), (SASL_MECHANISM, "plain"), (SASL_USERNAME, "u"), (SASL_PASSWORD, "p")]).unwrap();
        assert_eq!(s.properties()["sasl.mechanism"], "PLAIN");
    }

    #[test]
    fn username_without_password_is_a_missing_secret() {
        let e = sec(&[(SECURITY_PROTOCOL, "SASL_SSL"), (SASL_USERNAME, "docflow")]).unwrap_err();
        assert!(matches!(e, KafkaEnvError::MissingSecret { var: SASL_PASSWORD, .. }));
        assert!(e.to_string().starts_with("missing secret DOCFLOW_KAFKA_SASL_PASSWORD"), "{e}");
        let e = sec(&[(SECURITY_PROTOCOL, "SASL_SSL"), (SASL_PASSWORD, "p")]).unwrap_err();
        assert_eq!(e.var(), SASL_USERNAME);
    }

    #[test]
    fn password_from_a_file_and_conflicts() {
        let d = tmpdir("pwfile");
        let f = d.join("password");
        std::fs::write(&f, "from-file\n").unwrap();
        let f = f.display().to_string();
        let s = sec(&[(SECURITY_PROTOCOL, "SASL_PLAINTEXT"), (SASL_USERNAME, "u"), (SASL_PASSWORD_FILE, &f)]).unwrap();
        assert_eq!(s.properties()["sasl.password"], "from-file");
        let e = sec(&[(SECURITY_PROTOCOL, "SASL_PLAINTEXT"), (SASL_USERNAME, "u"), (SASL_PASSWORD_FILE, &f), (SASL_PASSWORD, "x")]).unwrap_err();
        assert_eq!(e.var(), SASL_PASSWORD_FILE);
        let e = sec(&[(SECURITY_PROTOCOL, "SASL_PLAINTEXT"), (SASL_USERNAME, "u"), (SASL_PASSWORD_FILE, "/nonexistent/pw")]).unwrap_err();
        assert!(matches!(e, KafkaEnvError::File { var: SASL_PASSWORD_FILE, .. }), "{e}");
    }

    #[test]
    fn settings_the_protocol_would_ignore_are_refused() {
        let e = sec(&[(SASL_USERNAME, "u"), (SASL_PASSWORD, "p")]).unwrap_err();
        assert_eq!(e.var(), SASL_USERNAME);
        assert!(e.to_string().contains("ignored with DOCFLOW_KAFKA_SECURITY_PROTOCOL=PLAINTEXT"), "{e}");
        let e = sec(&[(SECURITY_PROTOCOL, "SASL_PLAINTEXT"), (SASL_USERNAME, "u"), (SASL_PASSWORD, "p"), (TLS_CA_FILE, "/x.crt")]).unwrap_err();
        assert_eq!(e.var(), TLS_CA_FILE);
    }

    #[test]
    fn ca_file_must_be_readable_pem() {
        let e = sec(&[(SECURITY_PROTOCOL, "SSL"), (TLS_CA_FILE, "/nonexistent/ca.crt")]).unwrap_err();
        assert!(matches!(&e, KafkaEnvError::File { var: TLS_CA_FILE, .. }), "{e}");
        assert!(e.to_string().contains("DOCFLOW_KAFKA_TLS_CA_FILE=/nonexistent/ca.crt: unreadable"), "{e}");
        let d = tmpdir("notpem");
        let junk = d.join("junk.crt");
        std::fs::write(&junk, "hello").unwrap();
        let e = sec(&[(SECURITY_PROTOCOL, "SSL"), (TLS_CA_FILE, &junk.display().to_string())]).unwrap_err();
        assert!(e.to_string().contains("not a PEM file"), "{e}");
    }

    #[test]
    fn client_certificate_needs_its_key() {
        let d = tmpdir("mtls");
        let cert = pem(&d, "c.crt", "CERTIFICATE");
        let key = pem(&d, "c.key", "PRIVATE KEY");
        let e = sec(&[(SECURITY_PROTOCOL, "SSL"), (TLS_CERT_FILE, &cert)]).unwrap_err();
        assert!(matches!(e, KafkaEnvError::MissingSecret { var: TLS_KEY_FILE, .. }), "{e}");
        let s = sec(&[(SECURITY_PROTOCOL, "SSL"), (TLS_CERT_FILE, &cert), (TLS_KEY_FILE, &key)]).unwrap();
        assert_eq!(s.properties()["ssl.key.location"], key);
        assert_eq!(s.properties()["security.protocol"], "ssl");
    }
}
