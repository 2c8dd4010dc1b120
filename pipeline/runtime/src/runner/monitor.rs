//! The lag monitor thread: measures the downstream group's lag (for
//! backpressure) and this group's lag per priority lane, and publishes the
//! results to the poll loop through atomics in [`Shared`]. Its calls block
//! (broker round trips), which is why it is a thread of its own.

use super::shared::{Shared, LAG_UNKNOWN};
use super::RunError;
use crate::config::StageConfig;
use crate::lag::{partitions_of, probe, topic_lag};
use crate::priority::LanePolicy;
use rdkafka::consumer::BaseConsumer;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(5);
const REFRESH_PARTITIONS: Duration = Duration::from_secs(10);

/// Partition list of a topic, refreshed now and then (topics may grow).
struct Partitions {
    ids: Vec<i32>,
    fetched: Option<Instant>,
}

impl Partitions {
    fn new() -> Self {
        Self { ids: Vec::new(), fetched: None }
    }

    fn get(&mut self, probe: &BaseConsumer, topic: &str) -> Option<&[i32]> {
        if self.fetched.is_none_or(|t| t.elapsed() > REFRESH_PARTITIONS) {
            match partitions_of(probe, topic, TIMEOUT) {
                Ok(ids) => {
                    self.ids = ids;
                    self.fetched = Some(Instant::now());
                }
                Err(e) => {
                    tracing::debug!(topic, "lag monitor: metadata: {e}");
                    return None;
                }
            }
        }
        Some(&self.ids)
    }
}

/// Start the monitor if backpressure or lanes need it.
pub(crate) fn spawn(shared: Arc<Shared>, cfg: Arc<StageConfig>) -> Result<Option<std::thread::JoinHandle<()>>, RunError> {
    let downstream = match (&cfg.backpressure.downstream_group, cfg.downstream_topic()) {
        (Some(group), Some(topic)) => Some((probe(&cfg.brokers, group, &cfg.kafka).map_err(RunError::LagProbe)?, topic.to_owned())),
        _ => None,
    };
    let lanes = if cfg.lanes_enabled() { Some(probe(&cfg.brokers, &cfg.group_id, &cfg.kafka).map_err(RunError::LagProbe)?) } else { None };
    if downstream.is_none() && lanes.is_none() {
        return Ok(None);
    }
    let handle = std::thread::Builder::new()
        .name(format!("docflow-lag-{}", shared.stage_name))
        .spawn(move || run(shared, cfg, downstream, lanes))
        .map_err(RunError::MonitorThread)?;
    Ok(Some(handle))
}

fn run(shared: Arc<Shared>, cfg: Arc<StageConfig>, downstream: Option<(BaseConsumer, String)>, lanes: Option<BaseConsumer>) {
    let bp_every = Duration::from_millis(cfg.backpressure.check_interval_ms.max(10));
    let lane_every = Duration::from_millis(cfg.priority.check_interval_ms.max(10));
    let mut next_bp = Instant::now();
    let mut next_lane = Instant::now();
    let mut down_parts = Partitions::new();
    let mut lane_parts: Vec<Partitions> = cfg.input_topics.iter().map(|_| Partitions::new()).collect();
    let mut policy = LanePolicy::new(cfg.input_topics.len(), &cfg.priority);
    let mut last_mask = 0u64;

    while !shared.closing.load(Ordering::Acquire) {
        let now = Instant::now();
        if let Some((probe, topic)) = &downstream {
            if now >= next_bp {
                next_bp = now + bp_every;
                let acked = shared.outputs_acked.load(Ordering::Relaxed);
                let lag = down_parts
                    .get(probe, topic)
                    .and_then(|parts| topic_lag(probe, topic, parts, &HashMap::new(), TIMEOUT).map_err(|e| tracing::debug!("downstream lag: {e}")).ok());
                match lag {
                    Some(lag) => {
                        shared.acked_at_measure.store(acked, Ordering::Relaxed);
                        shared.downstream_lag.store(lag.total(), Ordering::Relaxed);
                    }
                    // Unknown: the gate keeps its current state.
                    None => shared.downstream_lag.store(LAG_UNKNOWN, Ordering::Relaxed),
                }
            }
        }
        if let Some(probe) = &lanes {
            if now >= next_lane {
                next_lane = now + lane_every;
                let positions = own_positions(&shared);
                let lags: Vec<Option<u64>> = cfg
                    .input_topics
                    .iter()
                    .enumerate()
                    .map(|(i, topic)| {
                        let parts = lane_parts[i].get(probe, topic)?.to_vec();
                        let pos = positions.get(&(i as u16)).cloned().unwrap_or_default();
                        topic_lag(probe, topic, &parts, &pos, TIMEOUT).ok().map(|l| l.total())
                    })
                    .collect();
                let paused = policy.decide(Instant::now(), &lags);
                let mask = paused.iter().enumerate().fold(0u64, |m, (i, p)| if *p { m | (1 << i) } else { m });
                if mask != last_mask {
                    tracing::debug!(stage = %shared.stage_name, ?lags, mask, "priority lanes");
                    last_mask = mask;
                }
                shared.lanes_paused.store(mask, Ordering::Relaxed);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// This process's consumer positions per input topic and partition.
fn own_positions(shared: &Shared) -> HashMap<u16, HashMap<i32, i64>> {
    let book = shared.book();
    let mut out: HashMap<u16, HashMap<i32, i64>> = HashMap::new();
    let tps: Vec<_> = book.partitions().collect();
    for tp in tps {
        if let Some(pos) = book.get(&tp).and_then(|t| t.position()) {
            out.entry(tp.0).or_default().insert(tp.1, pos);
        }
    }
    out
}
