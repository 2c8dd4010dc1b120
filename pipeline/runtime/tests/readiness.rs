//! Acceptance (health): `/readyz` follows the broker and the
//! stage's own readiness hook (`Stage::ready`, what persist uses for its
//! database circuit breaker).
//! - a stage whose broker is unreachable (a dead port) is not ready, with
//!   the reason in the body;
//! - a stage on the live broker is ready once assigned; when its hook says
//!   not ready, `/readyz` answers 503 with the hook's reason, and 200 again
//!   once it recovers.

use docflow_runtime::passthrough::TestDoc;
use docflow_runtime::telemetry::{self, Registry};
use docflow_runtime::{Input, Output, ProcessResult, ShutdownSignal, Stage, StageConfig};
use docflow_testkit::kafka;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Pass-through whose readiness the test switches, like a circuit breaker.
struct Breaker {
    name: String,
    open: Arc<AtomicBool>,
}

impl Stage for Breaker {
    type Input = TestDoc;
    type Output = TestDoc;
    fn name(&self) -> &str {
        &self.name
    }
    async fn process(&self, batch: Vec<Input<TestDoc>>) -> Vec<ProcessResult<TestDoc>> {
        batch.into_iter().map(|i| Ok(vec![Output::new(i.value.id.clone(), i.value)])).collect()
    }
    fn ready(&self) -> Result<(), String> {
        if self.open.load(Ordering::Relaxed) {
            Err("database circuit breaker open".into())
        } else {
            Ok(())
        }
    }
}

async fn readyz(addr: SocketAddr) -> (u16, String) {
    tokio::task::spawn_blocking(move || docflow_testkit::probe::http_get(addr, "/readyz")).await.unwrap()
}

async fn wait_status(addr: SocketAddr, want: u16, timeout: Duration) -> String {
    docflow_testkit::probe::wait_http_status(addr, "/readyz", want, timeout).await
}

fn config(brokers: &str, input: &str, out: &str) -> StageConfig {
    let mut c = StageConfig::new(kafka::unique("rz-group"), vec![input.to_owned()], Some(out.to_owned()));
    c.brokers = brokers.to_owned();
    c.dlq_topic = kafka::unique("rz-dlq");
    c.delivery = kafka::delivery_mode().expect("DOCFLOW_DELIVERY");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_broker_and_the_stage_hook() {
    if !docflow_testkit::require_kafka() {
        return;
    }
    let server = telemetry::serve("127.0.0.1:0".parse().unwrap(), Registry::global()).await.unwrap();
    let addr = server.local_addr;

    // 1. Broker unreachable: a port nothing listens on.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let shutdown = ShutdownSignal::new();
    let open = Arc::new(AtomicBool::new(false));
    let dead = Breaker { name: kafka::unique("rz-dead"), open: open.clone() };
    let run = tokio::spawn(docflow_runtime::run_stage(dead, config(&format!("127.0.0.1:{dead_port}"), "rz-in", "rz-out"), shutdown.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, body) = readyz(addr).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("not connected to Kafka"), "{body}");
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(30), run).await.expect("the unconnected stage stops").unwrap().ok();
    assert_eq!(readyz(addr).await.0, 503, "nothing running");

    // 2. Live broker, then the stage's own hook.
    let brokers = kafka::brokers();
    let (input, out) = (kafka::unique("rz-in"), kafka::unique("rz-out"));
    kafka::create_topics(&brokers, &[(&input, 1), (&out, 1)]).await.unwrap();
    let shutdown = ShutdownSignal::new();
    let name = kafka::unique("rz-live");
    let live = Breaker { name: name.clone(), open: open.clone() };
    let run = tokio::spawn(docflow_runtime::run_stage(live, config(&brokers, &input, &out), shutdown.clone()));
    wait_status(addr, 200, Duration::from_secs(20)).await;
    open.store(true, Ordering::Relaxed);
    let body = wait_status(addr, 503, Duration::from_secs(2)).await;
    assert!(body.contains(&name) && body.contains("database circuit breaker open"), "{body}");
    open.store(false, Ordering::Relaxed);
    wait_status(addr, 200, Duration::from_secs(2)).await;
    assert_eq!(tokio::task::spawn_blocking(move || docflow_testkit::probe::http_get(addr, "/healthz").0).await.unwrap(), 200);

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(30), run).await.expect("stage stops").unwrap().unwrap();
    server.stop();
}
