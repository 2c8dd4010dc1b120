//! The scoring model: its serialisable state, its versions on `model.updates`,
//! gradual rollout, rollback and the lock-free hot swap.
//!
//! - [`ScoringModel`]: everything a version pins (prototypes, vendor
//!   profiles, thresholds). Mutated only by the learner.
//! - [`StateBlob`]: what `ModelUpdate.state` holds: MessagePack (named
//!   fields, so fields can be added with `#[serde(default)]`) of the new model
//!   *and* the one it replaces. `model.updates` is compacted to one record per
//!   key, so the latest record alone must let a restarted scorer serve a
//!   rollout (both versions) and let `docflow model rollback` restore the
//!   previous version.
//! - [`Deployment`]: the compiled current (and previous) model plus the
//!   rollout fraction; [`Deployment::select`] picks a version per document by
//!   a stable hash of its id, so a document always gets the same version for
//!   a given deployment, on every replica.
//! - [`ModelHandle`]: an `ArcSwap<Deployment>`. Scoring loads the current
//!   `Arc` without locks; installing compiles the new version off to the side
//!   and swaps one pointer. In-flight scorings finish on the version they
//!   started with, and every output names that version.

use std::sync::Arc;

use arc_swap::ArcSwap;
use docflow_core::StageError;
use docflow_parse::extract::corrections::LayoutHints;
use docflow_schemas::ModelUpdate;
use serde::{Deserialize, Serialize};

use crate::anomaly::amount::{CompiledVendors, VendorProfiles};
use crate::anomaly::AnomalyParams;
use crate::classifier::{ClassifierParams, ClassifierState, CompiledClassifier};
use crate::vector::unit_bucket;

/// Kafka key of the scoring model on the compacted `model.updates` topic.
pub const MODEL_KEY: &str = "scoring";
/// Format of [`StateBlob`]; bumped on incompatible changes.
pub const STATE_FORMAT: u16 = 1;
/// Default cap on vendor/currency profiles kept in a model.
pub const DEFAULT_MAX_VENDORS: usize = 20_000;

/// Everything a model version decides with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub classifier: ClassifierParams,
    pub anomaly: AnomalyParams,
}

/// Counters describing what went into a version (for operators).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub labels: u64,
    pub results: u64,
    pub corrections: u64,
    /// Field corrections learned into [`ScoringModel::layouts`].
    #[serde(default)]
    pub field_corrections: u64,
    /// Set when this version restores an earlier one (`docflow model rollback`).
    #[serde(default)]
    pub restored_from: Option<u64>,
    /// The default class set the model started from (`None`: no prior, every
    /// class was learned from labels), e.g. `default-classes@1`.
    #[serde(default)]
    pub seed: Option<String>,
    /// What changed since the previous version.
    #[serde(default)]
    pub changes: Changes,
}

/// What one version changed relative to the version before it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    /// Labels folded in, per class.
    #[serde(default)]
    pub labels_by_class: std::collections::BTreeMap<String, u64>,
    /// Anomaly corrections that moved a threshold.
    #[serde(default)]
    pub corrections: u64,
    /// Processed results folded into history (vendor amounts, class distances).
    #[serde(default)]
    pub results: u64,
    /// Field corrections learned, per field (`total`, `vendor`, …).
    #[serde(default)]
    pub fields_learned: std::collections::BTreeMap<String, u64>,
    /// Field corrections recorded but not learned, each `id field: reason`
    /// (at most [`MAX_REJECTIONS_KEPT`] per version).
    #[serde(default)]
    pub fields_rejected: Vec<String>,
}

/// Rejected field corrections a version keeps the reasons of.
pub const MAX_REJECTIONS_KEPT: usize = 100;

impl Changes {
    /// One line for an operator, e.g. `labels invoice +3, email +1; 2 corrections; history +500 results`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.labels_by_class.is_empty() {
            let per: Vec<String> = self.labels_by_class.iter().map(|(c, n)| format!("{c} +{n}")).collect();
            parts.push(format!("labels {}", per.join(", ")));
        }
        if self.corrections > 0 {
            parts.push(format!("{} corrections", self.corrections));
        }
        if !self.fields_learned.is_empty() {
            let per: Vec<String> = self.fields_learned.iter().map(|(f, n)| format!("{f} +{n}")).collect();
            parts.push(format!("fields learned {}", per.join(", ")));
        }
        if !self.fields_rejected.is_empty() {
            parts.push(format!("{} field corrections not learned ({})", self.fields_rejected.len(), self.fields_rejected.join("; ")));
        }
        if self.results > 0 {
            parts.push(format!("history +{} results", self.results));
        }
        if parts.is_empty() {
            "no change".to_string()
        } else {
            parts.join("; ")
        }
    }
}

