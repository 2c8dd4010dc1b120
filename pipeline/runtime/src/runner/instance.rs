//! Static group membership by default (KIP-345): the consumer's
//! `group.instance.id`, stable across restarts of the same replica, so a
//! replica that crashes and comes back takes its partitions back at once
//! instead of waiting for the session timeout and a rebalance.
//!
//! Where the id comes from, first match wins:
//! 1. `group.instance.id` in the stage's `[kafka]` properties: used as is;
//! 2. `static_membership = false`: none (dynamic membership);
//! 3. `DOCFLOW_GROUP_INSTANCE_ID` (a StatefulSet pod name, a supervisor's
//!    slot): `<value>-<stage>`;
//! 4. otherwise `<host>-<stage>`, with `-<n>` appended for the n-th replica
//!    of the group running on this host at the same time. Replicas on one
//!    host tell each other apart by an exclusive lock on a slot file
//!    (`<temp dir>/docflow-members/<group>.<n>.lock`); the kernel drops the
//!    lock of a killed process, so its restart gets the same slot and id.

use crate::config::StageConfig;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// Environment variable naming this replica for static group membership
/// (`group.instance.id` = `<value>-<stage>`).
pub const GROUP_INSTANCE_ID_ENV: &str = "DOCFLOW_GROUP_INSTANCE_ID";

/// Slots tried on one host before giving up on a lock (then: dynamic).
const MAX_SLOTS: u32 = 256;

/// A chosen `group.instance.id` and the slot lock that keeps it ours.
#[derive(Debug)]
pub(crate) struct InstanceId {
    pub id: String,
    /// Held for the life of the stage's consumer; released on drop or death.
    _slot: Option<File>,
}

/// The `group.instance.id` of stage `stage` under `cfg`, or `None` for
/// dynamic membership (or when the `[kafka]` properties set it themselves).
pub(crate) fn choose(cfg: &StageConfig, stage: &str) -> Option<InstanceId> {
    choose_with(cfg, stage, std::env::var(GROUP_INSTANCE_ID_ENV).ok(), &hostname(), &lock_dir())
}

fn choose_with(cfg: &StageConfig, stage: &str, env: Option<String>, host: &str, locks: &Path) -> Option<InstanceId> {
    if cfg.kafka.contains_key("group.instance.id") || !cfg.static_membership {
        return None;
    }
    if let Some(name) = env.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        return Some(InstanceId { id: format!("{name}-{stage}"), _slot: None });
    }
    let base = format!("{}-{stage}", sanitize(host));
    if std::fs::create_dir_all(locks).is_err() {
        tracing::warn!(dir = %locks.display(), "cannot create the membership lock folder: dynamic group membership");
        return None;
    }
    let group = sanitize(&cfg.group_id);
    for slot in 0..MAX_SLOTS {
        let path = locks.join(format!("{group}.{slot}.lock"));
        let Ok(file) = OpenOptions::new().create(true).truncate(false).write(true).open(&path) else { continue };
        if file.try_lock().is_ok() {
            let id = if slot == 0 { base.clone() } else { format!("{base}-{slot}") };
            return Some(InstanceId { id, _slot: Some(file) });
        }
    }
    tracing::warn!(group = %cfg.group_id, "{MAX_SLOTS} replicas of this group on one host: dynamic group membership");
    None
}

/// This machine's name: `/proc/sys/kernel/hostname`, `$HOSTNAME`, else `localhost`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn lock_dir() -> PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir).join("docflow-members")
}

/// Letters, digits, `.`, `_`, `-`; anything else becomes `_`.
fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> StageConfig {
        StageConfig::new(format!("g/{}", std::process::id()), vec!["in".into()], None)
    }

    fn dir() -> PathBuf {
        std::env::temp_dir().join(format!("docflow-instance-test-{}", uuid::Uuid::new_v4().simple()))
    }

    #[test]
    fn host_and_stage_with_a_slot_per_concurrent_replica() {
        let locks = dir();
        let a = choose_with(&cfg(), "parse", None, "node-1", &locks).unwrap();
        assert_eq!(a.id, "node-1-parse");
        let b = choose_with(&cfg(), "parse", None, "node-1", &locks).unwrap();
        assert_eq!(b.id, "node-1-parse-1", "a second live replica must not fence the first");
        drop(a);
        let c = choose_with(&cfg(), "parse", None, "node-1", &locks).unwrap();
        assert_eq!(c.id, "node-1-parse", "a restart takes the free slot back, so the same id");
        std::fs::remove_dir_all(&locks).ok();
    }

    #[test]
    fn environment_and_explicit_settings_win() {
        let locks = dir();
        let from_env = choose_with(&cfg(), "infer", Some(" docflow-infer-2 ".into()), "h", &locks).unwrap();
        assert_eq!(from_env.id, "docflow-infer-2-infer");
        let mut explicit = cfg();
        explicit.kafka.insert("group.instance.id".into(), "mine".into());
        assert!(choose_with(&explicit, "infer", Some("x".into()), "h", &locks).is_none());
        let dynamic = StageConfig { static_membership: false, ..cfg() };
        assert!(choose_with(&dynamic, "infer", Some("x".into()), "h", &locks).is_none());
        assert_eq!(sanitize("my host/1"), "my_host_1");
        std::fs::remove_dir_all(&locks).ok();
    }
}
