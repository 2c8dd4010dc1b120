//! Stage processes the harness runs itself (`--stage NAME=COMMAND`), so it
//! can measure their memory and `kill -9` / restart them on cue, plus
//! processes it only watches (`--watch-pid NAME=PID`).
//!
//! Each managed stage is started as `sh -c "exec COMMAND"` in its own process
//! group (the pid is the stage itself), with `DOCFLOW_METRICS_ADDR` set to a
//! free loopback port so the harness can scrape it, and its output appended
//! to `<out>/logs/<name>.log`. At the end stages get SIGTERM (they drain and
//! commit) and SIGKILL only if they outlive the drain timeout.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `NAME=COMMAND`: a stage process the harness starts.
#[derive(Debug, Clone, PartialEq)]
pub struct StageSpec {
    pub name: String,
    pub command: String,
}

/// `NAME=VALUE` pairs on the command line.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("expected NAME=VALUE, got {0:?}")]
pub struct BadPair(pub String);

fn pair(s: &str) -> Result<(String, String), BadPair> {
    let (n, v) = s.split_once('=').ok_or_else(|| BadPair(s.into()))?;
    let (n, v) = (n.trim(), v.trim());
    if n.is_empty() || v.is_empty() {
        return Err(BadPair(s.into()));
    }
    Ok((n.into(), v.into()))
}

impl FromStr for StageSpec {
    type Err = BadPair;
    fn from_str(s: &str) -> Result<Self, BadPair> {
        let (name, command) = pair(s)?;
        Ok(Self { name, command })
    }
}

/// `NAME=PID`: a process the harness watches (RSS) but did not start.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchPid {
    pub name: String,
    pub pid: u32,
}

impl FromStr for WatchPid {
    type Err = BadPair;
    fn from_str(s: &str) -> Result<Self, BadPair> {
        let (name, pid) = pair(s)?;
        Ok(Self { name, pid: pid.parse().map_err(|_| BadPair(s.into()))? })
    }
}

/// `NAME=HOST:PORT`: a metrics endpoint of a process the harness did not start.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchMetrics {
    pub name: String,
    pub addr: SocketAddr,
}

impl FromStr for WatchMetrics {
    type Err = BadPair;
    fn from_str(s: &str) -> Result<Self, BadPair> {
        let (name, addr) = pair(s)?;
        Ok(Self { name, addr: addr.parse().map_err(|_| BadPair(s.into()))? })
    }
}

/// Resident set size of `pid` in bytes (Linux `/proc/<pid>/status`, VmRSS).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

struct Managed {
    spec: StageSpec,
    metrics: SocketAddr,
    child: Option<Child>,
    started: u32,
    kills: u32,
    /// Exits nobody asked for (status text).
    unexpected_exits: Vec<String>,
}

/// What happened to one managed stage, for the report.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct StageProcessReport {
    pub name: String,
    pub command: String,
    pub metrics_addr: String,
    pub starts: u32,
    pub kills: u32,
    pub unexpected_exits: Vec<String>,
}

/// The managed stage processes.
pub struct Supervisor {
    stages: Mutex<Vec<Managed>>,
    log_dir: PathBuf,
}

impl Supervisor {
    /// Starts every stage; `metrics_port_base + i` is stage `i`'s endpoint
    /// (0: pick free ports).
    pub fn start(specs: &[StageSpec], log_dir: &Path, metrics_port_base: u16) -> anyhow::Result<Self> {
        std::fs::create_dir_all(log_dir)?;
        let mut stages = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let port = if metrics_port_base == 0 { free_port()? } else { metrics_port_base + i as u16 };
            let mut m = Managed {
                spec: spec.clone(),
                metrics: SocketAddr::from(([127, 0, 0, 1], port)),
                child: None,
                started: 0,
                kills: 0,
                unexpected_exits: Vec::new(),
            };
            spawn(&mut m, log_dir)?;
            stages.push(m);
        }
        Ok(Self { stages: Mutex::new(stages), log_dir: log_dir.to_path_buf() })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Managed>> {
        self.stages.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// (name, pid, metrics address) of each stage now.
    pub fn current(&self) -> Vec<(String, Option<u32>, SocketAddr)> {
        self.lock().iter().map(|m| (m.spec.name.clone(), m.child.as_ref().map(Child::id), m.metrics)).collect()
    }

    pub fn names(&self) -> Vec<String> {
        self.lock().iter().map(|m| m.spec.name.clone()).collect()
    }

    /// Waits until every stage answers `GET /readyz` with 200 (or `timeout`).
    pub fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        for (name, _, addr) in self.current() {
            loop {
                self.reap();
                if let Some(exit) = self.lock().iter().find(|m| m.spec.name == name).and_then(|m| m.unexpected_exits.last().cloned()) {
                    anyhow::bail!("stage {name} exited before it was ready ({exit}); see {}", self.log_dir.join(format!("{name}.log")).display());
                }
                if crate::scrape::http_status(addr, "/readyz", Duration::from_secs(1)) == Some(200) {
                    break;
                }
                anyhow::ensure!(Instant::now() < deadline, "stage {name} not ready on {addr}/readyz within {timeout:?}");
                std::thread::sleep(Duration::from_millis(250));
            }
        }
        Ok(())
    }

