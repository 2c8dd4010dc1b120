//! Acceptance (tracing and OTLP): an in-process OTLP/gRPC
//! receiver built from the `opentelemetry-proto` types; two stages in a
//! chain (`in → a → mid → b → out`) export to it. Checks that
//! - a document published with a sampled `traceparent` yields spans from
//!   both stages in that one trace, correctly parented (one record span
//!   per stage with the stage's own step span below it, stage b's record
//!   under stage a's record), and its output carries the trace on;
//! - a document whose context says "not sampled" yields no spans but keeps
//!   its trace id downstream (parent-based head sampling);
//! - a poison record in an unsampled trace still yields an exported
//!   `dead_letter` error span in that trace (errors always kept), and its
//!   dead letter carries the trace;
//! - the metrics arrive over OTLP with the Prometheus names, labels and the
//!   duration histogram's bucket bounds.

mod otlp_receiver;

use docflow_runtime::passthrough::TestDoc;
use docflow_runtime::telemetry::{self, OtelConfig, TraceParent};
use docflow_runtime::{Input, Output, ProcessResult, ShutdownSignal, Stage, StageConfig};
use docflow_testkit::kafka;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::trace::v1::{status::StatusCode, Span};
use otlp_receiver::{attr, hex};
use std::time::{Duration, Instant};

/// Pass-through with one step span per record below the runtime's record span.
struct Traced(String);

impl Stage for Traced {
    type Input = TestDoc;
    type Output = TestDoc;
    fn name(&self) -> &str {
        &self.0
    }
    async fn process(&self, batch: Vec<Input<TestDoc>>) -> Vec<ProcessResult<TestDoc>> {
        batch
            .into_iter()
            .map(|input| {
                let _work = docflow_runtime::step_span!(&input.span, "work", doc.seq = input.value.seq);
                Ok(vec![Output::new(input.value.id.clone(), input.value)])
            })
            .collect()
    }
}

const SAMPLED: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const UNSAMPLED: &str = "00-1bf7651916cd43dd8448eb211c80319d-c7ad6b7169203332-00";
const POISON_UNSAMPLED: &str = "00-2cf7651916cd43dd8448eb211c80319e-d7ad6b7169203333-00";

