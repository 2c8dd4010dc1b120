//! The topics docflow's stages exchange records on, each with the envelope
//! type its values hold, and the priority lanes of `docs.raw.*`.
//!
//! The names here are the contract; `topics/topics.toml` (what `docflow
//! topics apply` creates) must list exactly these, which
//! `tests/topology.rs` checks. Code that names a standard topic uses these
//! constants rather than a string of its own, so a rename is one edit.

use crate::envelope::{DeadLetter, EmbeddedDocument, Feedback, ModelUpdate, ParsedDocument, RawDocument, ResultRecord, ScoredDocument};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::marker::PhantomData;

/// A topic whose record values are `T` envelopes.
pub struct Topic<T> {
    name: &'static str,
    envelope: PhantomData<fn() -> T>,
}

impl<T> Topic<T> {
    const fn new(name: &'static str) -> Self {
        Self { name, envelope: PhantomData }
    }

    /// The Kafka topic name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

// By hand: derives would demand `T: Clone`/`Debug` of the envelope.
impl<T> Clone for Topic<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Topic<T> {}
impl<T> fmt::Debug for Topic<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Topic({})", self.name)
    }
}
impl<T> fmt::Display for Topic<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// Parsed documents (parse → infer).
pub const PARSED: Topic<ParsedDocument> = Topic::new("docs.parsed");
/// Embedded documents (infer → score).
pub const EMBEDDED: Topic<EmbeddedDocument> = Topic::new("docs.embedded");
/// Scored documents (score → persist; learn reads it back for training).
pub const SCORED: Topic<ScoredDocument> = Topic::new("docs.scored");
/// Results, published once the row is durable (persist → consumers).
pub const RESULTS: Topic<ResultRecord> = Topic::new("docs.results");
/// Records a stage could not process.
pub const DLQ: Topic<DeadLetter> = Topic::new("docs.dlq");
/// Labels and corrections (people, other systems → learn).
pub const FEEDBACK: Topic<Feedback> = Topic::new("docs.feedback");
/// Full model states, compacted by model name (learn → score).
pub const MODEL_UPDATES: Topic<ModelUpdate> = Topic::new("model.updates");

/// The priority of a raw document: which `docs.raw.<lane>` lane it was
/// published to. Lanes drain highest first (`docflow_runtime::priority`).
///
/// In envelopes (`ParsedDocument::priority`) it is the lane's name as a
/// string, exactly as when the field was a `String`; any other name does
/// not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Priority {
    Critical,
    High,
    #[default]
    Normal,
    Low,
}

impl Priority {
    /// Every lane, highest priority first.
    pub const ALL: [Priority; 4] = [Priority::Critical, Priority::High, Priority::Normal, Priority::Low];

    /// Their names, in the same order.
    pub const NAMES: [&'static str; 4] = [Priority::Critical.as_str(), Priority::High.as_str(), Priority::Normal.as_str(), Priority::Low.as_str()];

    /// The lane's name, as it ends the topic name and as envelopes carry it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }

    /// The lane named `name`, if it is one.
    pub fn parse(name: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The lane's raw topic.
    pub const fn raw_topic(self) -> Topic<RawDocument> {
        match self {
            Priority::Critical => RAW_CRITICAL,
            Priority::High => RAW_HIGH,
            Priority::Normal => RAW_NORMAL,
            Priority::Low => RAW_LOW,
        }
    }

    /// The lane a raw topic name ends in: its last dot-separated part
    /// (`docs.raw.high` → `High`, also under a test prefix), if that is one.
    pub fn of_topic(topic: &str) -> Option<Priority> {
        topic.rsplit('.').next().and_then(Priority::parse)
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Priority::parse(s).ok_or_else(|| format!("unknown priority lane {s:?} (critical, high, normal, low)"))
    }
}

impl From<Priority> for &'static str {
    fn from(p: Priority) -> Self {
        p.as_str()
    }
}

impl TryFrom<String> for Priority {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// `docs.raw.critical`.
pub const RAW_CRITICAL: Topic<RawDocument> = Topic::new("docs.raw.critical");
/// `docs.raw.high`.
pub const RAW_HIGH: Topic<RawDocument> = Topic::new("docs.raw.high");
/// `docs.raw.normal`.
pub const RAW_NORMAL: Topic<RawDocument> = Topic::new("docs.raw.normal");
/// `docs.raw.low`.
pub const RAW_LOW: Topic<RawDocument> = Topic::new("docs.raw.low");

/// The raw lanes' topic names, highest priority first.
pub const RAW_LANES: [&str; 4] = [RAW_CRITICAL.name, RAW_HIGH.name, RAW_NORMAL.name, RAW_LOW.name];

/// Every standard topic's name with the envelope type its values hold, in
/// pipeline order (what `topics/topics.toml` lists).
pub const ALL: [(&str, &str); 11] = [
    (RAW_CRITICAL.name, "RawDocument"),
    (RAW_HIGH.name, "RawDocument"),
    (RAW_NORMAL.name, "RawDocument"),
    (RAW_LOW.name, "RawDocument"),
    (PARSED.name, "ParsedDocument"),
    (EMBEDDED.name, "EmbeddedDocument"),
    (SCORED.name, "ScoredDocument"),
    (RESULTS.name, "ResultRecord"),
    (DLQ.name, "DeadLetter"),
    (FEEDBACK.name, "Feedback"),
    (MODEL_UPDATES.name, "ModelUpdate"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_round_trip_through_their_names_and_topics() {
        for (i, p) in Priority::ALL.into_iter().enumerate() {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
            assert_eq!(p.as_str().parse::<Priority>(), Ok(p));
            assert_eq!(Priority::of_topic(p.raw_topic().name()), Some(p));
            assert_eq!(RAW_LANES[i], p.raw_topic().name());
            assert_eq!(Priority::NAMES[i], p.as_str());
        }
        assert!(Priority::ALL.windows(2).all(|w| w[0] < w[1]), "ALL is highest first");
        assert_eq!(Priority::parse("urgent"), None);
        assert_eq!(Priority::of_topic("docs.parsed"), None);
    }
}
