//! [`LearnStage`]: `Feedback` (and processed `ScoredDocument`s) →
//! `ModelUpdate` on `model.updates` (key `scoring`), with
//! `docflow_score::Learner`.
//!
//! At start the stage adopts the latest `model.updates` record (its own
//! previous life, a rollback, a promotion), and while it runs it keeps
//! following the topic: a `docflow model rollback` or `promote` published by
//! an operator is adopted at once, so the learner's next version builds on
//! the restored state instead of silently overriding it. It must run as one active
//! instance (the learner's state is the model): give it one partition or a
//! single replica.
//!
//! **Publishing by time within the `Stage` trait.** The learner publishes
//! after `every_labels` labels or `max_interval` after the first unpublished
//! label or correction; history from unlabelled traffic goes out on
//! `history_interval` (or after `every_results` results when set), so a
//! burst of documents does not publish a version per batch. Count triggers publish in the batch
//! that reaches them. For the time trigger the batch that left changes
//! unpublished does not return: it waits (at most `max_interval`) until the
//! policy says publish, publishes, and returns the update as its output.
//! The runtime then commits those inputs only after the update is
//! acknowledged, so no acknowledged feedback is ever missing from a
//! published version (at-least-once, like every other stage). If another
//! batch publishes meanwhile, that version contains these changes and the
//! waiting batch returns without output.
//!
//! The update is attached to the first input of each partition in the
//! batch, so each partition's committed offset waits for the update; a batch
//! spanning several partitions publishes the same version once per
//! partition (harmless: installing a version again is a no-op).

use crate::updates::{UpdatesError, UpdatesReader};
use docflow_core::StageError;
use docflow_runtime::stage::decode_record;
use docflow_runtime::{Input, Output, ProcessResult, RawRecord, Stage};
use docflow_score::{Learner, PublishPolicy, ScoringModel, MODEL_KEY};
use docflow_schemas::{topology, Feedback, Limits, ModelUpdate, ScoredDocument};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a batch waiting for the time trigger checks the policy.
const WAIT_STEP: Duration = Duration::from_millis(25);

/// Settings of the learn stage (`[learn]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LearnConfig {
    /// Topic of model versions, read at start to resume from the latest.
    pub updates_topic: String,
    /// Input topic carrying `ScoredDocument`s (processed results); records
    /// of every other input topic are `Feedback`.
    pub scored_topic: String,
    /// Publish after this many labels/corrections.
    pub every_labels: u64,
    /// Publish after this many processed results (0: never by count; history
    /// from unlabelled traffic then goes out on `history_interval_ms`).
    pub every_results: u64,
    /// Publish labels and corrections at the latest this long after the first (ms; 0 = never by time).
    pub max_interval_ms: u64,
    /// Publish history-only changes (vendor amounts and class distances from
    /// unlabelled traffic) at the latest this long after the first (ms; 0 =
    /// never by time). Minutes, so a burst of documents does not publish a
    /// version per batch.
    pub history_interval_ms: u64,
    /// Rollout fraction of each new version (1.0: everyone at once).
    pub rollout_fraction: f64,
    /// Recently processed documents kept for feedback arriving later.
    pub recent_capacity: usize,
    /// Feedback kept while waiting for its document.
    pub pending_capacity: usize,
    /// Longest wait for reading `model.updates` to its end at start (ms).
    pub catch_up_timeout_ms: u64,
    /// Field corrections also update the ranker every document is read
    /// with, not only their sender's layout (off: see `PublishPolicy::update_ranker`).
    pub update_ranker: bool,
}

impl Default for LearnConfig {
    fn default() -> Self {
        let p = PublishPolicy::default();
        Self {
            updates_topic: topology::MODEL_UPDATES.name().into(),
            scored_topic: topology::SCORED.name().into(),
            every_labels: p.every_labels,
            every_results: p.every_results,
            max_interval_ms: p.max_interval.map_or(0, |d| d.as_millis() as u64),
            history_interval_ms: p.history_interval.map_or(0, |d| d.as_millis() as u64),
            rollout_fraction: p.rollout_fraction,
            recent_capacity: p.recent_capacity,
            pending_capacity: p.pending_capacity,
            catch_up_timeout_ms: 60_000,
            update_ranker: p.update_ranker,
        }
    }
}

impl LearnConfig {
    pub fn policy(&self) -> PublishPolicy {
        PublishPolicy {
            every_labels: self.every_labels,
            every_results: self.every_results,
            max_interval: (self.max_interval_ms > 0).then(|| Duration::from_millis(self.max_interval_ms)),
            history_interval: (self.history_interval_ms > 0).then(|| Duration::from_millis(self.history_interval_ms)),
            rollout_fraction: self.rollout_fraction,
            recent_capacity: self.recent_capacity,
            pending_capacity: self.pending_capacity,
            update_ranker: self.update_ranker,
            ..PublishPolicy::default()
        }
    }
}

/// One input of the learn stage, told apart by its topic.
#[derive(Debug, Clone, Deserialize)]
pub enum LearnInput {
    Feedback(Feedback),
    Scored(Box<ScoredDocument>),
}

