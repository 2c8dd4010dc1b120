//! A misspelled config key and a missing secret stop `docflow` at start,
//! with a message naming them, and no secret is echoed.
//!
//! Two layers:
//! - in process: `PipelineOverrides::resolve_from`, the function `docflow stage`
//!   and `docflow run` call first (always runs);
//! - the real `docflow` binary (`docflow stage parse`, `docflow run`), as a
//!   user or a pod runs it. `CARGO_BIN_EXE_docflow` only exists inside the
//!   `docflow` crate, so the binary is found beside this test executable
//!   (`<target>/debug/deps/config_errors-*` → `<target>/debug/docflow`), or
//!   at `DOCFLOW_BIN`. The test command builds it first (`cargo build
//!   --workspace --all-targets`); when it is missing the test fails and says
//!   how to build it.

use docflow_stages::start::PipelineOverrides;
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn write_config(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("docflow-config-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn resolve(config: Option<PathBuf>, env: &[(&str, &str)]) -> anyhow::Result<docflow_stages::PipelineConfig> {
    let env: HashMap<&str, &str> = env.iter().copied().collect();
    // Through anyhow, as the `docflow` binary reports it: `{:#}` is the
    // whole chain (file, table, key).
    Ok(PipelineOverrides { config, ..Default::default() }.resolve_from(|k| env.get(k).map(|v| v.to_string()))?)
}

const SASL_NO_PASSWORD: [(&str, &str); 2] = [("DOCFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"), ("DOCFLOW_KAFKA_SASL_USERNAME", "docflow")];

#[test]
fn in_process_misspelled_keys_are_named_with_file_and_line() {
    for (text, key, place) in [
        ("brokers = \"k:1\"\nbrokerz = \"k:2\"\n", "brokerz", "line 2"),
        ("[infer]\ndevic = \"cpu\"\n", "devic", "line 2"),
        ("[stage.parse]\nbatchsize = 1\n", "batchsize", "[stage.parse]"),
        ("[store]\npasword = \"hunter2-in-file\"\n", "pasword", "line 2"),
    ] {
        let path = write_config(&format!("{key}.toml"), text);
        let e = format!("{:#}", resolve(Some(path.clone()), &[]).unwrap_err());
        assert!(e.contains(&format!("unknown field `{key}`")), "{e}");
        assert!(e.contains(&path.display().to_string()) && e.contains(place), "{e}");
        assert!(!e.contains("hunter2-in-file"), "the value is echoed: {e}");
    }
}

#[test]
fn in_process_missing_secrets_are_named() {
    let e = resolve(None, &SASL_NO_PASSWORD).unwrap_err().to_string();
    assert!(e.contains("missing secret DOCFLOW_KAFKA_SASL_PASSWORD"), "{e}");
    let e = resolve(None, &[("DOCFLOW_SCYLLA_USER", "docflow")]).unwrap_err().to_string();
    assert!(e.contains("missing secret DOCFLOW_SCYLLA_PASSWORD"), "{e}");
    // The memory store needs no database secret.
    let path = write_config("memory.toml", "store_backend = \"memory\"\n");
    resolve(Some(path), &[("DOCFLOW_SCYLLA_USER", "docflow")]).unwrap();
}

/// The built `docflow` binary.
fn docflow_bin() -> PathBuf {
    if let Ok(p) = std::env::var("DOCFLOW_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).expect("<target>/<profile>/deps");
    let bin = dir.join("docflow");
    assert!(bin.is_file(), "the docflow binary is not built at {} (cargo build -p docflow, or set DOCFLOW_BIN)", bin.display());
    bin
}

/// Runs `docflow <args>` with only `env` as docflow settings (inherited
/// `DOCFLOW_*` removed); kills it after 30 s. Returns (success, stderr, time).
fn docflow(args: &[&str], env: &[(&str, &str)]) -> (bool, String, Duration) {
    let mut cmd = Command::new(docflow_bin());
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("DOCFLOW_") || k.starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    // Nothing may be reached: a start that got past the checks would hang
    // on this address instead of passing.
    cmd.env("DOCFLOW_KAFKA_BROKERS", "127.0.0.1:1").env("DOCFLOW_SCYLLA_NODES", "127.0.0.1:1");
    cmd.envs(env.iter().copied());
    let t0 = Instant::now();
    let mut child = cmd.spawn().expect("spawn docflow");
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("docflow {args:?} did not stop at start within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status.success(), err, t0.elapsed())
}

#[test]
fn the_binary_stops_on_a_misspelled_key_naming_it() {
    let path = write_config("bin-brokerz.toml", "brokerz = \"kafka:9092\"\n");
    let p = path.display().to_string();
    for args in [vec!["stage", "parse", "--config", &p], vec!["run", "--config", &p]] {
        let (ok, err, took) = docflow(&args, &[]);
        println!("docflow {args:?} ({took:.1?}): {}", err.trim());
        assert!(!ok, "{args:?} started");
        assert!(err.contains("unknown field `brokerz`") && err.contains(&p), "{err}");
    }
    let path = write_config("bin-nested.toml", "[stage.persist]\nmax_in_fligth = 5\n");
    let (ok, err, _) = docflow(&["stage", "persist", "--config", &path.display().to_string()], &[]);
    assert!(!ok && err.contains("max_in_fligth") && err.contains("[stage.persist]"), "{err}");
}

#[test]
fn the_binary_stops_on_a_missing_secret_naming_it() {
    let (ok, err, took) = docflow(&["stage", "parse"], &SASL_NO_PASSWORD);
    println!("docflow stage parse ({took:.1?}): {}", err.trim());
    assert!(!ok && err.contains("missing secret DOCFLOW_KAFKA_SASL_PASSWORD"), "{err}");
    let (ok, err, _) = docflow(&["run"], &[("DOCFLOW_SCYLLA_USER", "docflow")]);
    assert!(!ok && err.contains("missing secret DOCFLOW_SCYLLA_PASSWORD"), "{err}");
}

#[test]
fn the_binary_never_echoes_a_secret() {
    // PLAIN without TLS is refused; the error must not show the password.
    let (ok, err, _) = docflow(
        &["stage", "parse"],
        &[
            ("DOCFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
            ("DOCFLOW_KAFKA_SASL_MECHANISM", "PLAIN"),
            ("DOCFLOW_KAFKA_SASL_USERNAME", "docflow"),
            ("DOCFLOW_KAFKA_SASL_PASSWORD", "hunter2-from-env"),
        ],
    );
    assert!(!ok && err.contains("DOCFLOW_KAFKA_SASL_MECHANISM") && err.contains("clear text"), "{err}");
    assert!(!err.contains("hunter2-from-env"), "{err}");
    // A misspelled key whose value is a secret: named, value not shown.
    let path = write_config("bin-secret.toml", "[store]\nusername = \"docflow\"\npasword = \"hunter2-from-file\"\n");
    let (ok, err, _) = docflow(&["stage", "persist", "--config", &path.display().to_string()], &[]);
    assert!(!ok && err.contains("pasword"), "{err}");
    assert!(!err.contains("hunter2-from-file"), "{err}");
}
