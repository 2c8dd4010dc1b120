//! The learner: folds labeled feedback, anomaly corrections and processed
//! results into the next model version, and decides when to publish it.
//!
//! **Inputs.**
//! - Labels (`Feedback.label`): the document's embedding comes with the
//!   feedback, or from the recently processed documents this learner saw on
//!   `docs.scored`; a label whose document has not been seen yet waits
//!   (bounded) until it is. Each label is one O(dim) prototype update.
//! - Corrections (`Feedback.is_anomaly`): a false positive moves the midpoint
//!   of each statistical reason that fired (`amount_outlier`,
//!   `unusual_for_class`) up by `correction_step` and, for amounts, adds the
//!   total to the vendor's history (a human said it is normal); a false
//!   negative moves the strongest statistical reason's midpoint down.
//!   Duplicates and total mismatches are facts, not tuned. Midpoints stay in
//!   their calibrated bounds, so no burst of corrections can switch a reason
//!   off or make it fire on noise.
//! - Field corrections (`Feedback.fields`): the corrected document's text,
//!   kept from `docs.scored` ([`PublishPolicy::recent_text_capacity`]
//!   documents, each up to [`MAX_TEXT_KEPT`] bytes), is read again as the
//!   parser read it and [`LayoutHints::learn`] records where the layout puts
//!   each corrected value, into [`ScoringModel::layouts`]; the parse stage
//!   reads the next documents of that layout there. A value that appears
//!   nowhere in its document is recorded with the reason, not learned.
//! - Processed results (`docs.scored`): the totals of documents judged normal
//!   feed the vendor profiles; confidently classified normal documents feed
//!   their class's distance profile. Documents at or above the audit
//!   threshold, amount outliers and content duplicates are left out, so
//!   anomalies never become the norm.
//!
//! **When to publish** ([`PublishPolicy`]). A version means something
//! changed that a user would care about:
//! - labels and corrections: after `every_labels` of them, or `max_interval`
//!   after the first unpublished one (a new class is usable within seconds);
//! - history alone (vendor amounts, class distance profiles from unlabelled
//!   traffic): only on `history_interval` (minutes), or after
//!   `every_results` results when that count is set (the offline mode uses
//!   a count instead of a clock, so its output is reproducible). A burst of
//!   unlabelled documents therefore leaves the version where it is; the
//!   history it taught is kept in the working model and goes out with the
//!   next version. A learner that restarts before then re-learns history
//!   only from what `docs.scored` replays (history is a statistic: losing a
//!   few minutes of it is harmless).
//!
//! Each version records what changed since the one before
//! ([`crate::model::Changes`]), which `docflow model` shows.
//!
//! The learner must run as a single active instance (its state is the model);
//! a restarted or standby learner resumes from the latest `model.updates`
//! record ([`Learner::adopt`]). Changes folded in after the last publish are
//! re-learned when their topics are replayed from the committed offsets.

use std::time::{Duration, Instant};

use std::collections::BTreeMap;
use std::sync::Arc;

use docflow_core::StageError;
use docflow_parse::extract::corrections::{LayoutHints, Outcome};
use docflow_parse::extract::rank::Weights;
use docflow_schemas::{AnomalyReason, BusinessFields, Feedback, ModelUpdate, ScoredDocument};

use crate::anomaly::reasons;
use crate::bounded::BoundedMap;
use crate::classifier::OTHER;
use crate::model::{decode_update, encode_update, ModelError, ScoringModel, MAX_REJECTIONS_KEPT};
use crate::vector::decode_embedding;