    /// `kill -9` stage `name` and start it again; returns the killed pid.
    pub fn kill_and_restart(&self, name: &str, restart_after: Duration) -> anyhow::Result<u32> {
        let pid = {
            let mut stages = self.lock();
            let m = stages.iter_mut().find(|m| m.spec.name == name).ok_or_else(|| anyhow::anyhow!("no stage named {name:?}"))?;
            let mut child = m.child.take().ok_or_else(|| anyhow::anyhow!("stage {name} is not running"))?;
            let pid = child.id();
            child.kill()?; // SIGKILL
            let _ = child.wait();
            m.kills += 1;
            pid
        };
        std::thread::sleep(restart_after);
        let mut stages = self.lock();
        if let Some(m) = stages.iter_mut().find(|m| m.spec.name == name) {
            spawn(m, &self.log_dir)?;
        }
        Ok(pid)
    }

    /// Notes stages that exited without being asked (and restarts none).
    pub fn reap(&self) {
        for m in self.lock().iter_mut() {
            if let Some(child) = m.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    m.unexpected_exits.push(status.to_string());
                    m.child = None;
                }
            }
        }
    }

    /// SIGTERM every stage, wait up to `drain` for them to exit, SIGKILL the rest.
    pub fn stop_all(&self, drain: Duration) {
        self.reap();
        let mut stages = self.lock();
        for m in stages.iter() {
            if let Some(c) = &m.child {
                let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            }
        }
        let deadline = Instant::now() + drain;
        for m in stages.iter_mut() {
            if let Some(mut c) = m.child.take() {
                loop {
                    match c.try_wait() {
                        Ok(Some(_)) => break,
                        Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                        _ => {
                            let _ = c.kill();
                            let _ = c.wait();
                            break;
                        }
                    }
                }
            }
        }
    }

    pub fn report(&self) -> Vec<StageProcessReport> {
        self.lock()
            .iter()
            .map(|m| StageProcessReport {
                name: m.spec.name.clone(),
                command: m.spec.command.clone(),
                metrics_addr: m.metrics.to_string(),
                starts: m.started,
                kills: m.kills,
                unexpected_exits: m.unexpected_exits.clone(),
            })
            .collect()
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // Never leave stage processes behind (a failed run included).
        for m in self.lock().iter_mut() {
            if let Some(mut c) = m.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

fn spawn(m: &mut Managed, log_dir: &Path) -> anyhow::Result<()> {
    let log = OpenOptions::new().create(true).append(true).open(log_dir.join(format!("{}.log", m.spec.name)))?;
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {}", m.spec.command))
        .env("DOCFLOW_METRICS_ADDR", m.metrics.to_string())
        // Static group membership: a stage killed and restarted by the chaos
        // hooks takes its partitions back without a rebalance, as a
        // StatefulSet replica would.
        .env("DOCFLOW_GROUP_INSTANCE_ID", format!("loadtest{}-{}", std::process::id(), m.spec.name))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| anyhow::anyhow!("starting stage {} ({}): {e}", m.spec.name, m.spec.command))?;
    m.child = Some(child);
    m.started += 1;
    Ok(())
}

/// A loopback port nobody listens on now.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// RSS by name of every managed and watched process, bytes.
pub fn rss_by_name(sup: Option<&Supervisor>, watched: &[WatchPid]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    if let Some(s) = sup {
        for (name, pid, _) in s.current() {
            if let Some(rss) = pid.and_then(rss_bytes) {
                out.insert(name, rss);
            }
        }
    }
    for w in watched {
        if let Some(rss) = rss_bytes(w.pid) {
            out.insert(w.name.clone(), rss);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_parse() {
        assert_eq!("parse=docflow stage parse".parse::<StageSpec>().unwrap().command, "docflow stage parse");
        assert_eq!("a=12".parse::<WatchPid>().unwrap().pid, 12);
        assert!("a=x".parse::<WatchPid>().is_err());
        assert!("=x".parse::<StageSpec>().is_err());
        assert_eq!("m=127.0.0.1:9464".parse::<WatchMetrics>().unwrap().addr.port(), 9464);
    }

    #[test]
    fn supervises_kills_and_restarts_a_real_process() {
        let dir = std::env::temp_dir().join(format!("lt-procs-{}", std::process::id()));
        let sup = Supervisor::start(&["s=sleep 30".parse().unwrap()], &dir, 0).unwrap();
        let (_, pid, _) = sup.current()[0].clone();
        let pid = pid.unwrap();
        assert!(rss_bytes(pid).unwrap() > 0);
        let killed = sup.kill_and_restart("s", Duration::from_millis(10)).unwrap();
        assert_eq!(killed, pid);
        let new_pid = sup.current()[0].1.unwrap();
        assert_ne!(new_pid, pid);
        assert!(rss_bytes(pid).is_none(), "the killed process is gone");
        sup.stop_all(Duration::from_secs(5));
        assert!(rss_bytes(new_pid).is_none());
        let r = sup.report();
        assert_eq!((r[0].starts, r[0].kills), (2, 1));
        assert!(r[0].unexpected_exits.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