fn trace_id(tp: &str) -> String {
    tp[3..35].to_owned()
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The stage of a record span (`parse record`) or of an unsampled
/// dead letter's span (its `docflow.stage`).
fn stage_of(s: &Span) -> Option<String> {
    s.name.strip_suffix(" record").map(str::to_owned).or_else(|| attr(&s.attributes, "docflow.stage"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_document_is_one_trace_across_stages_and_metrics_arrive() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let receiver = otlp_receiver::start("127.0.0.1:0".parse().unwrap(), true).await.unwrap();
    let config = OtelConfig {
        traces_endpoint: Some(receiver.endpoint()),
        metrics_endpoint: Some(receiver.endpoint()),
        sample_ratio: 0.1,
        service_name: "docflow-otlp-test".into(),
        metrics_interval: Some(Duration::from_millis(500)),
    };
    let guard = telemetry::install(&config, "warn").expect("install telemetry");
    assert_eq!(telemetry::sample_ratio(), Some(0.1));

    let brokers = kafka::brokers();
    let (input, mid, out, dlq) = (kafka::unique("ot-in"), kafka::unique("ot-mid"), kafka::unique("ot-out"), kafka::unique("ot-dlq"));
    kafka::create_topics(&brokers, &[(&input, 2), (&mid, 2), (&out, 2), (&dlq, 1)]).await.unwrap();
    let (a, b) = (kafka::unique("ot-a"), kafka::unique("ot-b"));
    let stage_cfg = |from: &str, to: &str| {
        let mut c = StageConfig::new(kafka::unique("ot-group"), vec![from.to_owned()], Some(to.to_owned()));
        c.brokers = brokers.clone();
        c.dlq_topic = dlq.clone();
        c.batch_size = 10;
        c.batch_linger_ms = 5;
        c
    };
    let shutdown = ShutdownSignal::new();
    let tasks = vec![
        docflow_runtime::stage_task(Traced(a.clone()), stage_cfg(&input, &mid), shutdown.clone()),
        docflow_runtime::stage_task(Traced(b.clone()), stage_cfg(&mid, &out), shutdown.clone()),
    ];
    let run = tokio::spawn(docflow_runtime::run_stages(tasks, shutdown.clone()));

    let (brokers2, input2, out2, dlq2) = (brokers.clone(), input.clone(), out.clone(), dlq.clone());
    let (outputs, dead) = tokio::task::spawn_blocking(move || {
        let p = kafka::producer(&brokers2).unwrap();
        let schema = docflow_schemas::schema_header_value();
        for (seq, tp) in [(1u64, Some(SAMPLED)), (2, Some(UNSAMPLED)), (3, None)] {
            let doc = kafka::test_doc(seq, 100);
            let enc = docflow_schemas::encode(&doc, &docflow_schemas::Limits::DEFAULT).unwrap();
            let codec = enc.codec.header_value();
            let mut headers = vec![(docflow_schemas::HEADER_CODEC, codec.as_bytes()), (docflow_schemas::HEADER_SCHEMA, schema.as_bytes())];
            if let Some(tp) = tp {
                headers.push(("traceparent", tp.as_bytes()));
                headers.push(("tracestate", b"vendor=x1".as_slice()));
            }
            kafka::send_raw(&p, &input2, doc.id.as_bytes(), &enc.bytes, &headers).unwrap();
        }
        kafka::send_raw(&p, &input2, b"poison", b"\xc1 not a record", &[("traceparent", POISON_UNSAMPLED.as_bytes())]).unwrap();
        kafka::flush(&p).unwrap();
        let outputs = kafka::read_topic(&brokers2, &out2, Duration::from_secs(30), |r| r.len() >= 3).unwrap();
        let dead = kafka::read_topic(&brokers2, &dlq2, Duration::from_secs(30), |r| !r.is_empty()).unwrap();
        (outputs, dead)
    })
    .await
    .unwrap();
    assert_eq!(outputs.len(), 3, "all three documents reach the output");
    assert_eq!(dead.len(), 1, "the poison record is dead-lettered");

    // Headers downstream: the trace goes on, the sampling decision too.
    let out_tp = |id: &str| {
        let r = outputs.iter().find(|r| r.key.as_deref() == Some(id.as_bytes())).unwrap_or_else(|| panic!("{id} in output"));
        (TraceParent::parse(r.header("traceparent").expect("traceparent on every output").as_bytes()).unwrap(), r.header("tracestate").map(str::to_owned))
    };
    let (tp1, ts1) = out_tp("doc-00000001");
    assert_eq!(format!("{:032x}", tp1.trace_id), trace_id(SAMPLED));
    assert!(tp1.is_sampled());
    assert_eq!(ts1.as_deref(), Some("vendor=x1"), "tracestate is forwarded");
    let (tp2, _) = out_tp("doc-00000002");
    assert_eq!(format!("{:032x}", tp2.trace_id), trace_id(UNSAMPLED));
    assert!(!tp2.is_sampled());
    let (tp3, _) = out_tp("doc-00000003");
    assert_ne!(tp3.trace_id, 0, "a document without context gets a new trace in the first stage");
    let dead_tp = TraceParent::parse(dead[0].header("traceparent").expect("traceparent on the dead letter").as_bytes()).unwrap();
    assert_eq!(format!("{:032x}", dead_tp.trace_id), trace_id(POISON_UNSAMPLED));
    assert!(dead_tp.is_sampled(), "the dead letter names its exported error span");

    // Spans: flush and wait for the sampled document's trace from both stages.
    let rx = receiver.received.clone();
    let (a2, b2) = (a.clone(), b.clone());
    let spans = tokio::task::spawn_blocking(move || {
        wait_for("spans of both stages and the error span", Duration::from_secs(20), || {
            let spans = rx.spans();
            let of = |t: &str| spans.iter().filter(|(_, s)| hex(&s.trace_id) == t).count();
            let names: Vec<String> = spans.iter().filter(|(_, s)| hex(&s.trace_id) == trace_id(SAMPLED)).map(|(_, s)| s.name.clone()).collect();
            let both = names.contains(&format!("{a2} record")) && names.contains(&format!("{b2} record")) && names.iter().filter(|n| *n == "work").count() == 2;
            (both && of(&trace_id(POISON_UNSAMPLED)) > 0).then_some(spans)
        })
    })
    .await
    .unwrap();
    assert!(spans.iter().all(|(svc, _)| svc == "docflow-otlp-test"), "resource service.name");
    let trace: Vec<&Span> = spans.iter().map(|(_, s)| s).filter(|s| hex(&s.trace_id) == trace_id(SAMPLED)).collect();
    let find = |name: &str, stage: &str| -> &Span {
        trace
            .iter()
            .copied()
            .find(|s| s.name == name && (stage_of(s).as_deref() == Some(stage) || parent_stage(&trace, s).as_deref() == Some(stage)))
            .unwrap_or_else(|| panic!("span {name} of stage {stage} in {:#?}", trace.iter().map(|s| &s.name).collect::<Vec<_>>()))
    };
    let rec_a = find(&format!("{a} record"), &a);
    let rec_b = find(&format!("{b} record"), &b);
    assert_eq!(hex(&rec_a.parent_span_id), &SAMPLED[36..52], "stage a continues the producer's context");
    // One runtime span per record: decode and attempts are its attributes.
    assert_eq!(trace.len(), 4, "two record spans and two step spans: {:?}", trace.iter().map(|s| &s.name).collect::<Vec<_>>());
    assert_eq!(rec_b.parent_span_id, rec_a.span_id, "stage b's record continues stage a's record span");
    assert_eq!(format!("{:016x}", tp1.span_id), hex(&rec_b.span_id), "the output names stage b's record span");
    for rec in [rec_a, rec_b] {
        assert!(trace.iter().any(|s| s.name == "work" && s.parent_span_id == rec.span_id), "stage step span below {}", rec.name);
        assert_eq!(attr(&rec.attributes, "messaging.system").as_deref(), Some("kafka"));
        assert!(attr(&rec.attributes, "docflow.decode.duration_us").is_some(), "decode time on {}", rec.name);
        assert!(rec.end_time_unix_nano >= rec.start_time_unix_nano);
    }
    assert_eq!(attr(&rec_a.attributes, "messaging.destination.name").as_deref(), Some(input.as_str()));
    assert_eq!(attr(&rec_b.attributes, "messaging.destination.name").as_deref(), Some(mid.as_str()));
    assert_eq!(trace.iter().map(|s| hex(&s.trace_id)).collect::<std::collections::HashSet<_>>().len(), 1);

    // Unsampled: nothing exported for doc 2.
    assert!(spans.iter().all(|(_, s)| hex(&s.trace_id) != trace_id(UNSAMPLED)), "an unsampled trace exports no spans");
    // Errors always kept: the poison record's error span, in its own trace.
    let dl = spans.iter().map(|(_, s)| s).find(|s| hex(&s.trace_id) == trace_id(POISON_UNSAMPLED)).unwrap();
    assert_eq!(dl.name, format!("{a} dead_letter"));
    assert_eq!(dl.status.as_ref().map(|s| s.code), Some(StatusCode::Error as i32));
    assert_eq!(hex(&dl.parent_span_id), &POISON_UNSAMPLED[36..52]);
    assert_eq!(format!("{:016x}", dead_tp.span_id), hex(&dl.span_id));
    assert!(attr(&dl.attributes, "error.type").is_some());

    // Metrics over OTLP: same names and labels as /metrics.
    let rx = receiver.received.clone();
    let a3 = a.clone();
    let metrics = tokio::task::spawn_blocking(move || {
        wait_for("records_in of stage a = 4 over OTLP", Duration::from_secs(20), || {
            let m = rx.metrics();
            let v = m.iter().rev().find(|m| m.name == "docflow_records_in_total").and_then(|m| match &m.data {
                Some(Data::Sum(s)) => s.data_points.iter().find(|p| attr(&p.attributes, "stage").as_deref() == Some(a3.as_str())).map(|p| p.value),
                _ => None,
            });
            matches!(v, Some(Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsDouble(x))) if x == 4.0).then_some(m)
        })
    })
    .await
    .unwrap();
    let names: std::collections::HashSet<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
    for name in ["docflow_records_in_total", "docflow_records_out_total", "docflow_records_failed_total", "docflow_in_flight", "agent_utilization_ratio", "docflow_dlq_records_total", "document_processing_duration_seconds"] {
        assert!(names.contains(name), "{name} over OTLP; got {names:?}");
    }
    let hist = metrics.iter().rev().find(|m| m.name == "document_processing_duration_seconds").unwrap();
    let Some(Data::Histogram(h)) = &hist.data else { panic!("duration is a histogram: {hist:?}") };
    let point = h
        .data_points
        .iter()
        .find(|p| attr(&p.attributes, "stage").as_deref() == Some(b.as_str()) && attr(&p.attributes, "outcome").as_deref() == Some("ok"))
        .expect("duration of stage b, outcome ok");
    assert_eq!(point.explicit_bounds, vec![0.1, 0.5, 1.0, 2.0, 5.0, 10.0]);
    assert_eq!(point.count, 3);
    let dlq_m = metrics.iter().rev().find(|m| m.name == "docflow_dlq_records_total").unwrap();
    let Some(Data::Sum(s)) = &dlq_m.data else { panic!("dlq is a sum") };
    assert!(s.is_monotonic);
    assert!(s.data_points.iter().any(|p| attr(&p.attributes, "stage").as_deref() == Some(a.as_str()) && attr(&p.attributes, "reason").is_some()));

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(30), run).await.expect("stages stop").unwrap().unwrap();
    tokio::task::spawn_blocking(move || drop(guard)).await.unwrap();
    receiver.stop();
}

/// The stage of the record span above `s` (step spans carry none).
fn parent_stage(trace: &[&Span], s: &Span) -> Option<String> {
    trace.iter().find(|p| p.span_id == s.parent_span_id).and_then(|p| stage_of(p))
}
