//! The infer stage passes the runtime's delivery test: `docflow stage infer`
//! (the real binary, the tiny model on the CPU encoder) is `kill -9`ed three
//! times at random moments while parsed documents stream in. Every document
//! must come out of `docs.embedded` with a unit-length embedding; replays
//! (duplicates) are counted and printed, never losses.
//!
//! Needs Kafka (`deploy/local/stack.sh up`); with DOCFLOW_SKIP_INTEGRATION=1
//! and no broker it says so and skips.

use docflow_testkit::kafka;
use docflow_schemas::{decode, encode, BusinessFields, Codec, EmbeddedDocument, Limits, ParsedDocument, HEADER_CODEC, HEADER_SCHEMA};
use rand::Rng;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DOCS: usize = 10_000;
const PER_SECOND: u64 = 1_000;

/// One `docflow stage infer` process; killed on drop.
struct InferProc {
    child: Child,
    log: PathBuf,
}

impl InferProc {
    fn spawn(config: &Path, model: &Path, prefix: &str) -> InferProc {
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.log", kafka::unique("infer")));
        let child = Command::new(env!("CARGO_BIN_EXE_docflow"))
            .args(["stage", "infer", "--device", "cpu", "--store", "memory", "--topic-prefix", prefix])
            .arg("--config")
            .arg(config)
            .arg("--model")
            .arg(model)
            .env("DOCFLOW_KAFKA_BROKERS", kafka::brokers())
            .env("RUST_LOG", "info,librdkafka=warn")
            .env_remove("DOCFLOW_METRICS_ADDR")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn docflow stage infer");
        InferProc { child, log }
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for InferProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn parsed(seq: usize) -> ParsedDocument {
    ParsedDocument {
        id: format!("ik-{seq:06}"),
        content_type: "text/plain".into(),
        text: format!("invoice {seq} from vendor {} total {} eur due in thirty days", seq % 37, seq * 7 % 1000),
        fields: BusinessFields::default(),
        warnings: Vec::new(),
        created_at_ms: 0,
        priority: docflow_schemas::Priority::Normal,
        locale: None,
    }
}

/// Records in `topic` (sum of its partitions' high watermarks).
fn produced(brokers: &str, topic: &str) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = rdkafka::ClientConfig::new().set("bootstrap.servers", brokers).create().expect("client");
    (0..4).filter_map(|p| c.fetch_watermarks(topic, p, Duration::from_secs(5)).ok()).map(|(_, high)| high).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infer_stage_killed_three_times_loses_nothing() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let brokers = kafka::brokers();
    let prefix = kafka::unique("ik");
    let (input, output, dlq) = (format!("{prefix}.docs.parsed"), format!("{prefix}.docs.embedded"), format!("{prefix}.docs.dlq"));
    kafka::create_topics(&brokers, &[(&input, 4), (&output, 4), (&dlq, 1)]).await.unwrap();

    let model = docflow_model::tiny::TinyModelDir::new(&docflow_model::tiny::TinySpec::default()).expect("tiny model");
    // Fast failover, and no backpressure: no score stage consumes the output here.
    let config = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{prefix}.toml"));
    std::fs::write(
        &config,
        "[stage.infer]\nbatch_size = 200\ndrain_timeout_ms = 3000\n\
         [stage.infer.backpressure]\nhigh_water = 100000000\nlow_water = 10000000\n\
         [stage.infer.kafka]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"1000\"\n",
    )
    .unwrap();

    let mut stage = InferProc::spawn(&config, model.path(), &prefix);
    let publisher = {
        let (brokers, input) = (brokers.clone(), input.clone());
        std::thread::spawn(move || {
            let p = kafka::producer(&brokers).unwrap();
            let schema = docflow_schemas::schema_header_value();
            let start = Instant::now();
            for seq in 0..DOCS {
                let doc = parsed(seq);
                let enc = encode(&doc, &Limits::DEFAULT).unwrap();
                let headers = [(HEADER_CODEC, enc.codec.header_value().as_bytes()), (HEADER_SCHEMA, schema.as_bytes())];
                kafka::send_raw(&p, &input, doc.id.as_bytes(), &enc.bytes, &headers).unwrap();
                let due = Duration::from_micros(seq as u64 * 1_000_000 / PER_SECOND);
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            kafka::flush(&p).unwrap();
        })
    };

    let mut rng = rand::rng();
    for round in 1..=3 {
        // Kill only a process that has been producing (model loaded, batches
        // in flight): wait for fresh output first, then a random moment more.
        let before = produced(&brokers, &output);
        let deadline = Instant::now() + Duration::from_secs(60);
        while produced(&brokers, &output) < before + 300 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..800))).await;
        assert!(stage.is_running(), "infer stage died on its own:\n{}", stage.log_tail());
        println!("kill -9 of the infer stage, round {round}, {} records out so far", produced(&brokers, &output));
        stage.kill9();
        stage = InferProc::spawn(&config, model.path(), &prefix);
    }
    publisher.join().unwrap();

    let mut distinct = HashMap::new();
    let mut scanned = 0;
    let records = kafka::read_topic(&brokers, &output, Duration::from_secs(180), |recs| {
        for r in &recs[scanned..] {
            *distinct.entry(r.key.clone()).or_insert(0usize) += 1;
        }
        scanned = recs.len();
        distinct.len() >= DOCS
    })
    .unwrap();
    let missing: Vec<String> = (0..DOCS).map(|s| parsed(s).id).filter(|id| !distinct.contains_key(&Some(id.as_bytes().to_vec()))).collect();
    println!("infer kill -9: {DOCS} documents, {} records out, {} distinct, {} duplicates from replays", records.len(), distinct.len(), records.len() - distinct.len());
    assert!(missing.is_empty(), "{} ids lost, e.g. {:?}\nlog tail:\n{}", missing.len(), &missing[..missing.len().min(5)], stage.log_tail());

    // Outputs are real embeddings of their own input.
    let limits = Limits { max_decoded_bytes: 64 << 20, ..Limits::DEFAULT };
    for r in records.iter().step_by(53) {
        let codec = r.header(HEADER_CODEC).and_then(Codec::from_header).expect("codec header");
        let e: EmbeddedDocument = decode(r.payload.as_deref().unwrap(), codec, &limits).unwrap();
        assert_eq!(r.key.as_deref(), Some(e.parsed.id.as_bytes()));
        let v: Vec<f32> = e.embedding_f32le.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "unit-length embedding, got norm {norm}");
    }
    let dead = kafka::read_topic(&brokers, &dlq, Duration::from_secs(2), |_| false).unwrap();
    assert!(dead.is_empty(), "no dead letters expected, got {}", dead.len());
}