/// When the learner publishes a new version.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishPolicy {
    /// Publish after this many labels/corrections.
    pub every_labels: u64,
    /// Publish after this many processed results (0: never by count; history
    /// then goes out on `history_interval` or with the next labels).
    pub every_results: u64,
    /// Publish labels and corrections at the latest this long after the first unpublished one (None: never by time).
    pub max_interval: Option<Duration>,
    /// Publish history-only changes (unlabelled traffic) at the latest this
    /// long after the first unpublished one (None: never by time).
    pub history_interval: Option<Duration>,
    /// Rollout fraction of each new version (1.0: everyone at once).
    pub rollout_fraction: f64,
    /// Step of a correction on a reason's midpoint (in the reason's value units).
    pub correction_step: f64,
    /// Minimum class confidence for a processed document to feed its class's distance profile.
    pub member_min_confidence: f64,
    /// Recently processed documents kept for labels and corrections that arrive later.
    pub recent_capacity: usize,
    /// Feedback kept while waiting for its document.
    pub pending_capacity: usize,
    /// Recently processed documents whose text is kept for field
    /// corrections (fewer than `recent_capacity`: texts are larger than
    /// embeddings).
    pub recent_text_capacity: usize,
    /// Field corrections also update the ranker that reads every document
    /// ([`LayoutHints::teach_ranker`]). Off by default: a layout touches
    /// only its sender's documents, the ranker update touches everyone's.
    pub update_ranker: bool,
}

/// Longest document text kept for field corrections (bytes); a correction
/// of a longer document is recorded as not learned.
pub const MAX_TEXT_KEPT: usize = 64 * 1024;

impl Default for PublishPolicy {
    fn default() -> Self {
        Self {
            every_labels: 10,
            every_results: 0,
            max_interval: Some(Duration::from_secs(2)),
            history_interval: Some(Duration::from_secs(600)),
            rollout_fraction: 1.0,
            correction_step: 0.25,
            member_min_confidence: 0.9,
            recent_capacity: 20_000,
            pending_capacity: 10_000,
            recent_text_capacity: 5_000,
            update_ranker: false,
        }
    }
}

/// What a processed document leaves behind for later feedback.
#[derive(Debug, Clone)]
struct Recent {
    embedding: Vec<f32>,
    anomaly_score: f64,
    reasons: Vec<AnomalyReason>,
    fields: BusinessFields,
}

/// A processed document's text as the parser left it, for field corrections.
#[derive(Debug)]
struct RecentText {
    content_type: String,
    text: String,
    locale: Option<String>,
}

/// What became of one feedback record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackOutcome {
    Applied,
    /// Its document has not been seen yet; kept until it is (or evicted).
    Pending,
    /// Nothing to learn (no label, or a correction that agrees with the verdict).
    Ignored,
}

/// Folds feedback and results into model versions.
#[derive(Debug)]
pub struct Learner {
    model: ScoringModel,
    /// Fully rolled-out version (serves the rest during a rollout; restored by rollback).
    stable: Option<ScoringModel>,
    last_version: u64,
    policy: PublishPolicy,
    labels_since: u64,
    results_since: u64,
    /// First unpublished label or correction.
    labels_dirty_since: Option<Instant>,
    /// First unpublished history-only change.
    history_dirty_since: Option<Instant>,
    recent: BoundedMap<String, Recent>,
    /// Texts of the most recent documents (`None`: too long to keep).
    texts: BoundedMap<String, Option<Arc<RecentText>>>,
    pending: BoundedMap<String, Feedback>,
}

impl Learner {
    /// A learner starting from `model` (which is taken as already published).
    pub fn new(model: ScoringModel, policy: PublishPolicy) -> Self {
        let last_version = model.version;
        Self {
            // Version 0 (the shipped defaults) counts too: the first
            // published version can be rolled back to it.
            stable: Some(model.clone()),
            model,
            last_version,
            recent: BoundedMap::new(policy.recent_capacity),
            texts: BoundedMap::new(policy.recent_text_capacity),
            pending: BoundedMap::new(policy.pending_capacity),
            policy,
            labels_since: 0,
            results_since: 0,
            labels_dirty_since: None,
            history_dirty_since: None,
        }
    }

    /// The working model (the next version, unpublished changes included).
    pub fn model(&self) -> &ScoringModel {
        &self.model
    }

    pub fn last_version(&self) -> u64 {
        self.last_version
    }

    pub fn policy(&self) -> &PublishPolicy {
        &self.policy
    }

