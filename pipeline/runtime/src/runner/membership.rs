//! Group membership as `/readyz` reports it: a stage is ready only while its
//! consumer reaches the group coordinator and holds an assignment (possibly
//! empty: a replica beyond the partition count is a ready standby).
//!
//! Three sources, fastest first:
//! - the poll loop's error events: "all brokers down" marks the coordinator
//!   unreachable at once (a killed broker resets its sockets, so this comes
//!   within milliseconds);
//! - the rebalance callbacks: an assignment makes the stage a member, a
//!   *lost* assignment (session expired, fenced) unmakes it;
//! - librdkafka's statistics (every `statistics.interval.ms`): the consumer
//!   group's state (`up`) and its coordinator connection (`UP`), the only
//!   signal that says "reachable again" when nothing else happens (a member
//!   that kept its assignment through a coordinator restart gets no
//!   rebalance callback and, on an idle topic, no record).

use rdkafka::Statistics;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

// 0: unknown (no statistics or error yet), counted as reachable.
const UP: u8 = 1;
const DOWN: u8 = 2;

#[derive(Debug, Default)]
pub(crate) struct Membership {
    /// Coordinator state: 0 (unknown) until the first statistics or error.
    coordinator: AtomicU8,
    /// An assignment was received and has not been lost since.
    assigned: AtomicBool,
    /// The last assignment was lost (not handed over): the reason differs.
    lost: AtomicBool,
}

impl Membership {
    /// `Ok` when the stage is a member of its group with a reachable coordinator.
    pub fn ready(&self) -> Result<(), String> {
        if self.coordinator.load(Ordering::Acquire) == DOWN {
            return Err("not connected to Kafka (group coordinator unreachable)".to_owned());
        }
        if !self.assigned.load(Ordering::Acquire) {
            return Err(if self.lost.load(Ordering::Acquire) {
                "not connected to Kafka (partitions lost, rejoining the group)".to_owned()
            } else {
                "not connected to Kafka (waiting for a partition assignment)".to_owned()
            });
        }
        Ok(())
    }

    /// Partitions assigned (an incremental assignment counts, even empty).
    /// An assignment proves the coordinator answered.
    pub fn on_assign(&self) {
        self.lost.store(false, Ordering::Release);
        self.assigned.store(true, Ordering::Release);
        self.coordinator.store(UP, Ordering::Release);
    }

    /// The assignment was lost: not a member until the next assignment.
    pub fn on_lost(&self) {
        self.lost.store(true, Ordering::Release);
        self.assigned.store(false, Ordering::Release);
    }

    /// librdkafka reported every broker down.
    pub fn on_all_brokers_down(&self) -> bool {
        self.coordinator.swap(DOWN, Ordering::AcqRel) != DOWN
    }

    /// Fold one statistics report in. Returns the new coordinator state when
    /// it changed (true = reachable), for logging.
    pub fn on_stats(&self, stats: &Statistics) -> Option<bool> {
        let up = coordinator_up(stats)?;
        let now = if up { UP } else { DOWN };
        (self.coordinator.swap(now, Ordering::AcqRel) != now).then_some(up)
    }
}

/// Whether the statistics say the group coordinator is reachable: the group
/// handler is `up` and its coordinator connection (the logical
/// `GroupCoordinator` broker) is `UP`. `None` without a group section.
fn coordinator_up(stats: &Statistics) -> Option<bool> {
    let cgrp = stats.cgrp.as_ref()?;
    let connection_up =
        stats.brokers.values().filter(|b| b.name.starts_with("GroupCoordinator")).all(|b| b.state == "UP");
    Some(cgrp.state == "up" && connection_up)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(cgrp_state: &str, coordinator: &str) -> Statistics {
        let json = format!(
            r#"{{"name":"c","client_id":"c","type":"consumer","ts":0,"time":0,"age":0,"replyq":0,"msg_cnt":0,"msg_size":0,
                "msg_max":0,"msg_size_max":0,"simple_cnt":0,"metadata_cache_cnt":0,"tx":0,"tx_bytes":0,"rx":0,"rx_bytes":0,
                "txmsgs":0,"txmsg_bytes":0,"rxmsgs":0,"rxmsg_bytes":0,"brokers":{{"GroupCoordinator":{{"name":"GroupCoordinator",
                "nodeid":1,"nodename":"127.0.0.1:9092","source":"logical","state":"{coordinator}","stateage":0,"outbuf_cnt":0,
                "outbuf_msg_cnt":0,"waitresp_cnt":0,"waitresp_msg_cnt":0,"tx":0,"txbytes":0,"txerrs":0,"txretries":0,
                "txidle":0,"req_timeouts":0,"rx":0,"rxbytes":0,"rxerrs":0,"rxcorriderrs":0,"rxpartial":0,"rxidle":0,
                "zbuf_grow":0,"buf_grow":0,"wakeups":0,"connects":0,"disconnects":0,"req":{{}},"toppars":{{}}}}}},
                "topics":{{}},"cgrp":{{"state":"{cgrp_state}","stateage":0,"join_state":"steady","rebalance_age":0,
                "rebalance_cnt":1,"rebalance_reason":"","assignment_size":1}}}}"#
        );
        serde_json::from_str(&json).expect("statistics JSON")
    }

    #[test]
    fn ready_needs_an_assignment_and_a_reachable_coordinator() {
        let m = Membership::default();
        assert!(m.ready().unwrap_err().contains("waiting for a partition assignment"));
        m.on_assign();
        m.ready().unwrap();
        assert!(m.on_all_brokers_down());
        assert!(!m.on_all_brokers_down(), "reported once");
        assert!(m.ready().unwrap_err().contains("not connected to Kafka"));
        assert_eq!(m.on_stats(&stats("up", "UP")), Some(true));
        m.ready().unwrap();
        assert_eq!(m.on_stats(&stats("up", "UP")), None, "no change");
    }

    #[test]
    fn statistics_alone_take_readiness_away_and_back() {
        let m = Membership::default();
        m.on_assign();
        assert_eq!(m.on_stats(&stats("wait-broker-transport", "DOWN")), Some(false));
        assert!(m.ready().is_err());
        assert_eq!(m.on_stats(&stats("up", "CONNECT")), None, "group up but its connection is not");
        assert!(m.ready().is_err());
        assert_eq!(m.on_stats(&stats("up", "UP")), Some(true));
        m.ready().unwrap();
    }

    #[test]
    fn a_lost_assignment_is_not_ready_until_the_next_one() {
        let m = Membership::default();
        m.on_assign();
        m.on_lost();
        let why = m.ready().unwrap_err();
        assert!(why.contains("partitions lost"), "{why}");
        m.on_stats(&stats("up", "UP"));
        assert!(m.ready().is_err(), "a reachable coordinator is not an assignment");
        m.on_assign();
        m.ready().unwrap();
    }
}
