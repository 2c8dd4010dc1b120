//! The harness's own accounting against the real local Kafka: a tiny in-test
//! "pipeline" forwards raw documents to a results topic, dead-letters every id
//! ending in 7, drops one planted id and forwards another twice. The report
//! must classify every published id, name the planted loss, and count the
//! duplicate. Needs Kafka at DOCFLOW_KAFKA_BROKERS (default 127.0.0.1:9092);
//! fails when unreachable unless DOCFLOW_SKIP_INTEGRATION=1.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use docflow_loadtest::{run_steady, PriorityMix, SteadyOptions, Topics};
use docflow_schemas::{codec_from_headers, decode, encode, BusinessFields, DeadLetter, Limits, RawDocument, ResultRecord};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

fn brokers() -> String {
    std::env::var("DOCFLOW_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

async fn create_topics(brokers: &str, names: &[&str]) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers).create().expect("admin client");
    let topics: Vec<NewTopic> = names.iter().map(|n| NewTopic::new(n, 3, TopicReplication::Fixed(1))).collect();
    for r in admin.create_topics(&topics, &AdminOptions::new()).await.expect("create topics") {
        r.expect("topic created");
    }
}

async fn delete_topics(brokers: &str, names: &[&str]) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers).create().expect("admin client");
    let _ = admin.delete_topics(names, &AdminOptions::new()).await;
}

/// What the fake pipeline does with each id.
struct Rules {
    dlq_suffix: char,
    drop_id: String,
    twice_id: String,
    /// Capacity of the fake pipeline, documents per second (`None`: as fast as it can).
    max_rate: Option<f64>,
    /// Set once the consumer has its partitions (so the first step is not
    /// charged with the group join).
    ready: Arc<AtomicBool>,
}