    /// Follows a `model.updates` record published by someone else (a
    /// rollback, a promotion, or this learner's previous life). Returns
    /// whether the working model changed.
    pub fn adopt(&mut self, update: &ModelUpdate) -> Result<bool, ModelError> {
        if update.version < self.last_version {
            return Ok(false);
        }
        let blob = decode_update(update)?;
        if update.version == self.last_version && update.version > 0 {
            // A promotion of our own version: it becomes the stable one once fully out.
            if update.rollout_fraction >= 1.0 {
                self.stable = Some(blob.current);
            }
            return Ok(false);
        }
        self.last_version = update.version;
        self.stable = if update.rollout_fraction >= 1.0 { Some(blob.current.clone()) } else { blob.previous };
        self.model = blob.current;
        self.labels_since = 0;
        self.results_since = 0;
        self.labels_dirty_since = None;
        self.history_dirty_since = None;
        Ok(true)
    }

    /// Marks a label or correction as waiting to be published.
    fn touch(&mut self, now: Instant) {
        self.labels_dirty_since.get_or_insert(now);
    }

    /// Folds one labeled embedding (training files, or feedback that carries it).
    pub fn add_label(&mut self, label: &str, embedding: &[f32], now: Instant) -> Result<(), StageError> {
        let seed_only = self.model.seed_encoder.is_some() && self.model.provenance.labels == 0;
        if seed_only && self.model.classifier.dim != embedding.len() {
            // The seed belongs to another encoder: the labels start afresh.
            tracing::warn!(seed_dim = self.model.classifier.dim, dim = embedding.len(), "labels come from another encoder; default classes dropped");
            self.model.classifier = crate::classifier::ClassifierState::new(embedding.len());
            self.model.seed_encoder = None;
            self.model.provenance.seed = None;
        }
        if self.model.classifier.classes.is_empty() && self.model.classifier.dim != embedding.len() {
            self.model.classifier.dim = embedding.len();
        }
        self.model.classifier.add_example(label, embedding)?;
        self.model.provenance.labels += 1;
        *self.model.provenance.changes.labels_by_class.entry(label.trim().to_string()).or_default() += 1;
        self.labels_since += 1;
        self.touch(now);
        Ok(())
    }

    /// Folds one scored document (processed history), then any feedback that waited for it.
    pub fn observe_result(&mut self, scored: &ScoredDocument, now: Instant) -> Result<(), StageError> {
        let embedding = decode_embedding(&scored.embedded.embedding_f32le, None)?;
        let fields = &scored.embedded.parsed.fields;
        let params = &self.model.thresholds.anomaly;
        let contribution = |name: &str| {
            scored.anomaly_reasons.iter().filter(|r| r.reason == name).map(|r| r.contribution).fold(0.0, f64::max)
        };
        let normal = scored.anomaly_score < params.audit_threshold;
        let amount_ok = contribution(reasons::AMOUNT_OUTLIER) < 0.5 && contribution(reasons::DUPLICATE_CONTENT) == 0.0;
        if normal && amount_ok {
            let class = (scored.class != OTHER).then_some(scored.class.as_str());
            self.model.vendors.observe(fields, class, params);
        }
        if normal && scored.class != OTHER && scored.class_confidence >= self.policy.member_min_confidence {
            if let Some(class) = self.model.classifier.classes.get(&scored.class) {
                if class.sum.len() == embedding.len() {
                    let norm = class.sum.iter().map(|s| s * s).sum::<f64>().sqrt().max(1e-12);
                    let cos = embedding.iter().zip(&class.sum).map(|(x, s)| f64::from(*x) * s).sum::<f64>() / norm;
                    self.model.classifier.observe_member_distance(&scored.class, 1.0 - cos);
                }
            }
        }
        self.model.provenance.results += 1;
        self.model.provenance.changes.results += 1;
        self.results_since += 1;
        self.history_dirty_since.get_or_insert(now);
        let id = scored.embedded.parsed.id.clone();
        let parsed = &scored.embedded.parsed;
        let text = (parsed.text.len() <= MAX_TEXT_KEPT).then(|| {
            Arc::new(RecentText { content_type: parsed.content_type.clone(), text: parsed.text.clone(), locale: parsed.locale.clone() })
        });
        self.texts.insert(id.clone(), text);
        self.recent.insert(
            id.clone(),
            Recent {
                embedding,
                anomaly_score: scored.anomaly_score,
                reasons: scored.anomaly_reasons.clone(),
                fields: fields.clone(),
            },
        );
        if let Some(fb) = self.pending.remove(&id) {
            self.apply_feedback(&fb, now)?;
        }
        Ok(())
    }

