//! Pausing the local Cassandra to simulate an outage (`SIGSTOP`, then
//! `SIGCONT`): every request hangs and times out, exactly what a dead node
//! looks like to the driver, without a 30 s restart.

use std::process::Command;
use std::time::Duration;

/// The local stack's Cassandra pid: `DOCFLOW_CASSANDRA_PID`, else the pid
/// file of `deploy/local/stack.sh`, accepted only if that process is alive
/// and its command line carries `-Ddocflow.stack=cassandra` (as stack.sh
/// itself checks), so a recycled pid is never signalled.
pub fn cassandra_pid() -> Option<u32> {
    if let Ok(p) = std::env::var("DOCFLOW_CASSANDRA_PID") {
        return p.trim().parse().ok();
    }
    let state = std::env::var("DOCFLOW_STATE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.state"));
    let pid: u32 = std::fs::read_to_string(state.join("cassandra/cassandra.pid")).ok()?.trim().parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    cmdline.contains("-Ddocflow.stack=cassandra ").then_some(pid)
}

/// A process stopped with SIGSTOP; SIGCONT on drop (also when the test
/// panics), and a detached watchdog sends SIGCONT after `at_most` even if
/// this test process dies meanwhile (the database is shared).
pub struct PausedProcess {
    pid: u32,
    watchdog: Option<std::process::Child>,
}

impl PausedProcess {
    pub fn stop(pid: u32, at_most: Duration) -> Self {
        let watchdog = Command::new("setsid")
            .args(["sh", "-c", &format!("sleep {}; kill -CONT {pid}", at_most.as_secs())])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawning the SIGCONT watchdog");
        let ok = Command::new("kill").args(["-STOP", &pid.to_string()]).status().expect("running kill").success();
        assert!(ok, "kill -STOP {pid} failed");
        Self { pid, watchdog: Some(watchdog) }
    }
}

impl Drop for PausedProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.pid.to_string()]).status();
        if let Some(mut w) = self.watchdog.take() {
            // The watchdog's `sh` is its own session leader: its pid is its group.
            let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", w.id())]).status();
            let _ = w.wait();
        }
    }
}
