//! Probes of a running stage from outside: its `/metrics`, `/healthz`,
//! `/readyz` endpoint over a plain socket, and its resident memory.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Resident set size of a process in KiB (Linux `/proc`), if readable.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// `GET path` from a stage's metrics/health endpoint over a plain socket:
/// (status, body). A test helper: a refused connection, a truncated answer
/// or a `Content-Length` that disagrees with the body panics with the reason.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("socket timeout");
    write!(s, "GET {path} HTTP/1.1\r\nHost: test\r\nAccept: text/plain\r\n\r\n").expect("send the request");
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap_or_else(|e| panic!("read the answer to GET {path}: {e}"));
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or_else(|| panic!("an incomplete HTTP answer to GET {path}: {resp:?}"));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no status code in {head:?}"));
    let len: Option<usize> = head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).and_then(|v| v.trim().parse().ok());
    assert_eq!(len, Some(body.len()), "Content-Length of GET {path} matches the body");
    (status, body.to_owned())
}

/// Poll `GET path` (off the async threads) until it answers `want`; the
/// body of that answer. Panics with the last answer after `timeout`.
pub async fn wait_http_status(addr: SocketAddr, path: &str, want: u16, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let p = path.to_owned();
        let (status, body) = tokio::task::spawn_blocking(move || http_get(addr, &p)).await.expect("probe thread");
        if status == want {
            return body;
        }
        assert!(Instant::now() < deadline, "{path} stayed {status} ({body:?}), wanted {want} within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
