//! "Service up, or skip": what an integration test does when the service it
//! needs does not answer.
//!
//! By default a test that cannot reach its service fails: a green run must
//! mean the tests ran. `DOCFLOW_SKIP_INTEGRATION=1` (a machine without the
//! local stack) turns that into a skip, which the test announces with what
//! is missing and the command that starts it.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The variable that allows skipping instead of failing.
pub const SKIP_ENV: &str = "DOCFLOW_SKIP_INTEGRATION";

/// A service the integration tests need: its name in messages and the
/// command that starts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub name: &'static str,
    pub start: &'static str,
}

/// The local broker (`DOCFLOW_KAFKA_BROKERS`, default `127.0.0.1:9092`).
pub const KAFKA: Service = Service { name: "Kafka", start: "deploy/local/stack.sh up" };
/// The local database (`DOCFLOW_SCYLLA_NODES`, default `127.0.0.1:9042`).
pub const CASSANDRA: Service = Service { name: "Cassandra", start: "deploy/local/stack.sh up" };
/// The SASL_SSL broker of the security tests.
pub const SECURE_KAFKA: Service = Service { name: "secure Kafka", start: "deploy/local/secure-kafka.sh up" };
/// The TLS + password Cassandra of the security tests.
pub const SECURE_CASSANDRA: Service = Service { name: "secure Cassandra", start: "deploy/local/secure-kafka.sh up cassandra" };

/// `true`: the service answered, go on. Otherwise [`skip_or_fail`] with the
/// probe's reason and `false`.
pub fn up_or_skip(service: &Service, probe: Result<(), String>) -> bool {
    match probe {
        Ok(()) => true,
        Err(reason) => {
            skip_or_fail(service, &reason);
            false
        }
    }
}

/// The service is not up (`reason`): announce the skip when
/// `DOCFLOW_SKIP_INTEGRATION=1`, else panic (fail the test) saying how to
/// start it.
pub fn skip_or_fail(service: &Service, reason: &str) {
    let missing = format!("{} is not available ({reason})", service.name);
    if skipping_allowed() {
        announce(&format!("skipped: {missing}; start it with `{}`", service.start));
    } else {
        panic!("{missing}; start it with `{}`, or set {SKIP_ENV}=1 to skip the tests that need it", service.start);
    }
}

fn skipping_allowed() -> bool {
    std::env::var(SKIP_ENV).as_deref() == Ok("1")
}

/// Writes to the process's stderr directly: the test harness captures
/// `println!` and `eprintln!` of passing tests, and a skipped test passes,
/// so a skip printed that way would be invisible without `--nocapture`.
fn announce(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// `Ok` when the first of the comma-separated `host:port` addresses accepts
/// a TCP connection within 3 s; otherwise why not.
pub fn tcp_probe(addrs: &str) -> Result<(), String> {
    let first = addrs.split(',').next().unwrap_or("").trim();
    let addr: SocketAddr = first
        .to_socket_addrs()
        .map_err(|e| format!("{first:?} is not a host:port: {e}"))?
        .next()
        .ok_or_else(|| format!("{first:?} resolves to no address"))?;
    TcpStream::connect_timeout(&addr, Duration::from_secs(3)).map(|_| ()).map_err(|e| format!("unreachable at {addrs}: {e}"))
}

/// `true`: Kafka answers a metadata request at `DOCFLOW_KAFKA_BROKERS`;
/// otherwise the skip rule.
#[cfg(feature = "kafka")]
pub fn require_kafka() -> bool {
    use crate::kafka::{brokers, kafka_reachable};
    up_or_skip(&KAFKA, kafka_reachable(&brokers()))
}

/// `true`: Cassandra accepts connections at `DOCFLOW_SCYLLA_NODES` (default
/// `127.0.0.1:9042`); otherwise the skip rule.
pub fn require_cassandra() -> bool {
    let nodes = std::env::var("DOCFLOW_SCYLLA_NODES").unwrap_or_else(|_| "127.0.0.1:9042".into());
    up_or_skip(&CASSANDRA, tcp_probe(&nodes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_port_is_reported_with_its_address() {
        // Bind then drop: the port is free and nothing listens on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = tcp_probe(&format!("127.0.0.1:{port},127.0.0.1:1")).unwrap_err();
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    }

    #[test]
    fn a_listening_port_answers() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(tcp_probe(&l.local_addr().unwrap().to_string()), Ok(()));
    }

    #[test]
    fn a_malformed_address_is_an_error_not_a_panic() {
        assert!(tcp_probe("no-port-here").is_err());
    }

    #[test]
    fn a_missing_service_fails_with_how_to_start_it_unless_skipping_is_allowed() {
        // The only test here that reads SKIP_ENV; it never sets it, so it
        // checks the default (fail) path unless the caller's environment
        // allows skipping.
        if skipping_allowed() {
            assert!(!up_or_skip(&KAFKA, Err("probe said no".into())));
            return;
        }
        let panic = std::panic::catch_unwind(|| up_or_skip(&SECURE_CASSANDRA, Err("probe said no".into()))).unwrap_err();
        let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("secure Cassandra is not available (probe said no)"), "{msg}");
        assert!(msg.contains("deploy/local/secure-kafka.sh up cassandra"), "{msg}");
        assert!(msg.contains("DOCFLOW_SKIP_INTEGRATION=1"), "{msg}");
    }

    #[test]
    fn an_answering_service_goes_on() {
        assert!(up_or_skip(&CASSANDRA, Ok(())));
    }
}