/// Consumes `raw` from the beginning and forwards per `rules` until `stop`.
fn fake_pipeline(brokers: String, raw: String, results: String, dlq: String, rules: Rules, stop: Arc<AtomicBool>) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("{raw}-fake-pipeline"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&raw]).expect("subscribe");
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", &brokers).set("linger.ms", "1").create().expect("producer");
    let limits = Limits::default();
    while !stop.load(Ordering::Relaxed) {
        if !rules.ready.load(Ordering::Relaxed) && consumer.assignment().is_ok_and(|a| a.count() > 0) {
            rules.ready.store(true, Ordering::Relaxed);
        }
        let Some(m) = consumer.poll(Duration::from_millis(50)) else {
            producer.poll(Duration::ZERO);
            continue;
        };
        let m = m.expect("consume");
        let headers: Vec<(&str, Option<&[u8]>)> =
            m.headers().map(|h| h.iter().map(|h| (h.key, h.value)).collect()).unwrap_or_default();
        let codec = codec_from_headers(headers).expect("codec");
        let doc: RawDocument = decode(m.payload().unwrap_or_default(), codec, &limits).expect("raw document");
        if doc.id == rules.drop_id {
            continue; // the planted loss
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
        let (topic, enc) = if doc.id.ends_with(rules.dlq_suffix) {
            let dl = DeadLetter {
                stage: "fake".into(),
                error_domain: "user_input".into(),
                error_kind: "planted_reject".into(),
                error_message: "id ends in the chosen digit".into(),
                original_topic: m.topic().into(),
                original_partition: m.partition(),
                original_offset: m.offset(),
                original_key: m.key().map(<[u8]>::to_vec),
                original_value: m.payload().unwrap_or_default().to_vec(),
                failed_at_ms: now,
                original_headers: Default::default(),
            };
            (&dlq, encode(&dl, &limits).expect("encode"))
        } else {
            let rec = ResultRecord {
                id: doc.id.clone(),
                class: "invoice".into(),
                class_confidence: 1.0,
                fields: BusinessFields::default(),
                anomaly_score: 0.0,
                anomaly_reasons: vec![],
                status: docflow_schemas::ResultStatus::Ok,
                model_version: 1,
                created_at_ms: doc.created_at_ms,
                persisted_at_ms: now,
            };
            (&results, encode(&rec, &limits).expect("encode"))
        };
        let times = if doc.id == rules.twice_id { 2 } else { 1 };
        for _ in 0..times {
            let mut hs = OwnedHeaders::new();
            for (k, v) in enc.headers() {
                hs = hs.insert(Header { key: k, value: Some(v.as_bytes()) });
            }
            producer
                .send(BaseRecord::to(topic).key(doc.id.as_str()).payload(&enc.bytes).headers(hs))
                .map_err(|(e, _)| e)
                .expect("send");
        }
        producer.poll(Duration::ZERO);
        if let Some(r) = rules.max_rate {
            std::thread::sleep(Duration::from_secs_f64(1.0 / r));
        }
    }
    producer.flush(Duration::from_secs(5)).expect("flush");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_published_id_is_accounted_for_and_the_planted_loss_is_named() {
    let brokers = brokers();
    if !docflow_testkit::require_kafka() {
        return;
    }
    let run = format!("lt-acct-{}-{}", std::process::id(), SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis());
    let (raw, results, dlq) = (format!("{run}.raw"), format!("{run}.results"), format!("{run}.dlq"));
    create_topics(&brokers, &[&raw, &results, &dlq]).await;

    let id_prefix = format!("{run}-doc");
    let drop_id = format!("{id_prefix}-000123");
    let twice_id = format!("{id_prefix}-000050");
    let stop = Arc::new(AtomicBool::new(false));
    let pipeline = {
        let rules = Rules { dlq_suffix: '7', drop_id: drop_id.clone(), twice_id: twice_id.clone(), max_rate: None, ready: Arc::default() };
        let (b, r, res, d, s) = (brokers.clone(), raw.clone(), results.clone(), dlq.clone(), stop.clone());
        std::thread::spawn(move || fake_pipeline(b, r, res, d, rules, s))
    };

    let out = std::env::temp_dir().join(&run);
    let mut opts = SteadyOptions::new(&brokers, 100.0, Duration::from_secs(2));
    opts.deadline = Duration::from_secs(6);
    opts.topics = Topics { raw: vec![("normal".into(), raw.clone())], results: results.clone(), dlq: dlq.clone(), stages: vec![] };
    opts.mix = PriorityMix::single("normal");
    opts.id_prefix = Some(id_prefix.clone());
    opts.out_dir = Some(out.clone());
    let report = run_steady(opts).await.expect("steady run");
    stop.store(true, Ordering::Relaxed);
    pipeline.join().expect("fake pipeline");
    delete_topics(&brokers, &[&raw, &results, &dlq]).await;

    // 200 ids 000000..000199: 20 end in 7, one (000123) is dropped.
    assert_eq!(report.published, 200, "{report:#?}");
    assert!(report.balanced(), "delivered + dead_lettered + lost != published: {report:#?}");
    assert_eq!(report.dead_lettered, 20);
    assert_eq!(report.dlq_by_reason.get("planted_reject"), Some(&20));
    assert_eq!(report.lost_ids, vec![drop_id.clone()]);
    assert_eq!(report.delivered, 179);
    assert_eq!(report.duplicates, 1, "{twice_id} was forwarded twice");
    assert_eq!(report.foreign, 0);
    assert_eq!(report.latency.samples, 199);
    assert!(report.latency.max_ms > 0.0 && report.latency.p50_ms <= report.latency.p99_ms);
    assert!((report.success_rate - 179.0 / 200.0).abs() < 1e-9);

    // The files name the loss too.
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(md.contains(&drop_id), "{md}");
    assert!(md.contains("not measured"));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report.json")).unwrap();
    assert_eq!(json["lost_ids"][0], drop_id.as_str());
    let _ = std::fs::remove_dir_all(&out);
}

/// Ramp against a fake pipeline that can forward about 150 documents/s:
/// the steps below it meet a 300 ms p99 SLO, a step well above it cannot,
/// the ramp stops there and names the maximum sustainable rate; every
/// document published is still accounted for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ramp_finds_the_capacity_of_a_rate_limited_pipeline() {
    let brokers = brokers();
    if !docflow_testkit::require_kafka() {
        return;
    }
    let run = format!("lt-ramp-{}-{}", std::process::id(), SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis());
    let (raw, results, dlq) = (format!("{run}.raw"), format!("{run}.results"), format!("{run}.dlq"));
    create_topics(&brokers, &[&raw, &results, &dlq]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicBool::new(false));
    let pipeline = {
        let rules = Rules { dlq_suffix: 'x', drop_id: String::new(), twice_id: String::new(), max_rate: Some(150.0), ready: ready.clone() };
        let (b, r, res, d, s) = (brokers.clone(), raw.clone(), results.clone(), dlq.clone(), stop.clone());
        std::thread::spawn(move || fake_pipeline(b, r, res, d, rules, s))
    };
    let t = std::time::Instant::now();
    while !ready.load(Ordering::Relaxed) {
        assert!(t.elapsed() < Duration::from_secs(30), "the fake pipeline got no partitions in 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = std::env::temp_dir().join(&run);
    let mut opts = docflow_loadtest::RunOptions::new(
        &brokers,
        docflow_loadtest::Mode::Ramp {
            start: 40.0,
            step: 60.0,
            max: 400.0,
            step_length: Duration::from_secs(3),
            slo_p99: Duration::from_millis(300),
            warmup: Duration::from_secs(1),
        },
    );
    opts.deadline = Duration::from_secs(30);
    opts.topics = Topics { raw: vec![("normal".into(), raw.clone())], results: results.clone(), dlq: dlq.clone(), stages: vec![] };
    opts.mix = PriorityMix::single("normal");
    opts.out_dir = Some(out.clone());
    let report = docflow_loadtest::run::run(opts).await.expect("ramp run");
    stop.store(true, Ordering::Relaxed);
    pipeline.join().expect("fake pipeline");
    delete_topics(&brokers, &[&raw, &results, &dlq]).await;

    let ramp = report.ramp.clone().expect("a ramp verdict");
    println!("ramp: {ramp:?}; phases {:?}", report.phases.iter().map(|p| (p.rate, p.passed, p.latency.p99_ms)).collect::<Vec<_>>());
    // 40 and 100/s are well under the capacity; 220/s and above cannot meet it.
    assert!((100.0..=160.0).contains(&ramp.max_sustainable_rate), "{ramp:?}");
    assert!(report.phases.iter().any(|p| p.passed == Some(false)), "the ramp stopped at a missed step");
    assert!(report.phases.len() < 8, "the publisher stopped after the miss (phases {})", report.phases.len());
    assert!(report.balanced() && report.lost == 0, "{} lost", report.lost);
    for f in ["report.md", "report.json", "latency.svg", "throughput.svg", "ramp.svg"] {
        assert!(out.join(f).exists(), "{f} written");
    }
    let svg = std::fs::read_to_string(out.join("ramp.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("SLO"), "ramp.svg is an SVG with the SLO line");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("Maximum sustainable rate"), "{md}");
    let _ = std::fs::remove_dir_all(&out);
}
