//! [`ScoreStage`]: `EmbeddedDocument` → `ScoredDocument` with
//! `docflow_score::Scorer`.
//!
//! The model comes from `model.updates`: at start the stage reads that topic
//! to the high watermark *before* it is handed to the runtime (so a
//! restarted stage scores with the latest version from its first record),
//! then a thread keeps following it and installs each update into the
//! [`ModelHandle`] — an atomic swap; batches in flight finish on the version
//! they loaded.

use crate::registry::StoreInvoiceRegistry;
use crate::updates::{UpdatesError, UpdatesReader};
use docflow_runtime::{Input, Output, ProcessResult, Stage};
use docflow_score::anomaly::{ContentRegistry, InvoiceRegistry, MemoryContentRegistry, MemoryInvoiceRegistry};
use docflow_score::{Installed, ModelHandle, Scorer, ScoringModel, MODEL_KEY};
use docflow_schemas::{EmbeddedDocument, ModelUpdate, ScoredDocument};
use docflow_store::AnyStore;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Why the score stage could not start.
#[derive(Debug, thiserror::Error)]
pub enum ScoreStartError {
    /// `model.updates` could not be read to its end.
    #[error(transparent)]
    Updates(#[from] UpdatesError),
    #[error("score.invoice_registry = \"store\" needs a store (set [store] or use \"memory\")")]
    NoStore,
}

/// Which invoice-number registry decides `duplicate_invoice_number`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistryKind {
    /// Claims in the database (lightweight transactions): exact across
    /// replicas and restarts. Needs the `[store]` section.
    #[default]
    Store,
    /// A bounded in-memory map: per process, forgotten on restart.
    Memory,
}

/// Settings of the score stage (`[score]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoreConfig {
    /// Topic of model versions (compacted, key = `scoring`).
    pub updates_topic: String,
    /// `store` (Cassandra LWT) or `memory`.
    pub invoice_registry: RegistryKind,
    /// Entries of each in-memory registry (content hashes; invoice numbers
    /// when `invoice_registry = "memory"`).
    pub registry_capacity: usize,
    /// Longest wait for reading `model.updates` to its end at start (ms).
    pub catch_up_timeout_ms: u64,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        Self { updates_topic: docflow_schemas::topology::MODEL_UPDATES.name().into(), invoice_registry: RegistryKind::Store, registry_capacity: 1_000_000, catch_up_timeout_ms: 60_000 }
    }
}

/// The score stage.
pub struct ScoreStage {
    scorer: Scorer,
    stop: Arc<AtomicBool>,
}

impl Drop for ScoreStage {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Installs one update. `live`: the swap happens while serving (one info
/// line each); during the start-up catch-up only the end state is logged.
fn install(handle: &ModelHandle, u: &ModelUpdate, live: bool) {
    match handle.install(u) {
        Ok(Installed::Swapped { version }) if live => {
            tracing::info!(version, rollout = u.rollout_fraction, "scoring model swapped in")
        }
        Ok(Installed::Swapped { version }) => tracing::debug!(version, "model installed"),
        Ok(Installed::IgnoredStale { version, serving }) => tracing::debug!(version, serving, "stale model update ignored"),
        Err(e) => tracing::warn!(version = u.version, "model update rejected: {e}"),
    }
}

impl ScoreStage {
    /// Reads `model.updates` to its end, starts following it, and builds the
    /// scorer. `store` is required when `invoice_registry = "store"`.
    pub async fn start(config: ScoreConfig, brokers: &str, kafka: &BTreeMap<String, String>, store: Option<AnyStore>) -> Result<Self, ScoreStartError> {
        let handle = Arc::new(ModelHandle::new(&ScoringModel::initial()));
        let (b, topic, kafka, h) = (brokers.to_owned(), config.updates_topic.clone(), kafka.clone(), handle.clone());
        let timeout = Duration::from_millis(config.catch_up_timeout_ms);
        let reader = tokio::task::spawn_blocking(move || -> Result<UpdatesReader, UpdatesError> {
            let reader = UpdatesReader::open(&b, &topic, MODEL_KEY, &kafka)?;
            let n = reader.catch_up(timeout, |u| install(&h, &u, false))?;
            tracing::info!(updates = n, version = h.version(), "score stage caught up with {topic}");
            if n == 0 {
                // Say so: results until the first published version come from the defaults.
                let seed = ScoringModel::initial().provenance.seed;
                tracing::info!(default_classes = seed.as_deref().unwrap_or("none"), "no model version published yet: serving the default classes (version 0); labels on docs.feedback refine them");
            }
            Ok(reader)
        })
        .await
        .map_err(UpdatesError::from)??;
        let stop = Arc::new(AtomicBool::new(false));
        let h = handle.clone();
        reader.follow(stop.clone(), move |u| install(&h, &u, true));
        let invoices: Arc<dyn InvoiceRegistry> = match config.invoice_registry {
            RegistryKind::Memory => Arc::new(MemoryInvoiceRegistry::new(config.registry_capacity)),
            RegistryKind::Store => {
                let store = store.ok_or(ScoreStartError::NoStore)?;
                Arc::new(StoreInvoiceRegistry::new(store))
            }
        };
        let contents: Arc<dyn ContentRegistry> = Arc::new(MemoryContentRegistry::new(config.registry_capacity));
        Ok(Self { scorer: Scorer::new(handle, invoices, contents), stop })
    }

    /// The model version in service.
    pub fn model_version(&self) -> u64 {
        self.scorer.models().version()
    }
}

impl Stage for ScoreStage {
    type Input = EmbeddedDocument;
    type Output = ScoredDocument;

    fn name(&self) -> &str {
        "score"
    }

    async fn process(&self, batch: Vec<Input<EmbeddedDocument>>) -> Vec<ProcessResult<ScoredDocument>> {
        // Registry claims are I/O: score the batch concurrently, results in order.
        let futures = batch.into_iter().map(|input| {
            let key = input.key_or_empty();
            let span = docflow_runtime::step_span!(&input.span, "score");
            async move {
                let _span = span;
                self.scorer.score(input.value).await.map(|s| vec![Output::new(key, s)])
            }
        });
        futures::future::join_all(futures).await
    }
}
