//! Shared by the tests that run the real `docflow stage parse` on topics of
//! their own (a unique prefix before every name).

#![allow(dead_code)]

use docflow_testkit::kafka;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Creates `<prefix>.docs.raw.{critical,high,normal,low}` (`raw_partitions`
/// each), `<prefix>.docs.parsed`, `<prefix>.docs.dlq` and the model
/// versions the stage follows (`<prefix>.model.updates`); returns parsed and dlq.
pub fn create_parse_topics(prefix: &str, raw_partitions: i32) -> (String, String) {
    let raw: Vec<String> = ["critical", "high", "normal", "low"].iter().map(|l| format!("{prefix}.docs.raw.{l}")).collect();
    let (parsed, dlq, updates) = (format!("{prefix}.docs.parsed"), format!("{prefix}.docs.dlq"), format!("{prefix}.model.updates"));
    let mut topics: Vec<(&str, i32)> = raw.iter().map(|t| (t.as_str(), raw_partitions)).collect();
    topics.push((&parsed, 1));
    topics.push((&dlq, 1));
    topics.push((&updates, 1));
    tokio::runtime::Runtime::new().unwrap().block_on(kafka::create_topics(&kafka::brokers(), &topics)).unwrap();
    (parsed, dlq)
}

/// `docflow stage parse` on the prefixed topics (memory store, no metrics
/// endpoint), with `config` when given; its log goes to `log` (else nowhere).
pub fn spawn_parse_stage(prefix: &str, config: Option<&Path>, log: Option<&Path>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_docflow"));
    cmd.args(["stage", "parse", "--store", "memory", "--topic-prefix", prefix]);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
        None => Stdio::null(),
    };
    cmd.env("DOCFLOW_KAFKA_BROKERS", kafka::brokers())
        .env("RUST_LOG", "info,librdkafka=warn")
        .env_remove("DOCFLOW_METRICS_ADDR")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn docflow stage parse")
}
