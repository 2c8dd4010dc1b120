//! [`ParseStage`]: `RawDocument` → `ParsedDocument`. Parsing is CPU work, so
//! a batch runs on a blocking thread, its documents in parallel on a rayon
//! pool: the top lane (`critical`) on a pool of its own, the other lanes on
//! another, so a flood of slow documents in a lower lane cannot hold the top
//! lane's documents back (the runtime gives the top lane its own worker too),
//! each under [`ParseLimits::deadline_ms`], after the id and record key are
//! checked ([`check_identity`]). A parse error becomes a `StageError` (bad
//! input → DLQ; `busy` → retried by the runtime).

use crate::updates::{UpdatesError, UpdatesReader};
use docflow_parse::{check_identity, parse_learned_with_deadline, ParseLimits};
use docflow_runtime::{Input, Output, ProcessResult, Stage};
use docflow_schemas::{ModelUpdate, ParsedDocument, Priority, RawDocument};
use docflow_score::model::LayoutDeployment;
use docflow_score::MODEL_KEY;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Settings of the parse stage (`[parse]` table).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParseStageConfig {
    /// Size, depth, page and time limits applied to every document.
    pub limits: ParseLimits,
    /// Threads of each of the two parse pools (top lane, other lanes);
    /// 0 (the default) means one per CPU.
    pub pool_threads: usize,
}

/// The parse stage.
#[derive(Debug)]
pub struct ParseStage {
    limits: Arc<ParseLimits>,
    /// Layouts learned from field corrections, from the model version(s) in
    /// service (swapped whole when a version is published).
    layouts: Arc<arc_swap::ArcSwap<LayoutDeployment>>,
    /// The top lane's pool and the other lanes' (`None`: the global pool).
    top: Option<Arc<rayon::ThreadPool>>,
    bulk: Option<Arc<rayon::ThreadPool>>,
    /// Stops the `model.updates` follower thread, if one runs.
    stop: Arc<AtomicBool>,
}

