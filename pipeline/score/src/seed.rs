//! The default class set: classes that work before anyone sends a label.
//!
//! `seed/default_classes.json` holds a handful of short example documents per
//! class (invoice, receipt, credit_note, purchase_order, contract, email,
//! bank_statement, other), written for docflow in six languages.
//! `seed/default_classes.prototypes.json` holds, per class, the mean of
//! their all-MiniLM-L6-v2 embeddings, the number of examples, and the
//! SHA-256 of the texts file it was built from; `cargo run -p docflow-score
//! --example build_seed` rebuilds it after the texts change (a test fails
//! while the two disagree).
//!
//! A fresh deployment starts from [`ScoringModel::initial`]: version 0 with
//! each seeded class holding its prototype as *one* example, so a user's
//! first labels outweigh it quickly (five labels make it a sixth of the
//! prototype) while classes nobody labels keep working. The model's
//! provenance names the seed (`default-classes@1`), and so does
//! `docflow model`.
//!
//! The prototypes belong to one encoder: documents embedded by another
//! (another width, or another `encoder_version` name) are not compared with
//! them (see [`SeedSet::encoder`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::classifier::{ClassState, ClassifierState};
use crate::model::{ScoringModel, DEFAULT_MAX_VENDORS};
use crate::stats::RunningStats;

/// The example texts, as shipped.
pub const TEXTS_JSON: &str = include_str!("../seed/default_classes.json");
/// The prototypes built from them, as shipped.
pub const PROTOTYPES_JSON: &str = include_str!("../seed/default_classes.prototypes.json");

/// Why the shipped seed cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seed file does not parse: {0}")]
    Parse(String),
    #[error("seed prototypes were built from other texts (sha256 {built}, texts now {now}): run `cargo run -p docflow-score --example build_seed`")]
    Stale { built: String, now: String },
    #[error("seed class {class} has a prototype of width {found}, expected {expected}")]
    Width { class: String, found: usize, expected: usize },
    #[error("seed holds no class")]
    Empty,
}

/// `seed/default_classes.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct SeedTexts {
    pub name: String,
    pub version: u32,
    pub classes: BTreeMap<String, Vec<String>>,
}

/// One class of `seed/default_classes.prototypes.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedClass {
    /// Example texts averaged.
    pub examples: usize,
    /// Unit mean of their embeddings.
    pub prototype: Vec<f32>,
}

/// `seed/default_classes.prototypes.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedSet {
    pub name: String,
    pub version: u32,
    /// Encoder name the prototypes belong to (an `encoder_version` prefix).
    pub encoder: String,
    pub dim: usize,
    /// SHA-256 (hex) of the texts file the prototypes were built from.
    pub texts_sha256: String,
    pub classes: BTreeMap<String, SeedClass>,
}

impl SeedSet {
    /// `name@version`, as the model's provenance records it.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// Whether a document embedded by `encoder_version` may be compared with these prototypes.
    pub fn fits(&self, encoder_version: &str, dim: usize) -> bool {
        dim == self.dim && encoder_version.starts_with(&self.encoder)
    }
}

/// SHA-256 (hex) of a texts file.
pub fn texts_sha256(texts_json: &str) -> String {
    Sha256::digest(texts_json.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The shipped example texts.
pub fn texts() -> Result<SeedTexts, SeedError> {
    serde_json::from_str(TEXTS_JSON).map_err(|e| SeedError::Parse(e.to_string()))
}

/// The shipped prototypes, checked against the shipped texts.
pub fn shipped() -> Result<SeedSet, SeedError> {
    let set: SeedSet = serde_json::from_str(PROTOTYPES_JSON).map_err(|e| SeedError::Parse(e.to_string()))?;
    let now = texts_sha256(TEXTS_JSON);
    if set.texts_sha256 != now {
        return Err(SeedError::Stale { built: set.texts_sha256, now });
    }
    if set.classes.is_empty() {
        return Err(SeedError::Empty);
    }
    for (class, c) in &set.classes {
        if c.prototype.len() != set.dim {
            return Err(SeedError::Width { class: class.clone(), found: c.prototype.len(), expected: set.dim });
        }
    }
    Ok(set)
}

/// Version 0 holding the seed's classes, each as one example.
pub fn seeded_model(seed: &SeedSet) -> ScoringModel {
    let mut classifier = ClassifierState::new(seed.dim);
    for (name, c) in &seed.classes {
        let norm = c.prototype.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt().max(1e-12);
        let sum = c.prototype.iter().map(|x| f64::from(*x) / norm).collect();
        classifier.classes.insert(name.clone(), ClassState { sum, count: 1, distance: RunningStats::default() });
    }
    let mut model = ScoringModel::empty(seed.dim);
    model.classifier = classifier;
    model.vendors = crate::anomaly::amount::VendorProfiles::new(DEFAULT_MAX_VENDORS);
    model.provenance.seed = Some(seed.label());
    model.seed_encoder = Some(seed.encoder.clone());
    model
}

impl ScoringModel {
    /// What a fresh deployment starts from: the shipped default classes
    /// (version 0), or, if they cannot be read, an empty model (every
    /// document then takes the parser's `doc_type_hint`), with a warning.
    pub fn initial() -> Self {
        match shipped() {
            Ok(seed) => seeded_model(&seed),
            Err(e) => {
                tracing::warn!(error = %e, "default classes unavailable; starting without classes");
                ScoringModel::empty(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_seed_matches_its_texts_and_covers_the_default_classes() {
        let set = shipped().expect("the shipped seed is usable");
        let texts = texts().unwrap();
        let want = ["bank_statement", "contract", "credit_note", "email", "invoice", "other", "purchase_order", "receipt"];
        assert_eq!(set.classes.keys().map(String::as_str).collect::<Vec<_>>(), want);
        assert_eq!(texts.classes.keys().map(String::as_str).collect::<Vec<_>>(), want);
        for (class, c) in &set.classes {
            assert_eq!(c.examples, texts.classes[class].len(), "{class}");
        }
        let model = ScoringModel::initial();
        assert_eq!(model.version, 0);
        assert_eq!(model.provenance.seed.as_deref(), Some("default-classes@1"));
        assert!(model.classifier.classes.values().all(|c| c.count == 1));
        assert!(set.fits("all-MiniLM-L6-v2@abc123", 384) && !set.fits("tiny", 384) && !set.fits("all-MiniLM-L6-v2", 8));
    }
}