/// One version of the scoring model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoringModel {
    pub version: u64,
    pub created_at_ms: i64,
    pub classifier: ClassifierState,
    pub vendors: VendorProfiles,
    pub thresholds: Thresholds,
    #[serde(default)]
    pub provenance: Provenance,
    /// The encoder the seeded prototypes belong to (an `encoder_version`
    /// prefix; `None` for a model without a seed). Until the first label,
    /// documents from another encoder are not compared with them.
    #[serde(default)]
    pub seed_encoder: Option<String>,
    /// Where each corrected sender's layout puts its fields: the parse
    /// stage reads documents of that layout there. Versioned with the rest,
    /// so a rollback takes a bad correction back.
    #[serde(default)]
    pub layouts: LayoutHints,
}

impl ScoringModel {
    /// Version 0: no classes, no vendor history, default thresholds.
    /// `dim` 0 means "set by the first labeled example".
    pub fn empty(dim: usize) -> Self {
        Self {
            version: 0,
            created_at_ms: 0,
            classifier: ClassifierState::new(dim),
            vendors: VendorProfiles::new(DEFAULT_MAX_VENDORS),
            thresholds: Thresholds::default(),
            provenance: Provenance::default(),
            seed_encoder: None,
            layouts: LayoutHints::default(),
        }
    }
}

/// The payload of `ModelUpdate.state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateBlob {
    pub format: u16,
    pub current: ScoringModel,
    /// The version that serves the documents outside the rollout fraction,
    /// and the one a rollback restores.
    pub previous: Option<ScoringModel>,
}

/// Why a model update could not be built or used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model state does not decode: {0}")]
    Decode(String),
    #[error("model state does not encode: {0}")]
    Encode(String),
    #[error("model state format {found} is not supported (this build reads {expected})")]
    Format { found: u16, expected: u16 },
    #[error("update version {update} disagrees with its state's version {state}")]
    VersionMismatch { update: u64, state: u64 },
    #[error("rollout fraction {0} is not in [0, 1]")]
    Fraction(f64),
    #[error("version {0} has no previous version to roll back to")]
    NoPrevious(u64),
}

impl From<ModelError> for StageError {
    fn from(e: ModelError) -> Self {
        StageError::user_input("model_update", e.to_string())
    }
}

fn check_fraction(f: f64) -> Result<f64, ModelError> {
    if (0.0..=1.0).contains(&f) {
        Ok(f)
    } else {
        Err(ModelError::Fraction(f))
    }
}

/// Builds the `model.updates` record for `current`, keeping `previous` for
/// the rest of the traffic and for rollback.
pub fn encode_update(
    current: &ScoringModel,
    previous: Option<&ScoringModel>,
    rollout_fraction: f64,
    created_at_ms: i64,
) -> Result<ModelUpdate, ModelError> {
    let rollout_fraction = check_fraction(rollout_fraction)?;
    let blob = StateBlob { format: STATE_FORMAT, current: current.clone(), previous: previous.cloned() };
    let state = rmp_serde::to_vec_named(&blob).map_err(|e| ModelError::Encode(e.to_string()))?;
    Ok(ModelUpdate {
        version: current.version,
        rollout_fraction,
        previous_version: previous.map(|p| p.version),
        state,
        created_at_ms,
    })
}

/// Decodes and checks a `model.updates` record.
pub fn decode_update(update: &ModelUpdate) -> Result<StateBlob, ModelError> {
    check_fraction(update.rollout_fraction)?;
    let blob: StateBlob = rmp_serde::from_slice(&update.state).map_err(|e| ModelError::Decode(e.to_string()))?;
    if blob.format != STATE_FORMAT {
        return Err(ModelError::Format { found: blob.format, expected: STATE_FORMAT });
    }
    if blob.current.version != update.version {
        return Err(ModelError::VersionMismatch { update: update.version, state: blob.current.version });
    }
    Ok(blob)
}

/// `docflow model promote`: the same version with a new rollout fraction.
pub fn promote(latest: &ModelUpdate, rollout_fraction: f64, now_ms: i64) -> Result<ModelUpdate, ModelError> {
    let blob = decode_update(latest)?;
    encode_update(&blob.current, blob.previous.as_ref(), rollout_fraction, now_ms)
}

/// `docflow model rollback`: a new version (latest + 1, so versions stay
/// monotonic and every version number names exactly one state) whose state is
/// the previous version's, served to every document at once. The learner
/// adopts it and continues from it.
pub fn rollback(latest: &ModelUpdate, now_ms: i64) -> Result<ModelUpdate, ModelError> {
    let blob = decode_update(latest)?;
    let mut restored = blob.previous.ok_or(ModelError::NoPrevious(latest.version))?;
    restored.provenance.restored_from = Some(restored.version);
    restored.version = latest.version + 1;
    restored.created_at_ms = now_ms;
    encode_update(&restored, None, 1.0, now_ms)
}

