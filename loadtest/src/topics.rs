//! Topic names the harness publishes to and follows, and the priority mix
//! that picks a raw lane per document.

use docflow_schemas::{topology, Priority};
use std::fmt;
use std::str::FromStr;

/// Where the harness publishes and what it follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Topics {
    /// `(lane, topic)` for each raw lane the priority mix may pick.
    pub raw: Vec<(String, String)>,
    /// `docs.results` (ResultRecord).
    pub results: String,
    /// `docs.dlq` (DeadLetter, keyed by the original key).
    pub dlq: String,
    /// The stages between raw and results, with the topics they produce
    /// (`parse` → `docs.parsed`, …), for the per-stage latency breakdown.
    /// Empty: no breakdown.
    pub stages: Vec<(String, String)>,
}

impl Topics {
    /// The standard names with `prefix` in front (`""` gives `docs.raw.normal`, …).
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            raw: Priority::ALL.iter().map(|p| (p.to_string(), format!("{prefix}{}", p.raw_topic()))).collect(),
            results: format!("{prefix}{}", topology::RESULTS),
            dlq: format!("{prefix}{}", topology::DLQ),
            stages: [
                ("parse", topology::PARSED.name()),
                ("infer", topology::EMBEDDED.name()),
                ("score", topology::SCORED.name()),
                ("persist", topology::RESULTS.name()),
            ]
            .iter()
            .map(|(stage, topic)| (stage.to_string(), format!("{prefix}{topic}")))
            .collect(),
        }
    }

    /// The hops of the per-stage breakdown: each stage with the topics it
    /// reads (the raw lanes for the first) and the one it produces.
    pub fn hops(&self) -> Vec<crate::hops::Hop> {
        let mut inputs: Vec<String> = self.raw.iter().map(|(_, t)| t.clone()).collect();
        self.stages
            .iter()
            .map(|(stage, output)| {
                let hop = crate::hops::Hop { stage: stage.clone(), inputs: std::mem::take(&mut inputs), output: output.clone() };
                inputs = vec![output.clone()];
                hop
            })
            .collect()
    }

    /// The raw topic of `lane`, if the lane is configured.
    pub fn raw_topic(&self, lane: &str) -> Option<&str> {
        self.raw.iter().find(|(l, _)| l == lane).map(|(_, t)| t.as_str())
    }
}

impl Default for Topics {
    fn default() -> Self {
        Self::with_prefix("")
    }
}

/// Relative weights of the raw lanes, e.g. `critical=1,high=4,normal=90,low=5`.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorityMix {
    /// `(lane, weight)`; weights are non-negative and sum to more than zero.
    pub weights: Vec<(String, f64)>,
}

impl PriorityMix {
    /// Everything on one lane.
    pub fn single(lane: &str) -> Self {
        Self { weights: vec![(lane.to_string(), 1.0)] }
    }

    /// The lane for a uniform draw `u` in [0, 1).
    pub fn pick(&self, u: f64) -> &str {
        let total: f64 = self.weights.iter().map(|(_, w)| w).sum();
        let mut acc = 0.0;
        for (lane, w) in &self.weights {
            acc += w / total;
            if u < acc {
                return lane;
            }
        }
        // Rounding can leave `acc` a hair under 1: the last lane with weight takes it.
        self.weights.iter().rev().find(|(_, w)| *w > 0.0).map(|(l, _)| l.as_str()).unwrap_or("normal")
    }
}

impl Default for PriorityMix {
    /// Mostly `normal`, a little of everything else.
    fn default() -> Self {
        Self {
            weights: vec![
                ("critical".into(), 0.02),
                ("high".into(), 0.08),
                ("normal".into(), 0.80),
                ("low".into(), 0.10),
            ],
        }
    }
}

/// A priority mix that did not parse.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("bad priority mix {input:?}: {why} (expected e.g. critical=1,high=4,normal=90,low=5)")]
pub struct BadMix {
    pub input: String,
    pub why: String,
}

