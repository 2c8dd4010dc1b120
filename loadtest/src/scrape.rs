//! Reading a stage's Prometheus endpoint (`DOCFLOW_METRICS_ADDR`, served by
//! the runtime's telemetry): one blocking HTTP/1.0 `GET /metrics` over a
//! plain TCP stream (loopback scrapes need no HTTP client crate), and a
//! parser for the text exposition format that keeps what the harness
//! plots: utilisation, in-flight, consumer lag, DLQ counts.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Largest response accepted (a stage's page is a few KiB).
const MAX_BODY: u64 = 4 << 20;

/// One sample: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// What a scrape failed on.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("connecting to {addr}: {source}")]
    Io { addr: SocketAddr, source: std::io::Error },
    #[error("{addr} answered {status:?}")]
    Status { addr: SocketAddr, status: String },
}

/// `GET http://addr/path`: (status line, body).
fn get(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(String, String), ScrapeError> {
    let io = |source| ScrapeError::Io { addr, source };
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
    s.set_read_timeout(Some(timeout)).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).map_err(io)?;
    let mut buf = Vec::new();
    s.take(MAX_BODY).read_to_end(&mut buf).map_err(io)?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((head.lines().next().unwrap_or_default().to_string(), body.to_string()))
}

fn status_code(status_line: &str) -> Option<u16> {
    status_line.split_whitespace().nth(1)?.parse().ok()
}

/// The HTTP status of `GET addr/path`, `None` when nothing answers.
pub fn http_status(addr: SocketAddr, path: &str, timeout: Duration) -> Option<u16> {
    get(addr, path, timeout).ok().and_then(|(s, _)| status_code(&s))
}

/// `GET http://addr/metrics` and parse the page.
pub fn scrape(addr: SocketAddr, timeout: Duration) -> Result<Vec<Sample>, ScrapeError> {
    let (status, body) = get(addr, "/metrics", timeout)?;
    if status_code(&status) != Some(200) {
        return Err(ScrapeError::Status { addr, status });
    }
    Ok(parse(&body))
}

/// Parses the Prometheus text format (comments and malformed lines skipped).
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (name, labels, rest) = match line.find('{') {
        Some(open) => {
            let close = line[open..].find('}')? + open;
            (&line[..open], parse_labels(&line[open + 1..close])?, &line[close + 1..])
        }
        None => {
            let sp = line.find(char::is_whitespace)?;
            (&line[..sp], BTreeMap::new(), &line[sp..])
        }
    };
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample { name: name.trim().to_string(), labels, value })
}

/// `a="x",b="y \" z"` → map (escapes `\\`, `\"`, `\n` undone).
fn parse_labels(s: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if chars.next()? != '"' {
            return None;
        }
        let mut val = String::new();
        loop {
            match chars.next()? {
                '"' => break,
                '\\' => match chars.next()? {
                    'n' => val.push('\n'),
                    c => val.push(c),
                },
                c => val.push(c),
            }
        }
        out.insert(key.trim().to_string(), val);
    }
}

/// The figures the harness keeps from one stage process's page.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct StageFigures {
    /// `agent_utilization_ratio`, averaged over the stages of the process.
    pub utilization: Option<f64>,
    /// Sum of `docflow_consumer_lag` over partitions, by stage.
    pub lag: BTreeMap<String, f64>,
    /// Sum of `docflow_in_flight`.
    pub in_flight: f64,
    /// `docflow_dlq_records_total` by reason (summed over stages).
    pub dlq_by_reason: BTreeMap<String, f64>,
    /// `docflow_records_in_total` summed over the process's stages.
    pub records_in: f64,
}

impl StageFigures {
    pub fn from_samples(samples: &[Sample]) -> Self {
        let mut f = StageFigures::default();
        let mut util = (0.0, 0u32);
        for s in samples {
            let stage = s.labels.get("stage").cloned().unwrap_or_default();
            match s.name.as_str() {
                "agent_utilization_ratio" => {
                    util.0 += s.value;
                    util.1 += 1;
                }
                "docflow_consumer_lag" => *f.lag.entry(stage).or_default() += s.value,
                "docflow_in_flight" => f.in_flight += s.value,
                "docflow_records_in_total" => f.records_in += s.value,
                "docflow_dlq_records_total" => {
                    *f.dlq_by_reason.entry(s.labels.get("reason").cloned().unwrap_or_default()).or_default() += s.value
                }
                _ => {}
            }
        }
        f.utilization = (util.1 > 0).then(|| util.0 / f64::from(util.1));
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_text_format() {
        let page = "# HELP x y\n# TYPE agent_utilization_ratio gauge\n\
            agent_utilization_ratio{stage=\"parse\"} 0.25\n\
            agent_utilization_ratio{stage=\"infer\"} 0.75\n\
            docflow_consumer_lag{partition=\"0\",stage=\"infer\",topic=\"docs.parsed\"} 10\n\
            docflow_consumer_lag{partition=\"1\",stage=\"infer\",topic=\"docs.parsed\"} 5\n\
            docflow_dlq_records_total{reason=\"a \\\"q\\\"\",stage=\"parse\"} 3\n\
            docflow_in_flight{stage=\"parse\"} 7 1700000000\n\
            plain_metric 1.5e3\n\
            broken{stage=\"x\" 1\n";
        let s = parse(page);
        assert_eq!(s.len(), 7);
        assert_eq!(s[6], Sample { name: "plain_metric".into(), labels: BTreeMap::new(), value: 1500.0 });
        let f = StageFigures::from_samples(&s);
        assert_eq!(f.utilization, Some(0.5));
        assert_eq!(f.lag.get("infer"), Some(&15.0));
        assert_eq!(f.in_flight, 7.0);
        assert_eq!(f.dlq_by_reason.get("a \"q\""), Some(&3.0));
    }

    #[test]
    fn scrapes_a_real_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut c, _) = listener.accept().unwrap();
            let mut req = [0u8; 1024];
            let n = c.read(&mut req).unwrap();
            assert!(String::from_utf8_lossy(&req[..n]).starts_with("GET /metrics "));
            c.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\ndocflow_in_flight{stage=\"p\"} 4\n").unwrap();
        });
        let s = scrape(addr, Duration::from_secs(2)).unwrap();
        server.join().unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].value, 4.0);
    }
}