/// `docflow model show`: what a `model.updates` record serves and what changed.
pub fn describe(update: &ModelUpdate) -> Result<String, ModelError> {
    let blob = decode_update(update)?;
    Ok(describe_model(&blob.current, update.rollout_fraction, update.previous_version))
}

/// [`describe`] for a model (also version 0, before anything was published).
pub fn describe_model(m: &ScoringModel, rollout_fraction: f64, previous: Option<u64>) -> String {
    let mut out = format!(
        "scoring model version {} (rollout fraction {rollout_fraction}, previous version {})\n",
        m.version,
        previous.map_or("none".to_string(), |v| v.to_string())
    );
    match (&m.provenance.seed, &m.seed_encoder) {
        (Some(seed), Some(enc)) => out.push_str(&format!("  default classes: {seed} (prototypes of {enc}), refined by labels\n")),
        (Some(seed), None) => out.push_str(&format!("  default classes: {seed}\n")),
        _ => out.push_str("  default classes: none (every class learned from labels)\n"),
    }
    let classes: Vec<String> = m.classifier.classes.iter().map(|(name, c)| format!("{name} ({})", c.count)).collect();
    out.push_str(&format!("  classes (examples): {}\n", if classes.is_empty() { "none".to_string() } else { classes.join(", ") }));
    out.push_str(&format!("  vendor and class amount profiles: {}\n", m.vendors.windows.len()));
    out.push_str(&format!("  layouts learned from field corrections: {}\n", m.layouts.layouts.len()));
    let what = if m.version == 0 { "not published yet".to_string() } else { format!("changed in this version: {}", m.provenance.changes.summary()) };
    out.push_str(&format!("  {what}\n"));
    out.push_str(&format!(
        "  all time: {} labels, {} corrections, {} field corrections, {} results{}",
        m.provenance.labels,
        m.provenance.corrections,
        m.provenance.field_corrections,
        m.provenance.results,
        m.provenance.restored_from.map_or(String::new(), |v| format!("; restores version {v}"))
    ));
    out
}

/// A model version prepared for scoring (prototypes normalised, vendor medians computed).
#[derive(Debug)]
pub struct CompiledModel {
    pub version: u64,
    /// Set while the classes are the seed's alone (no label yet): the
    /// encoder whose documents they may classify.
    pub seed_only_encoder: Option<String>,
    pub classifier: CompiledClassifier,
    pub vendors: CompiledVendors,
    pub thresholds: Thresholds,
}

impl CompiledModel {
    pub fn new(model: &ScoringModel) -> Self {
        Self {
            version: model.version,
            seed_only_encoder: model.seed_encoder.clone().filter(|_| model.provenance.labels == 0),
            classifier: CompiledClassifier::new(&model.classifier, model.thresholds.classifier.clone()),
            vendors: CompiledVendors::new(&model.vendors),
            thresholds: model.thresholds.clone(),
        }
    }
}

/// The versions in service and how documents are split between them.
#[derive(Debug)]
pub struct Deployment {
    pub current: Arc<CompiledModel>,
    pub previous: Option<Arc<CompiledModel>>,
    /// Fraction of documents (by id hash) served by `current`.
    pub rollout_fraction: f64,
}

impl Deployment {
    pub fn from_blob(blob: &StateBlob, rollout_fraction: f64) -> Self {
        Self {
            current: Arc::new(CompiledModel::new(&blob.current)),
            previous: blob.previous.as_ref().map(|p| Arc::new(CompiledModel::new(p))),
            rollout_fraction,
        }
    }

    /// The version that scores `doc_id`: `current` for ids whose hash bucket
    /// falls under the rollout fraction, `previous` for the rest.
    pub fn select(&self, doc_id: &str) -> &Arc<CompiledModel> {
        match &self.previous {
            Some(prev) if self.rollout_fraction < 1.0 && unit_bucket(doc_id) >= self.rollout_fraction => prev,
            _ => &self.current,
        }
    }
}

/// The layouts the parse stage reads documents with: those of the
/// version(s) in service, split between documents by the same id hash as
/// [`Deployment::select`], so a document's fields and its scores come from
/// one version.
#[derive(Debug, Clone, Default)]
pub struct LayoutDeployment {
    pub version: u64,
    pub current: Arc<LayoutHints>,
    pub previous: Option<Arc<LayoutHints>>,
    /// Fraction of documents (by id hash) read with `current`.
    pub rollout_fraction: f64,
}

impl LayoutDeployment {
    /// The layouts of a `model.updates` record.
    pub fn from_update(update: &ModelUpdate) -> Result<Self, ModelError> {
        let blob = decode_update(update)?;
        Ok(Self {
            version: update.version,
            current: Arc::new(blob.current.layouts),
            previous: blob.previous.map(|p| Arc::new(p.layouts)),
            rollout_fraction: update.rollout_fraction,
        })
    }

