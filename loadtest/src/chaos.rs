//! Chaos hooks, each on its own thread on the run's clock, each logged as a
//! [`ChaosEvent`] (start, end, what was done) for the report and the plots:
//!
//! - kill a managed stage with SIGKILL `times` times, `every` apart, and
//!   start it again after `restart_after` ([`crate::procs::Supervisor`]);
//! - make the database unavailable for `length`: SIGSTOP / SIGCONT of its
//!   pid (every request hangs and times out, as with a dead node, without a
//!   restart's cost; a detached watchdog resumes it even if the harness
//!   dies), or a stop command and a start command;
//! - restart the broker with a command (e.g. a systemd or stack script);
//! - poison records are injected by the publisher (`--poison-rate`).

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::procs::Supervisor;

/// Kill a stage process `times` times.
#[derive(Debug, Clone, PartialEq)]
pub struct KillPlan {
    pub stage: String,
    pub times: u32,
    pub first_at: Duration,
    pub every: Duration,
    pub restart_after: Duration,
}

/// How the database is stopped and started.
#[derive(Debug, Clone, PartialEq)]
pub enum DbControl {
    /// SIGSTOP then SIGCONT this pid.
    Signal { pid: u32 },
    /// Run `stop`, wait, run `start` (shell commands).
    Commands { stop: String, start: String },
}

/// Database unavailable from `at` for `length`.
#[derive(Debug, Clone, PartialEq)]
pub struct DbOutage {
    pub at: Duration,
    pub length: Duration,
    pub control: DbControl,
}

/// Run `command` (a broker restart) at `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerRestart {
    pub at: Duration,
    pub command: String,
}

/// Every chaos action of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChaosPlan {
    pub kill: Option<KillPlan>,
    pub db_outage: Option<DbOutage>,
    pub broker_restart: Option<BrokerRestart>,
}

impl ChaosPlan {
    pub fn is_empty(&self) -> bool {
        self.kill.is_none() && self.db_outage.is_none() && self.broker_restart.is_none()
    }
}

/// One chaos action as it happened (seconds from the run's start).
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct ChaosEvent {
    pub kind: String,
    pub at_secs: f64,
    pub end_secs: f64,
    pub detail: String,
    pub ok: bool,
}

/// The events, shared by the chaos threads.
#[derive(Debug, Default)]
pub struct ChaosLog(Mutex<Vec<ChaosEvent>>);

impl ChaosLog {
    fn push(&self, e: ChaosEvent) {
        eprintln!("\nloadtest: chaos: {} at {:.1}s: {}{}", e.kind, e.at_secs, e.detail, if e.ok { "" } else { " (FAILED)" });
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    }

    pub fn events(&self) -> Vec<ChaosEvent> {
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        v.sort_by(|a, b| a.at_secs.total_cmp(&b.at_secs));
        v
    }
}

/// Sleeps until `t0 + at`; `false` if `cancel` was set first.
fn sleep_until(t0: Instant, at: Duration, cancel: &AtomicBool) -> bool {
    let due = t0 + at;
    while Instant::now() < due {
        if cancel.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep((due - Instant::now()).min(Duration::from_millis(100)));
    }
    !cancel.load(Ordering::Relaxed)
}

