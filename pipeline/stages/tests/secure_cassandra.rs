//! The store against a Cassandra with PasswordAuthenticator and CQL over
//! TLS only (`deploy/local/secure-kafka.sh up cassandra`), configured the
//! way a deployment is: `DOCFLOW_SCYLLA_USER`, `DOCFLOW_SCYLLA_PASSWORD_FILE`,
//! `DOCFLOW_SCYLLA_TLS_CA_FILE` through `PipelineOverrides::resolve_from`, the
//! store opened by `docflow_stages::all::open_store` (what `persist` uses).
//!
//! - the right credentials over TLS: a scored document is persisted and read back;
//! - a wrong password fails within seconds, naming authentication, and the
//!   password is not in the message;
//! - a client without TLS is refused.
//!
//! Nodes: env `DOCFLOW_SECURE_SCYLLA_NODES` (default 127.0.0.1:19042); CA and
//! password under `DOCFLOW_SECURE_KAFKA_DIR` (default
//! `<DOCFLOW_STATE_DIR or repo/.state>/secure-kafka`). The `docflow` role is
//! created here through the bootstrap superuser on first use. Unreachable:
//! the tests fail unless `DOCFLOW_SKIP_INTEGRATION=1`.

use docflow_stages::start::PipelineOverrides;
use docflow_stages::config::StoreBackend;
use docflow_store::bench::synthetic_scored;
use docflow_store::{apply_schema, connect_session, DocumentStore, Replication, StoreConfig, TlsConfig};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

struct Secure {
    nodes: String,
    ca: PathBuf,
    password_file: PathBuf,
}