impl Drop for ParseStage {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Takes one model version's layouts into service. `live`: while serving
/// (one info line per change); during the start-up catch-up only the end
/// state is logged.
fn install(layouts: &arc_swap::ArcSwap<LayoutDeployment>, u: &ModelUpdate, live: bool) {
    let serving = layouts.load();
    if u.version < serving.version {
        return; // a replayed older record
    }
    match LayoutDeployment::from_update(u) {
        Ok(next) => {
            let changed = next.current.version != serving.current.version || next.rollout_fraction != serving.rollout_fraction;
            if live && changed {
                tracing::info!(version = u.version, layouts = next.current.layouts.len(), rollout = u.rollout_fraction, "parse stage reads with the layouts of a new model version");
            }
            layouts.store(Arc::new(next));
        }
        Err(e) => tracing::warn!(version = u.version, "model update rejected by the parse stage: {e}"),
    }
}

impl ParseStage {
    pub fn new(config: ParseStageConfig) -> Self {
        let pool = |name: &'static str| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(config.pool_threads)
                .thread_name(move |i| format!("{name}-{i}"))
                .build()
                .map_err(|e| tracing::warn!("parse pool {name}: {e}; using the global pool"))
                .ok()
                .map(Arc::new)
        };
        Self {
            limits: Arc::new(config.limits),
            layouts: Default::default(),
            top: pool("parse-top"),
            bulk: pool("parse"),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// [`ParseStage::new`], reading documents with the layouts learned from
    /// field corrections: reads `updates_topic` (the scoring model's
    /// versions, which carry them) to its end before the first document,
    /// then follows it on a thread, as the score stage does.
    pub async fn start(config: ParseStageConfig, updates_topic: &str, catch_up: Duration, brokers: &str, kafka: &BTreeMap<String, String>) -> Result<Self, UpdatesError> {
        let stage = Self::new(config);
        let (b, topic, kafka, layouts) = (brokers.to_owned(), updates_topic.to_owned(), kafka.clone(), stage.layouts.clone());
        let reader = tokio::task::spawn_blocking(move || -> Result<UpdatesReader, UpdatesError> {
            let reader = UpdatesReader::open(&b, &topic, MODEL_KEY, &kafka)?;
            reader.catch_up(catch_up, |u| install(&layouts, &u, false))?;
            let now = layouts.load();
            tracing::info!(version = now.version, layouts = now.current.layouts.len(), "parse stage caught up with {topic}");
            Ok(reader)
        })
        .await??;
        let layouts = stage.layouts.clone();
        reader.follow(stage.stop.clone(), move |u| install(&layouts, &u, true));
        Ok(stage)
    }

    /// The learned layouts the stage reads documents with; storing a new
    /// value takes effect from the next batch.
    pub fn layouts(&self) -> &arc_swap::ArcSwap<LayoutDeployment> {
        &self.layouts
    }
}

/// The priority lane of a raw topic: its last dot-separated part
/// (`docs.raw.critical` → `critical`), `normal` when that is no lane name.
pub fn lane_of(topic: &str) -> &'static str {
    Priority::of_topic(topic).unwrap_or_default().as_str()
}

fn parse_one(input: &Input<RawDocument>, limits: &ParseLimits, layouts: &LayoutDeployment) -> ProcessResult<ParsedDocument> {
    let _span = docflow_runtime::step_span!(&input.span, "parse");
    let raw = &input.value;
    check_identity(&raw.id, input.key.as_deref())?;
    let out = parse_learned_with_deadline(raw, limits, layouts.select(&raw.id).clone())?;
    let doc = ParsedDocument {
        id: raw.id.clone(),
        content_type: out.content_type,
        text: out.text,
        fields: out.fields,
        warnings: out.warnings,
        created_at_ms: raw.created_at_ms,
        priority: Priority::of_topic(&input.meta.topic).unwrap_or_default(),
        locale: raw.metadata.get("locale").cloned(),
    };
    // Keyed by the document id (the record key, when set, equals it).
    Ok(vec![Output::new(raw.id.clone().into_bytes(), doc)])
}

impl Stage for ParseStage {
    type Input = RawDocument;
    type Output = ParsedDocument;

    fn name(&self) -> &str {
        "parse"
    }

    async fn process(&self, batch: Vec<Input<RawDocument>>) -> Vec<ProcessResult<ParsedDocument>> {
        let limits = self.limits.clone();
        let layouts = self.layouts.load_full();
        let n = batch.len();
        // A batch holds one lane (the runtime never mixes them).
        let top = batch.first().is_some_and(|i| Priority::of_topic(&i.meta.topic) == Some(Priority::ALL[0]));
        let pool = if top { self.top.clone() } else { self.bulk.clone() };
        let joined = tokio::task::spawn_blocking(move || {
            let parse_all = || batch.par_iter().map(|i| parse_one(i, &limits, &layouts)).collect::<Vec<_>>();
            match pool {
                Some(pool) => pool.install(parse_all),
                None => parse_all(),
            }
        })
        .await;
        match joined {
            Ok(results) => results,
            // A panic inside a parser library: a bug, not the record's fault
            // we can prove; dead-letter the batch as internal.
            Err(e) => (0..n).map(|_| Err(docflow_core::StageError::internal("parse_panic", e.to_string()))).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_from_topic_names() {
        assert_eq!(lane_of("docs.raw.critical"), "critical");
        assert_eq!(lane_of("t-1234.docs.raw.low"), "low");
        assert_eq!(lane_of("docs.raw"), "normal");
        assert_eq!(lane_of("weird"), "normal");
    }

    #[test]
    fn config_rejects_unknown_keys() {
        let c: ParseStageConfig = toml::from_str("[limits]\nmax_json_depth = 5\n").unwrap();
        assert_eq!(c.limits.max_json_depth, 5);
        assert!(toml::from_str::<ParseStageConfig>("limit = 1\n").is_err());
    }
}