    /// Folds one `docs.feedback` record.
    pub fn apply_feedback(&mut self, fb: &Feedback, now: Instant) -> Result<FeedbackOutcome, StageError> {
        if fb.label.is_none() && fb.is_anomaly.is_none() && fb.fields.is_empty() {
            return Ok(FeedbackOutcome::Ignored);
        }
        let recent = self.recent.get(&fb.id).cloned();
        if recent.is_none() && fb.label.is_none() && fb.is_anomaly.is_none() {
            // Field corrections alone wait for their document.
            self.pending.insert(fb.id.clone(), fb.clone());
            return Ok(FeedbackOutcome::Pending);
        }
        let mut applied = false;
        if let Some(label) = &fb.label {
            let embedding = match (&fb.embedding_f32le, &recent) {
                (Some(bytes), _) => Some(decode_embedding(bytes, None)?),
                (None, Some(r)) => Some(r.embedding.clone()),
                (None, None) => None,
            };
            match embedding {
                Some(e) => {
                    self.add_label(label, &e, now)?;
                    applied = true;
                }
                None if fb.is_anomaly.is_none() => {
                    // (The document is unseen: its field corrections wait with the label.)
                    self.pending.insert(fb.id.clone(), fb.clone());
                    return Ok(FeedbackOutcome::Pending);
                }
                None => {}
            }
        }
        if let Some(is_anomaly) = fb.is_anomaly {
            match &recent {
                Some(r) => applied |= self.correct(r, is_anomaly, now),
                None => {
                    // The label (if any) is applied; the corrections wait for their document.
                    let waiting = Feedback { label: None, embedding_f32le: None, ..fb.clone() };
                    self.pending.insert(fb.id.clone(), waiting);
                    return Ok(FeedbackOutcome::Pending);
                }
            }
        }
        if !fb.fields.is_empty() {
            if recent.is_none() {
                // The label was applied from the feedback's own embedding.
                let waiting = Feedback { label: None, embedding_f32le: None, is_anomaly: None, ..fb.clone() };
                self.pending.insert(fb.id.clone(), waiting);
                return Ok(FeedbackOutcome::Pending);
            }
            let outcomes = self.correct_fields(&fb.id, &fb.fields, now);
            for o in &outcomes {
                match &o.rejected {
                    None => tracing::info!(id = %fb.id, field = %o.field, "field correction learned"),
                    Some(why) => tracing::info!(id = %fb.id, field = %o.field, "field correction not learned: {why}"),
                }
            }
            applied |= outcomes.iter().any(|o| o.rejected.is_none());
        }
        Ok(if applied { FeedbackOutcome::Applied } else { FeedbackOutcome::Ignored })
    }

    /// Learns the corrected `fields` (field name → right value) of a
    /// recently processed document into the model's layouts; one outcome
    /// per field says whether it was learned, and why not.
    pub fn correct_fields(&mut self, id: &str, fields: &BTreeMap<String, String>, now: Instant) -> Vec<Outcome> {
        let outcomes = match self.texts.get(&id.to_string()) {
            Some(Some(doc)) => {
                let prepared = docflow_parse::prepare_parsed(&doc.content_type, &doc.text, doc.locale.as_deref());
                let outcomes = self.model.layouts.learn(&prepared, fields, Weights::shipped());
                if self.policy.update_ranker {
                    self.model.layouts.teach_ranker(&prepared, fields, &outcomes);
                }
                outcomes
            }
            found => {
                let why = if found.is_some() {
                    format!("the document's text is longer than the {MAX_TEXT_KEPT} bytes kept for corrections")
                } else {
                    "the document is not among the recently processed ones the learner keeps".to_string()
                };
                fields.keys().map(|f| Outcome { field: f.clone(), rejected: Some(why.clone()) }).collect()
            }
        };
        let changes = &mut self.model.provenance.changes;
        let mut learned = 0;
        for o in &outcomes {
            match &o.rejected {
                None => {
                    *changes.fields_learned.entry(o.field.clone()).or_default() += 1;
                    learned += 1;
                }
                Some(why) if changes.fields_rejected.len() < MAX_REJECTIONS_KEPT => changes.fields_rejected.push(format!("{id} {}: {why}", o.field)),
                Some(_) => {}
            }
        }
        if learned > 0 {
            self.model.provenance.field_corrections += learned;
            self.labels_since += 1;
            self.touch(now);
        }
        outcomes
    }