impl Secure {
    fn require() -> Option<Self> {
        let nodes = std::env::var("DOCFLOW_SECURE_SCYLLA_NODES").unwrap_or_else(|_| "127.0.0.1:19042".into());
        let dir = std::env::var("DOCFLOW_SECURE_KAFKA_DIR").map(PathBuf::from).unwrap_or_else(|_| {
            let state = std::env::var("DOCFLOW_STATE_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.state"));
            state.join("secure-kafka")
        });
        let s = Self { nodes: nodes.clone(), ca: dir.join("tls/ca.crt"), password_file: dir.join("secrets/cassandra-docflow.password") };
        // Up, and its TLS and password files written by secure-kafka.sh.
        let probe = docflow_testkit::tcp_probe(&nodes).and_then(|()| {
            if s.ca.is_file() && s.password_file.is_file() {
                Ok(())
            } else {
                Err(format!("it answers at {nodes} but {} or {} is missing", s.ca.display(), s.password_file.display()))
            }
        });
        docflow_testkit::up_or_skip(&docflow_testkit::SECURE_CASSANDRA, probe).then_some(s)
    }

    fn password(&self) -> String {
        std::fs::read_to_string(&self.password_file).unwrap().trim().to_owned()
    }

    fn tls(&self) -> Option<TlsConfig> {
        Some(TlsConfig { ca_file: Some(self.ca.clone()), cert_file: None, key_file: None })
    }

    /// Creates (or re-keys) the `docflow` role through the bootstrap superuser.
    async fn ensure_role(&self) {
        let admin = StoreConfig {
            nodes: vec![self.nodes.clone()],
            username: Some("cassandra".into()),
            password: Some("cassandra".into()),
            tls: self.tls(),
            connect_timeout_ms: 15_000,
            request_timeout_ms: 20_000,
            ..Default::default()
        };
        let s = connect_session(&admin).await.expect("bootstrap superuser over TLS");
        let pw = self.password();
        s.query_unpaged(format!("CREATE ROLE IF NOT EXISTS docflow WITH PASSWORD = '{pw}' AND LOGIN = true AND SUPERUSER = true"), ()).await.expect("create role");
        s.query_unpaged(format!("ALTER ROLE docflow WITH PASSWORD = '{pw}'"), ()).await.expect("alter role");
    }

    /// `docflow stage persist` settings: the file names nodes and keyspace,
    /// the environment gives the user, the password file and the CA.
    fn pipeline(&self, keyspace: &str, env: &HashMap<String, String>) -> Result<docflow_stages::PipelineConfig, docflow_stages::config::ConfigError> {
        let file = std::env::temp_dir().join(format!("docflow-secure-store-{keyspace}.toml"));
        std::fs::write(&file, format!("store_backend = \"cassandra\"\n[store]\nnodes = [\"{}\"]\nkeyspace = \"{keyspace}\"\nconnect_timeout_ms = 10000\n", self.nodes)).unwrap();
        PipelineOverrides { config: Some(file), store: Some(StoreBackend::Cassandra), ..Default::default() }.resolve_from(|k| env.get(k).cloned())
    }

    fn env(&self) -> HashMap<String, String> {
        [
            ("DOCFLOW_SCYLLA_USER", "docflow".to_string()),
            ("DOCFLOW_SCYLLA_PASSWORD_FILE", self.password_file.display().to_string()),
            ("DOCFLOW_SCYLLA_TLS_CA_FILE", self.ca.display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

fn keyspace(tag: &str) -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("dfs_sec_{tag}_{}_{}", std::process::id(), t % 1_000_000_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_stored_over_tls_with_password_authentication() {
    let Some(sec) = Secure::require() else { return };
    sec.ensure_role().await;
    let ks = keyspace("ok");
    let cfg = sec.pipeline(&ks, &sec.env()).expect("resolve");
    assert_eq!(cfg.store.username.as_deref(), Some("docflow"));
    assert_eq!(cfg.store.tls.as_ref().and_then(|t| t.ca_file.clone()), Some(sec.ca.clone()));

    let session = connect_session(&cfg.store).await.expect("docflow over TLS");
    apply_schema(&session, &ks, &Replication::local()).await.expect("schema");
    let store = docflow_stages::all::open_store(&cfg).await.expect("open store");
    let doc = synthetic_scored("secure", 1);
    store.persist(&doc).await.expect("persist");
    let view = store.get(&doc.embedded.parsed.id).await.expect("get").expect("row");
    assert_eq!(view.document.id, doc.embedded.parsed.id);
    println!("stored over TLS as docflow: {} status {:?}", view.document.id, view.document.status);
    let mut drop = scylla::statement::Statement::new(format!("DROP KEYSPACE IF EXISTS {ks}"));
    drop.set_request_timeout(Some(docflow_store::schema::DDL_TIMEOUT));
    session.query_unpaged(drop, ()).await.expect("drop keyspace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_fast_and_a_plaintext_client_is_refused() {
    let Some(sec) = Secure::require() else { return };
    sec.ensure_role().await;
    let ks = keyspace("bad");
    let mut env = sec.env();
    env.remove("DOCFLOW_SCYLLA_PASSWORD_FILE");
    env.insert("DOCFLOW_SCYLLA_PASSWORD".into(), "not-the-password-9Kd".into());
    let cfg = sec.pipeline(&ks, &env).expect("resolve");
    let t0 = Instant::now();
    let err = match docflow_stages::all::open_store(&cfg).await {
        Ok(_) => panic!("a wrong password opened the store"),
        // With its causes, as the `docflow` binary reports it.
        Err(e) => format!("{:#}", anyhow::Error::from(e)),
    };
    println!("wrong password: {:.1?}: {err}", t0.elapsed());
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    assert!(err.contains("store") && err.contains("19042"), "{err}");
    assert!(err.to_lowercase().contains("authenticat") || err.contains("password"), "{err}");
    assert!(!err.contains("not-the-password-9Kd"), "the password is printed: {err}");

    // Right password, no TLS: the server only speaks TLS.
    let mut plain = cfg.store.clone();
    plain.password = Some(sec.password());
    plain.tls = None;
    plain.connect_timeout_ms = 5_000;
    let t0 = Instant::now();
    let e = connect_session(&plain).await.expect_err("a plaintext client connected");
    println!("no TLS: {:.1?}: {e}", t0.elapsed());
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
}
