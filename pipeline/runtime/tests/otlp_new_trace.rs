//! Acceptance (tracing): a record that arrives without a trace
//! context starts the document's trace in the first stage. With sampling at
//! 100% its record span must be exported as the root of a new trace (no
//! parent, kept by the sampler although it carries no sampling attribute),
//! and the output's `traceparent` must name that span.

mod otlp_receiver;

use docflow_runtime::passthrough::TestDoc;
use docflow_runtime::telemetry::{self, OtelConfig, TraceParent};
use docflow_runtime::{Input, Output, ProcessResult, ShutdownSignal, Stage, StageConfig};
use docflow_testkit::kafka;
use otlp_receiver::{attr, hex};
use std::time::{Duration, Instant};

struct PassThrough(String);

impl Stage for PassThrough {
    type Input = TestDoc;
    type Output = TestDoc;
    fn name(&self) -> &str {
        &self.0
    }
    async fn process(&self, batch: Vec<Input<TestDoc>>) -> Vec<ProcessResult<TestDoc>> {
        batch.into_iter().map(|input| Ok(vec![Output::new(input.value.id.clone(), input.value)])).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_without_context_starts_an_exported_trace() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let receiver = otlp_receiver::start("127.0.0.1:0".parse().unwrap(), true).await.unwrap();
    let config = OtelConfig {
        traces_endpoint: Some(receiver.endpoint()),
        metrics_endpoint: None,
        sample_ratio: 1.0,
        service_name: "docflow-otlp-new-trace".into(),
        metrics_interval: None,
    };
    let guard = telemetry::install(&config, "warn").expect("install telemetry");

    let brokers = kafka::brokers();
    let (input, out, dlq) = (kafka::unique("otn-in"), kafka::unique("otn-out"), kafka::unique("otn-dlq"));
    kafka::create_topics(&brokers, &[(&input, 1), (&out, 1), (&dlq, 1)]).await.unwrap();
    let stage = kafka::unique("otn-stage");
    let mut cfg = StageConfig::new(kafka::unique("otn-group"), vec![input.clone()], Some(out.clone()));
    cfg.brokers = brokers.clone();
    cfg.dlq_topic = dlq;
    let shutdown = ShutdownSignal::new();
    let run = tokio::spawn(docflow_runtime::run_stage(PassThrough(stage.clone()), cfg, shutdown.clone()));

    let (brokers2, input2, out2) = (brokers.clone(), input.clone(), out.clone());
    let outputs = tokio::task::spawn_blocking(move || {
        let p = kafka::producer(&brokers2).unwrap();
        let doc = kafka::test_doc(1, 100);
        let enc = docflow_schemas::encode(&doc, &docflow_schemas::Limits::DEFAULT).unwrap();
        let schema = docflow_schemas::schema_header_value();
        let headers = [(docflow_schemas::HEADER_CODEC, enc.codec.header_value().as_bytes()), (docflow_schemas::HEADER_SCHEMA, schema.as_bytes())];
        kafka::send_raw(&p, &input2, doc.id.as_bytes(), &enc.bytes, &headers).unwrap();
        kafka::flush(&p).unwrap();
        kafka::read_topic(&brokers2, &out2, Duration::from_secs(30), |r| !r.is_empty()).unwrap()
    })
    .await
    .unwrap();
    let tp = outputs[0].header("traceparent").and_then(|h| TraceParent::parse(h.as_bytes()));

    let rx = receiver.received.clone();
    let name = format!("{stage} record");
    let wanted = name.clone();
    let span = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some((_, s)) = rx.spans().into_iter().find(|(_, s)| s.name == wanted) {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        None
    })
    .await
    .unwrap();
    // Stop everything before asserting, so a failure ends the test.
    shutdown.trigger();
    run.await.unwrap().unwrap();
    tokio::task::spawn_blocking(move || drop(guard)).await.unwrap();

    let tp = tp.expect("a valid traceparent on the output");
    assert!(tp.is_sampled(), "at ratio 1 the new trace is sampled");
    let span = span.unwrap_or_else(|| panic!("no `{name}` span exported: the sampler dropped the new trace's record span"));
    assert!(span.parent_span_id.is_empty(), "the record span is the root of the new trace");
    assert_eq!(hex(&span.trace_id), format!("{:032x}", tp.trace_id), "the output carries the new trace");
    assert_eq!(hex(&span.span_id), format!("{:016x}", tp.span_id), "the output's traceparent names the record span");
    assert_eq!(attr(&span.attributes, "messaging.kafka.message.key").as_deref(), Some("doc-00000001"));
}
