//! The standard docflow topology: default [`StageConfig`] of each stage
//! (input lanes, output topic, group, the next stage's group for
//! backpressure). A config file overrides any of it ([`crate::config`]).
//! The topic names and the raw lanes come from `docflow_schemas::topology`;
//! which stage reads and writes which is docflow's, so it lives here, not
//! in the generic stage runtime.

use docflow_runtime::StageConfig;
use docflow_schemas::topology::{self, RAW_LANES};

/// Names of the standard stages, in pipeline order.
pub const STAGES: [&str; 5] = ["parse", "infer", "score", "persist", "learn"];

/// Default config of a standard stage, or `None` for an unknown name.
pub fn standard_config(stage: &str) -> Option<StageConfig> {
    let (inputs, output, downstream): (Vec<&str>, Option<&str>, Option<&str>) = match stage {
        "parse" => (RAW_LANES.to_vec(), Some(topology::PARSED.name()), Some("docflow-infer")),
        "infer" => (vec![topology::PARSED.name()], Some(topology::EMBEDDED.name()), Some("docflow-score")),
        "score" => (vec![topology::EMBEDDED.name()], Some(topology::SCORED.name()), Some("docflow-persist")),
        "persist" => (vec![topology::SCORED.name()], Some(topology::RESULTS.name()), None),
        "learn" => (vec![topology::FEEDBACK.name()], Some(topology::MODEL_UPDATES.name()), None),
        _ => return None,
    };
    let mut cfg = StageConfig::new(format!("docflow-{stage}"), inputs.into_iter().map(str::to_owned).collect(), output.map(str::to_owned));
    cfg.backpressure.downstream_group = downstream.map(str::to_owned);
    Some(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_standard_stage_is_valid_and_chained() {
        for s in STAGES {
            let cfg = standard_config(s).unwrap();
            cfg.validate().unwrap();
            if let Some(next) = &cfg.backpressure.downstream_group {
                let next_stage = next.trim_start_matches("docflow-");
                let next_cfg = standard_config(next_stage).unwrap();
                assert_eq!(Some(&next_cfg.input_topics[0]), cfg.output_topic.as_ref(), "{s} feeds {next_stage}");
            }
        }
        assert!(standard_config("parse").unwrap().lanes_enabled());
        assert!(standard_config("nope").is_none());
    }
}