    /// The layouts that read `doc_id`.
    pub fn select(&self, doc_id: &str) -> &Arc<LayoutHints> {
        match &self.previous {
            Some(prev) if self.rollout_fraction < 1.0 && unit_bucket(doc_id) >= self.rollout_fraction => prev,
            _ => &self.current,
        }
    }
}

/// What [`ModelHandle::install`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    Swapped { version: u64 },
    /// Older than the version in service (a replayed or out-of-order record).
    IgnoredStale { version: u64, serving: u64 },
}

/// The hot-swappable deployment shared by every scoring task.
#[derive(Debug)]
pub struct ModelHandle {
    inner: ArcSwap<Deployment>,
}

impl ModelHandle {
    /// Starts with `model` fully rolled out.
    pub fn new(model: &ScoringModel) -> Self {
        let blob = StateBlob { format: STATE_FORMAT, current: model.clone(), previous: None };
        Self { inner: ArcSwap::from_pointee(Deployment::from_blob(&blob, 1.0)) }
    }

    /// The deployment in service now (lock-free; hold it for one document or batch).
    pub fn load(&self) -> Arc<Deployment> {
        self.inner.load_full()
    }

    pub fn version(&self) -> u64 {
        self.inner.load().current.version
    }

    /// Decodes, compiles and swaps in a `model.updates` record. Versions are
    /// monotonic (rollback publishes latest + 1), so an older record is a
    /// replay and is ignored; the same version is accepted (a promotion).
    pub fn install(&self, update: &ModelUpdate) -> Result<Installed, ModelError> {
        let serving = self.version();
        if update.version < serving {
            return Ok(Installed::IgnoredStale { version: update.version, serving });
        }
        let blob = decode_update(update)?;
        let deployment = Deployment::from_blob(&blob, update.rollout_fraction);
        self.inner.store(Arc::new(deployment));
        Ok(Installed::Swapped { version: update.version })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(version: u64) -> ScoringModel {
        let mut m = ScoringModel::empty(2);
        m.version = version;
        m.classifier.add_example(&format!("class{version}"), &[1.0, 0.0]).unwrap();
        m
    }

    #[test]
    fn roundtrip_and_rollout_split() {
        let u = encode_update(&model(2), Some(&model(1)), 0.3, 5).unwrap();
        assert_eq!(u.previous_version, Some(1));
        let blob = decode_update(&u).unwrap();
        assert_eq!(blob.current, model(2));
        let h = ModelHandle::new(&ScoringModel::empty(2));
        assert_eq!(h.install(&u).unwrap(), Installed::Swapped { version: 2 });
        let d = h.load();
        let on_new = (0..10_000).filter(|i| d.select(&format!("d{i}")).version == 2).count();
        assert!((2_700..3_300).contains(&on_new), "{on_new}");
        // Same id, same version, every time.
        assert_eq!(d.select("d7").version, h.load().select("d7").version);
    }

    #[test]
    fn stale_updates_are_ignored_and_bad_ones_rejected() {
        let h = ModelHandle::new(&ScoringModel::empty(2));
        h.install(&encode_update(&model(5), None, 1.0, 0).unwrap()).unwrap();
        let old = encode_update(&model(4), None, 1.0, 0).unwrap();
        assert_eq!(h.install(&old).unwrap(), Installed::IgnoredStale { version: 4, serving: 5 });
        let mut bad = encode_update(&model(6), None, 1.0, 0).unwrap();
        bad.state.truncate(10);
        assert!(matches!(h.install(&bad), Err(ModelError::Decode(_))));
        let mut lying = encode_update(&model(6), None, 1.0, 0).unwrap();
        lying.version = 9;
        assert!(matches!(h.install(&lying), Err(ModelError::VersionMismatch { .. })));
        assert!(matches!(encode_update(&model(6), None, 1.5, 0), Err(ModelError::Fraction(_))));
        assert_eq!(h.version(), 5);
    }

    #[test]
    fn rollback_restores_previous_under_a_new_version() {
        let u = encode_update(&model(2), Some(&model(1)), 0.1, 0).unwrap();
        let r = rollback(&u, 9).unwrap();
        assert_eq!(r.version, 3);
        assert_eq!(r.rollout_fraction, 1.0);
        let blob = decode_update(&r).unwrap();
        assert_eq!(blob.current.classifier, model(1).classifier);
        assert_eq!(blob.current.provenance.restored_from, Some(1));
        assert!(matches!(rollback(&r, 10), Err(ModelError::NoPrevious(3))));
        let p = promote(&u, 1.0, 0).unwrap();
        assert_eq!((p.version, p.rollout_fraction), (2, 1.0));
    }
}
