//! The scrape endpoint: a minimal HTTP/1.1 server on tokio serving
//! `GET /metrics`, `/healthz` and `/readyz`, one request per connection.
//! Hand-rolled on purpose: three fixed routes do not need an HTTP stack.

use super::registry::Registry;
use super::stages::readiness;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Longest request head accepted (scrapers send a few hundred bytes).
const MAX_HEAD: usize = 8 * 1024;
/// A client that sends nothing for this long is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A running endpoint. Dropping it does not stop it; [`MetricsServer::stop`] does.
#[derive(Debug)]
pub struct MetricsServer {
    /// The bound address (the real port when asked for port 0).
    pub local_addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Bind `addr` and serve `registry` in the background (needs a tokio runtime).
pub async fn serve(addr: SocketAddr, registry: &'static Registry) -> std::io::Result<MetricsServer> {
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    tracing::info!(%local_addr, "metrics endpoint: /metrics /healthz /readyz");
    let task = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(async move {
                        if let Err(e) = handle(stream, registry).await {
                            tracing::debug!("metrics endpoint connection: {e}");
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait, keep serving.
                    tracing::warn!("metrics endpoint accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(MetricsServer { local_addr, task })
}

async fn handle(mut stream: TcpStream, registry: &'static Registry) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        if head.len() > MAX_HEAD {
            return respond(&mut stream, 431, "text/plain", "request head too large\n", false).await;
        }
        let n = tokio::time::timeout(READ_TIMEOUT, stream.read(&mut buf))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "request head timed out"))??;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return respond(&mut stream, 405, "text/plain", "only GET and HEAD\n", head_only).await;
    }
    let path = target.split('?').next().unwrap_or("");
    match path {
        "/metrics" => {
            let body = registry.render();
            respond(&mut stream, 200, "text/plain; version=0.0.4; charset=utf-8", &body, head_only).await
        }
        "/healthz" => respond(&mut stream, 200, "text/plain", "ok\n", head_only).await,
        "/readyz" => match readiness(registry) {
            Ok(()) => respond(&mut stream, 200, "text/plain", "ready\n", head_only).await,
            Err(why) => respond(&mut stream, 503, "text/plain", &format!("{why}\n"), head_only).await,
        },
        _ => respond(&mut stream, 404, "text/plain", "not found: /metrics /healthz /readyz\n", head_only).await,
    }
}

async fn respond(stream: &mut TcpStream, status: u16, content_type: &str, body: &str, head_only: bool) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&out).await?;
    stream.shutdown().await
}