/// The learn stage.
pub struct LearnStage {
    learner: Arc<Mutex<Learner>>,
    scored_topic: String,
    max_interval: Option<Duration>,
    /// Stops the `model.updates` follower thread.
    stop: Arc<AtomicBool>,
}

impl Drop for LearnStage {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

fn now_ms() -> i64 {
    docflow_runtime::dlq::now_ms()
}

impl LearnStage {
    /// Reads `model.updates` to its end and adopts the latest version.
    pub async fn start(config: LearnConfig, brokers: &str, kafka: &BTreeMap<String, String>) -> Result<Self, UpdatesError> {
        let mut learner = Learner::new(ScoringModel::initial(), config.policy());
        let (b, topic, kafka) = (brokers.to_owned(), config.updates_topic.clone(), kafka.clone());
        let timeout = Duration::from_millis(config.catch_up_timeout_ms);
        let (updates, reader) = tokio::task::spawn_blocking(move || -> Result<(Vec<ModelUpdate>, UpdatesReader), UpdatesError> {
            let reader = UpdatesReader::open(&b, &topic, MODEL_KEY, &kafka)?;
            let mut all = Vec::new();
            reader.catch_up(timeout, |u| all.push(u))?;
            Ok((all, reader))
        })
        .await??;
        for u in &updates {
            if let Err(e) = learner.adopt(u) {
                tracing::warn!(version = u.version, "cannot adopt model update: {e}");
            }
        }
        tracing::info!(version = learner.last_version(), updates = updates.len(), "learn stage resumed");
        let learner = Arc::new(Mutex::new(learner));
        let stop = Arc::new(AtomicBool::new(false));
        let follower = learner.clone();
        // Our own records come back too: adopt() ignores a version it published.
        reader.follow(stop.clone(), move |u| {
            let mut l = follower.lock().unwrap_or_else(|p| p.into_inner());
            match l.adopt(&u) {
                Ok(true) => tracing::info!(version = u.version, "learn stage adopted a model version published by another writer"),
                Ok(false) => {}
                Err(e) => tracing::warn!(version = u.version, "cannot adopt model update: {e}"),
            }
        });
        Ok(Self { max_interval: config.policy().max_interval, learner, scored_topic: config.scored_topic, stop })
    }

    /// Last published (or adopted) version.
    pub fn last_version(&self) -> u64 {
        self.lock().last_version()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Learner> {
        self.learner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until the time trigger fires and publishes, unless a concurrent
    /// batch publishes first (then `None`).
    async fn publish_when_due(&self, seen_version: u64) -> Result<Option<ModelUpdate>, StageError> {
        loop {
            tokio::time::sleep(WAIT_STEP).await;
            let mut l = self.lock();
            if l.last_version() != seen_version {
                return Ok(None);
            }
            if let Some(u) = l.maybe_publish(Instant::now(), now_ms())? {
                return Ok(Some(u));
            }
        }
    }
}

impl Stage for LearnStage {
    type Input = LearnInput;
    type Output = ModelUpdate;

    fn name(&self) -> &str {
        "learn"
    }

    fn decode(&self, record: &RawRecord, limits: &Limits) -> Result<LearnInput, StageError> {
        if *record.meta.topic == *self.scored_topic {
            decode_record::<ScoredDocument>(record, limits).map(|s| LearnInput::Scored(Box::new(s)))
        } else {
            decode_record::<Feedback>(record, limits).map(LearnInput::Feedback)
        }
    }

    async fn process(&self, batch: Vec<Input<LearnInput>>) -> Vec<ProcessResult<ModelUpdate>> {
        let mut results: Vec<ProcessResult<ModelUpdate>> = Vec::with_capacity(batch.len());
        let (published, seen_version, pending) = {
            let mut l = self.lock();
            let now = Instant::now();
            for input in &batch {
                let r = match &input.value {
                    LearnInput::Feedback(fb) => l.apply_feedback(fb, now).map(|_| ()),
                    LearnInput::Scored(s) => l.observe_result(s, now),
                };
                results.push(r.map(|()| Vec::new()));
            }
            let published = l.maybe_publish(now, now_ms());
            // Unpublished changes exist iff the time trigger would fire later.
            let pending = self.max_interval.is_some_and(|max| l.should_publish(now + max));
            (published, l.last_version(), pending)
        };
        let update = match published {
            Ok(Some(u)) => Some(u),
            Ok(None) if pending => match self.publish_when_due(seen_version).await {
                Ok(u) => u,
                Err(e) => return batch.iter().map(|_| Err(e.clone())).collect(),
            },
            Ok(None) => None,
            Err(e) => {
                let e: StageError = e.into();
                return batch.iter().map(|_| Err(e.clone())).collect();
            }
        };
        if let Some(update) = update {
            tracing::info!(version = update.version, "publishing model version");
            let mut seen = HashSet::new();
            for (input, result) in batch.iter().zip(results.iter_mut()) {
                if let Ok(outputs) = result {
                    if seen.insert((input.meta.topic.clone(), input.meta.partition)) {
                        outputs.push(Output::new(MODEL_KEY, update.clone()));
                    }
                }
            }
        }
        results
    }
}