fn shell(cmd: &str) -> Result<(), String> {
    let out = Command::new("sh").arg("-c").arg(cmd).stdin(Stdio::null()).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn signal(sig: &str, pid: u32) -> Result<(), String> {
    let st = Command::new("kill").args([sig, &pid.to_string()]).status().map_err(|e| e.to_string())?;
    st.success().then_some(()).ok_or_else(|| format!("kill {sig} {pid}: {st}"))
}

/// Starts the plan's threads. `cancel` skips actions not yet begun (a
/// database already stopped is always started again).
pub fn start(plan: &ChaosPlan, t0: Instant, sup: Option<Arc<Supervisor>>, log: Arc<ChaosLog>, cancel: Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
    let secs = move |i: Instant| i.saturating_duration_since(t0).as_secs_f64();
    let mut threads = Vec::new();
    if let Some(k) = plan.kill.clone() {
        let (log, cancel) = (log.clone(), cancel.clone());
        threads.push(std::thread::spawn(move || {
            for n in 0..k.times {
                if !sleep_until(t0, k.first_at + k.every * n, &cancel) {
                    return;
                }
                let at = Instant::now();
                let result = match &sup {
                    Some(s) => s.kill_and_restart(&k.stage, k.restart_after).map_err(|e| e.to_string()),
                    None => Err("no managed stages (--stage NAME=COMMAND)".into()),
                };
                let (ok, detail) = match result {
                    Ok(pid) => (true, format!("kill -9 {} (pid {pid}) #{}, restarted after {:?}", k.stage, n + 1, k.restart_after)),
                    Err(e) => (false, format!("kill -9 {}: {e}", k.stage)),
                };
                log.push(ChaosEvent { kind: "kill".into(), at_secs: secs(at), end_secs: secs(Instant::now()), detail, ok });
            }
        }));
    }
    if let Some(o) = plan.db_outage.clone() {
        let (log, cancel) = (log.clone(), cancel.clone());
        threads.push(std::thread::spawn(move || {
            if !sleep_until(t0, o.at, &cancel) {
                return;
            }
            let at = Instant::now();
            let stopped = match &o.control {
                DbControl::Signal { pid } => {
                    // A watchdog outside this process resumes the database
                    // even if the harness is killed meanwhile.
                    let _ = Command::new("setsid")
                        .args(["sh", "-c", &format!("sleep {}; kill -CONT {pid}", o.length.as_secs() + 10)])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn();
                    signal("-STOP", *pid)
                }
                DbControl::Commands { stop, .. } => shell(stop),
            };
            std::thread::sleep(o.length);
            let started = match &o.control {
                DbControl::Signal { pid } => signal("-CONT", *pid),
                DbControl::Commands { start, .. } => shell(start),
            };
            let how = match &o.control {
                DbControl::Signal { pid } => format!("SIGSTOP/SIGCONT pid {pid}"),
                DbControl::Commands { stop, start } => format!("`{stop}` then `{start}`"),
            };
            let ok = stopped.is_ok() && started.is_ok();
            let errs: Vec<String> = [stopped.err(), started.err()].into_iter().flatten().collect();
            let detail = format!("database unavailable for {:?} ({how}){}", o.length, if ok { String::new() } else { format!(": {}", errs.join("; ")) });
            log.push(ChaosEvent { kind: "db_outage".into(), at_secs: secs(at), end_secs: secs(Instant::now()), detail, ok });
        }));
    }
    if let Some(b) = plan.broker_restart.clone() {
        threads.push(std::thread::spawn(move || {
            if !sleep_until(t0, b.at, &cancel) {
                return;
            }
            let at = Instant::now();
            let r = shell(&b.command);
            let detail = match &r {
                Ok(()) => format!("broker restarted with `{}`", b.command),
                Err(e) => format!("`{}` failed: {e}", b.command),
            };
            log.push(ChaosEvent { kind: "broker_restart".into(), at_secs: secs(at), end_secs: secs(Instant::now()), detail, ok: r.is_ok() });
        }));
    }
    threads
}

/// The local stack's Cassandra pid (`deploy/local/stack.sh`): the pid file
/// under `$DOCFLOW_STATE_DIR` (default `./.state`), accepted only if that
/// process's command line carries `-Ddocflow.stack=cassandra`.
pub fn local_cassandra_pid() -> Option<u32> {
    let state = std::env::var("DOCFLOW_STATE_DIR").unwrap_or_else(|_| ".state".into());
    let pid: u32 = std::fs::read_to_string(std::path::Path::new(&state).join("cassandra/cassandra.pid")).ok()?.trim().parse().ok()?;
    let cmdline = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).ok()?).replace('\0', " ");
    cmdline.contains("-Ddocflow.stack=cassandra ").then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_outage_by_signal_stops_and_resumes_a_real_process() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let state = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|s| s.rsplit(')').next().and_then(|r| r.split_whitespace().next().map(String::from)))
        };
        let plan = ChaosPlan {
            db_outage: Some(DbOutage { at: Duration::from_millis(50), length: Duration::from_millis(600), control: DbControl::Signal { pid } }),
            ..Default::default()
        };
        let log = Arc::new(ChaosLog::default());
        let t0 = Instant::now();
        let threads = start(&plan, t0, None, log.clone(), Arc::new(AtomicBool::new(false)));
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(state(pid).as_deref(), Some("T"), "stopped during the outage");
        for t in threads {
            t.join().unwrap();
        }
        assert_ne!(state(pid).as_deref(), Some("T"), "resumed after it");
        let ev = log.events();
        assert_eq!(ev.len(), 1);
        assert!(ev[0].ok && ev[0].kind == "db_outage" && ev[0].end_secs - ev[0].at_secs >= 0.6, "{ev:?}");
        child.kill().unwrap();
        let _ = child.wait();
    }

    #[test]
    fn failed_commands_and_missing_stages_are_logged_not_fatal() {
        let plan = ChaosPlan {
            kill: Some(KillPlan { stage: "parse".into(), times: 1, first_at: Duration::ZERO, every: Duration::ZERO, restart_after: Duration::ZERO }),
            broker_restart: Some(BrokerRestart { at: Duration::ZERO, command: "exit 3".into() }),
            ..Default::default()
        };
        let log = Arc::new(ChaosLog::default());
        for t in start(&plan, Instant::now(), None, log.clone(), Arc::new(AtomicBool::new(false))) {
            t.join().unwrap();
        }
        let ev = log.events();
        assert_eq!(ev.len(), 2);
        assert!(ev.iter().all(|e| !e.ok), "{ev:?}");
    }
}