impl FromStr for PriorityMix {
    type Err = BadMix;
    fn from_str(s: &str) -> Result<Self, BadMix> {
        let bad = |why: String| BadMix { input: s.to_string(), why };
        let mut weights = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (lane, w) = part.split_once('=').ok_or_else(|| bad(format!("{part:?} has no '='")))?;
            let lane = lane.trim();
            if Priority::parse(lane).is_none() {
                return Err(bad(format!("unknown lane {lane:?}")));
            }
            let w: f64 = w.trim().parse().map_err(|_| bad(format!("weight {w:?} is not a number")))?;
            if !(w.is_finite() && w >= 0.0) {
                return Err(bad(format!("weight {w} must be finite and >= 0")));
            }
            weights.push((lane.to_string(), w));
        }
        if weights.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
            return Err(bad("weights sum to zero".into()));
        }
        Ok(Self { weights })
    }
}

impl fmt::Display for PriorityMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.weights.iter().map(|(l, w)| format!("{l}={w}")).collect();
        f.write_str(&parts.join(","))
    }
}

/// Creates the pipeline's topics under `prefix` where missing (replication
/// 1, `partitions` each; `model.updates` compacted with one partition), so a
/// load test can run on its own topics beside anything else on the cluster.
/// Existing topics are left as they are.
pub async fn ensure_pipeline_topics(brokers: &str, prefix: &str, partitions: i32) -> anyhow::Result<()> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::types::RDKafkaErrorCode;
    let admin: AdminClient<rdkafka::client::DefaultClientContext> =
        rdkafka::ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    let names: Vec<String> = topology::ALL.iter().map(|(t, _)| format!("{prefix}{t}")).collect();
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|n| {
            if n.ends_with(topology::MODEL_UPDATES.name()) {
                NewTopic::new(n, 1, TopicReplication::Fixed(1)).set("cleanup.policy", "compact")
            } else {
                NewTopic::new(n, partitions, TopicReplication::Fixed(1))
            }
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(std::time::Duration::from_secs(30)));
    for r in admin.create_topics(&topics, &opts).await? {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => anyhow::bail!("creating topic {t}: {e}"),
        }
    }
    // Stages started right after ask for metadata at once: wait until
    // every partition has a leader (a fresh topic answers NotLeader first).
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let probe: BaseConsumer = rdkafka::ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for name in &names {
        loop {
            // The leader must also answer offset queries (the stages' first call).
            let ok = probe.fetch_metadata(Some(name), std::time::Duration::from_secs(5)).ok().is_some_and(|md| {
                md.topics().first().is_some_and(|t| {
                    t.error().is_none()
                        && !t.partitions().is_empty()
                        && t.partitions().iter().all(|p| p.leader() >= 0 && probe.fetch_watermarks(name, p.id(), std::time::Duration::from_secs(5)).is_ok())
                })
            });
            if ok {
                break;
            }
            anyhow::ensure!(std::time::Instant::now() < deadline, "topic {name} has no leader after 30 s");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_parses_and_picks_by_weight() {
        let m: PriorityMix = "critical=1, normal=3".parse().unwrap();
        assert_eq!(m.pick(0.0), "critical");
        assert_eq!(m.pick(0.24), "critical");
        assert_eq!(m.pick(0.26), "normal");
        assert_eq!(m.pick(0.999_999), "normal");
        assert!("bogus=1".parse::<PriorityMix>().is_err());
        assert!("normal=0".parse::<PriorityMix>().is_err());
        assert!("normal".parse::<PriorityMix>().is_err());
        assert!("normal=-1".parse::<PriorityMix>().is_err());
    }

    #[test]
    fn prefix_names_every_topic() {
        let t = Topics::with_prefix("t1.");
        assert_eq!(t.raw_topic("low"), Some("t1.docs.raw.low"));
        assert_eq!(t.results, "t1.docs.results");
        assert_eq!(t.dlq, "t1.docs.dlq");
    }
}
