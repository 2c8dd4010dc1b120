//! Shared helpers of the runtime's integration tests: stage processes
//! (`docflow-runtime-testproc`) that can be SIGTERMed or `kill -9`ed, and
//! checks over what a topic holds.

#![allow(dead_code)]

use docflow_runtime::passthrough::TestDoc;
use docflow_testkit::kafka::{self, Consumed};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running stage process; killed on drop.
pub struct StageProc {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl StageProc {
    /// Start `docflow-runtime-testproc` with the given args (plus brokers).
    pub fn spawn(name: &str, args: &[String]) -> StageProc {
        Self::spawn_with_env(name, args, &[])
    }

    /// [`spawn`](Self::spawn) with extra environment variables.
    pub fn spawn_with_env(name: &str, args: &[String], env: &[(&str, &str)]) -> StageProc {
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.log", kafka::unique(name)));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_docflow-runtime-testproc"))
            .args(["--brokers", &kafka::brokers(), "--name", name])
            .args(args)
            .env("RUST_LOG", "info,librdkafka=warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn testproc");
        StageProc { name: name.to_owned(), child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no drain, no commit, no goodbye.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for the clean drain; returns the exit status.
    pub fn stop(&mut self, timeout: Duration) -> ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                self.kill9();
                panic!("{} did not stop within {timeout:?}; log tail:\n{}", self.name, self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Lines of the log (ANSI colours removed) that contain every needle.
    pub fn log_lines(&self, needles: &[&str]) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().map(strip_ansi).filter(|l| needles.iter().all(|n| l.contains(n))).collect()
    }

    /// Wait until the log holds more than `already` lines with every needle;
    /// how long that took, or `None` after `timeout`.
    pub fn wait_log(&self, needles: &[&str], already: usize, timeout: Duration) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if self.log_lines(needles).len() > already {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for StageProc {
    fn drop(&mut self) {
        if self.is_running() {
            self.kill9();
        }
    }
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Decode a consumed TestDoc.
pub fn doc(c: &Consumed) -> TestDoc {
    let codec = docflow_schemas::codec_from_headers(c.headers.iter().map(|(k, v)| (k.as_str(), Some(v.as_slice())))).expect("codec header");
    docflow_schemas::decode(c.payload.as_deref().expect("payload"), codec, &docflow_schemas::Limits::DEFAULT).expect("decodable output")
}

/// Count of each id in `records`.
pub fn id_counts(records: &[Consumed]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in records {
        *m.entry(String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned()).or_insert(0) += 1;
    }
    m
}

/// Read `topic` until it holds `expected` distinct keys (or timeout).
pub fn read_until_ids(topic: &str, expected: usize, timeout: Duration) -> Vec<Consumed> {
    let mut seen = std::collections::HashSet::new();
    let mut scanned = 0;
    kafka::read_topic(&kafka::brokers(), topic, timeout, |recs| {
        for r in &recs[scanned..] {
            seen.insert(r.key.clone());
        }
        scanned = recs.len();
        seen.len() >= expected
    })
    .expect("read topic")
}

/// Wait until `group` has no lag on `topic` (committed = high watermark).
pub fn wait_lag_zero(group: &str, topic: &str, timeout: Duration) -> u64 {
    let deadline = Instant::now() + timeout;
    loop {
        let lag = docflow_runtime::lag::group_lag(&kafka::brokers(), group, topic, Duration::from_secs(5)).map(|l| l.total()).unwrap_or(u64::MAX);
        if lag == 0 || Instant::now() > deadline {
            return lag;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Records of `topic` a `read_committed` consumer of `group` would still
/// get (read for `window` from the group's committed offsets). Unlike the
/// lag, 0 when the group consumed everything even if the topic was written
/// in transactions: the marker that ends a transaction takes an offset that
/// no consumer receives, so nothing commits past the last one.
pub fn unconsumed(group: &str, topic: &str, window: Duration) -> usize {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};
    let brokers = kafka::brokers();
    let lag = docflow_runtime::lag::group_lag(&brokers, group, topic, Duration::from_secs(5)).expect("committed offsets");
    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", kafka::unique("unconsumed"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("reader");
    let mut tpl = TopicPartitionList::new();
    for p in &lag.partitions {
        let at = p.committed.map_or(Offset::Beginning, Offset::Offset);
        tpl.add_partition_offset(topic, p.partition, at).expect("valid offset");
    }
    reader.assign(&tpl).expect("assign");
    let deadline = Instant::now() + window;
    let mut left = 0;
    while Instant::now() < deadline {
        if let Some(Ok(_)) = reader.poll(Duration::from_millis(100)) {
            left += 1;
        }
    }
    left
}

/// Publish `docs` test documents (200-byte bodies) to `topic` at `per_sec`
/// from a thread of its own; join it to wait for the last acknowledgement.
pub fn publish_steadily(brokers: String, topic: String, docs: u64, per_sec: u64) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let p = kafka::producer(&brokers).unwrap();
        let start = Instant::now();
        for seq in 0..docs {
            kafka::send_doc(&p, &topic, &kafka::test_doc(seq, 200)).unwrap();
            let due = Duration::from_micros(seq * 1_000_000 / per_sec);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        kafka::flush(&p).unwrap();
    })
}

/// TOML for `--config` with a short session timeout (fast failover in tests).
pub fn fast_failover(extra: &str) -> String {
    format!("{extra}\n[kafka]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"1000\"\n")
}

pub fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}
