//! The typed topology (`docflow_schemas::topology`) and the topics as code
//! (`topics/topics.toml`, what `docflow topics apply` creates) name the same
//! topics, and every raw lane has its topic.

use docflow_schemas::{topology, Priority};
use std::collections::BTreeSet;

fn topics_toml() -> toml::Table {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../topics/topics.toml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    toml::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

#[test]
fn topics_toml_lists_exactly_the_typed_topics() {
    let file = topics_toml();
    let listed: Vec<&str> = file["topic"].as_array().expect("[[topic]] tables").iter().map(|t| t["name"].as_str().expect("a topic name")).collect();
    let listed_set: BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(listed.len(), listed_set.len(), "a topic listed twice in topics.toml: {listed:?}");
    let typed: BTreeSet<&str> = topology::ALL.iter().map(|(name, _)| *name).collect();
    assert_eq!(typed.len(), topology::ALL.len(), "a typed topic named twice");
    assert_eq!(listed_set, typed, "topics.toml and docflow_schemas::topology disagree");
}

#[test]
fn every_lane_has_a_raw_topic_and_the_lanes_are_in_priority_order() {
    let raw: Vec<&str> = topology::ALL.iter().filter(|(_, envelope)| *envelope == "RawDocument").map(|(name, _)| *name).collect();
    let lanes: Vec<&str> = Priority::ALL.iter().map(|p| p.raw_topic().name()).collect();
    assert_eq!(raw, lanes);
    assert_eq!(topology::RAW_LANES.to_vec(), lanes);
}

#[test]
fn the_envelope_named_for_each_topic_is_its_type() {
    // The names in `ALL` are for people and tools; the constants carry the
    // types. Both must agree.
    fn short<T>(_: topology::Topic<T>) -> &'static str {
        std::any::type_name::<T>().rsplit("::").next().unwrap()
    }
    let typed = [
        (topology::PARSED.name(), short(topology::PARSED)),
        (topology::EMBEDDED.name(), short(topology::EMBEDDED)),
        (topology::SCORED.name(), short(topology::SCORED)),
        (topology::RESULTS.name(), short(topology::RESULTS)),
        (topology::DLQ.name(), short(topology::DLQ)),
        (topology::FEEDBACK.name(), short(topology::FEEDBACK)),
        (topology::MODEL_UPDATES.name(), short(topology::MODEL_UPDATES)),
    ]
    .into_iter()
    .chain(Priority::ALL.map(|p| (p.raw_topic().name(), short(p.raw_topic()))));
    for (name, envelope) in typed {
        let listed = topology::ALL.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("{name} missing from ALL"));
        assert_eq!(listed.1, envelope, "{name}");
    }
}