    /// The layouts learned from field corrections (the working model's).
    pub fn layouts(&self) -> &LayoutHints {
        &self.model.layouts
    }

    fn correct(&mut self, doc: &Recent, is_anomaly: bool, now: Instant) -> bool {
        let step = self.policy.correction_step;
        let p = &mut self.model.thresholds.anomaly;
        let flagged = doc.anomaly_score >= p.audit_threshold;
        let statistical = |r: &&AnomalyReason| r.reason == reasons::AMOUNT_OUTLIER || r.reason == reasons::UNUSUAL_FOR_CLASS;
        let changed = match (flagged, is_anomaly) {
            (true, false) => {
                let fired: Vec<&AnomalyReason> = doc.reasons.iter().filter(statistical).filter(|r| r.contribution >= 0.5).collect();
                for r in &fired {
                    match r.reason.as_str() {
                        reasons::AMOUNT_OUTLIER => p.amount.shift(step),
                        _ => p.unusual_for_class.shift(step),
                    }
                }
                if fired.iter().any(|r| r.reason == reasons::AMOUNT_OUTLIER) {
                    self.model.vendors.observe(&doc.fields, None, p);
                }
                !fired.is_empty()
            }
            (false, true) => match doc.reasons.iter().filter(statistical).max_by(|a, b| a.contribution.total_cmp(&b.contribution)) {
                Some(r) if r.reason == reasons::AMOUNT_OUTLIER => {
                    p.amount.shift(-step);
                    true
                }
                Some(_) => {
                    p.unusual_for_class.shift(-step);
                    true
                }
                None => false,
            },
            // The verdict was right: nothing to learn.
            _ => false,
        };
        if changed {
            self.model.provenance.corrections += 1;
            self.model.provenance.changes.corrections += 1;
            self.labels_since += 1;
            self.touch(now);
        }
        changed
    }

    /// Whether the policy says to publish now.
    pub fn should_publish(&self, now: Instant) -> bool {
        let p = &self.policy;
        let due = |since: Option<Instant>, max: Option<Duration>| matches!((since, max), (Some(t), Some(max)) if now.duration_since(t) >= max);
        self.labels_since >= p.every_labels.max(1)
            || (p.every_results > 0 && self.results_since >= p.every_results)
            || due(self.labels_dirty_since, p.max_interval)
            || due(self.history_dirty_since, p.history_interval)
    }

    /// Publishes the working model as the next version, unconditionally.
    pub fn publish(&mut self, now_ms: i64) -> Result<ModelUpdate, ModelError> {
        self.last_version = self.last_version.max(self.model.version) + 1;
        self.model.version = self.last_version;
        self.model.created_at_ms = now_ms;
        self.model.provenance.restored_from = None;
        let fraction = self.policy.rollout_fraction;
        let update = encode_update(&self.model, self.stable.as_ref(), fraction, now_ms)?;
        if fraction >= 1.0 {
            self.stable = Some(self.model.clone());
        }
        self.labels_since = 0;
        self.results_since = 0;
        self.labels_dirty_since = None;
        self.history_dirty_since = None;
        // The next version records its own changes.
        self.model.provenance.changes = Default::default();
        Ok(update)
    }

    /// Publishes when the policy says so.
    pub fn maybe_publish(&mut self, now: Instant, now_ms: i64) -> Result<Option<ModelUpdate>, ModelError> {
        if self.should_publish(now) {
            self.publish(now_ms).map(Some)
        } else {
            Ok(None)
        }
    }
}
