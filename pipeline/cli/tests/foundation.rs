//! Foundation checks against the real local Kafka: topics as code and the
//! codec round trip, through the `docflow` binary exactly as a user runs it.
//! Needs the stack (`deploy/local/stack.sh up`); with DOCFLOW_SKIP_INTEGRATION=1
//! and no broker, the tests say so and skip.

use std::process::Command;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;

fn brokers() -> String {
    std::env::var("DOCFLOW_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_string())
}

fn docflow(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_docflow")).args(args).env("DOCFLOW_KAFKA_BROKERS", brokers()).output().unwrap()
}

#[test]
fn topics_apply_creates_configured_partitions_then_reports_no_drift() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let run = format!("{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    let file = std::env::temp_dir().join(format!("docflow-topics-{run}.toml"));
    std::fs::write(
        &file,
        format!(
            "[defaults]\npartitions = 3\nreplication_factor = 3\nmin_insync_replicas = 2\ncompression = 'lz4'\nretention_ms = 3600000\ncleanup_policy = 'delete'\n\
             [[topic]]\nname = 't{run}.a'\n[[topic]]\nname = 't{run}.b'\npartitions = 5\ncleanup_policy = 'compact'\nretention_ms = -1\n"
        ),
    )
    .unwrap();
    let path = file.to_str().unwrap();

    let first = docflow(&["topics", "apply", "--file", path]);
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{out}\n{}", String::from_utf8_lossy(&first.stderr));
    assert!(out.contains("2 created, 0 unchanged, 0 drifted"), "{out}");

    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", brokers()).create().unwrap();
    let md = consumer.fetch_metadata(None, Duration::from_secs(10)).unwrap();
    let partitions = |name: &str| md.topics().iter().find(|t| t.name() == name).map(|t| t.partitions().len());
    assert_eq!(partitions(&format!("t{run}.a")), Some(3));
    assert_eq!(partitions(&format!("t{run}.b")), Some(5));

    let second = docflow(&["topics", "apply", "--file", path, "--strict"]);
    let out = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success(), "{out}");
    assert!(out.contains("0 created, 2 unchanged, 0 drifted"), "{out}");
    let first_configs = std::fs::read_to_string(&file).unwrap();

    // Config drift is reported, and set to the file's with --alter-configs.
    std::fs::write(&file, first_configs.replace(&format!("name = 't{run}.a'\n"), &format!("name = 't{run}.a'\nmax_message_bytes = 2097152\n"))).unwrap();
    let drift = docflow(&["topics", "apply", "--file", path]);
    let out = String::from_utf8_lossy(&drift.stdout);
    assert!(out.contains("DRIFT") && out.contains("max.message.bytes=17825792 (file: 2097152)"), "{out}");
    let fix = docflow(&["topics", "apply", "--file", path, "--alter-configs"]);
    let out = String::from_utf8_lossy(&fix.stdout);
    assert!(fix.status.success() && out.contains("1 altered"), "{out}\n{}", String::from_utf8_lossy(&fix.stderr));
    let again = docflow(&["topics", "apply", "--file", path, "--strict"]);
    let out = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success() && out.contains("0 drifted"), "{out}");
    std::fs::write(&file, first_configs).unwrap();

    // Drift: the file now asks for more partitions than the topic has.
    std::fs::write(&file, std::fs::read_to_string(&file).unwrap().replace("partitions = 5", "partitions = 7")).unwrap();
    let drift = docflow(&["topics", "apply", "--file", path, "--strict"]);
    let out = String::from_utf8_lossy(&drift.stdout);
    assert!(!drift.status.success(), "--strict must fail on drift: {out}");
    assert!(out.contains("DRIFT") && out.contains("partitions 5 < 7"), "{out}");
}

#[test]
fn documents_published_with_the_codec_read_back_equal() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let apply = docflow(&["topics", "apply"]);
    assert!(apply.status.success(), "{}", String::from_utf8_lossy(&apply.stderr));
    let demo = docflow(&["demo", "--docs", "9", "--lane", "low"]);
    let out = String::from_utf8_lossy(&demo.stdout);
    assert!(demo.status.success(), "{out}\n{}", String::from_utf8_lossy(&demo.stderr));
    assert!(out.contains("read back 9/9 documents, all equal"), "{out}");
}

#[test]
fn help_lists_the_subcommands() {
    let out = Command::new(env!("CARGO_BIN_EXE_docflow")).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["topics", "model", "demo"] {
        assert!(text.contains(cmd), "--help lacks {cmd}: {text}");
    }
}
