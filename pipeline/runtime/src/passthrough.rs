//! A pass-through stage and its document type, used by the runtime's
//! integration tests, its test process and its benchmark: every input is
//! produced unchanged (key = id) to the output topic, optionally slowly.

use crate::stage::{Input, Output, ProcessResult, Stage};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Header naming the process that handled a record (see [`PassThrough::with_tag`]).
pub const PROCESSED_BY: &str = "x-docflow-processed-by";

/// A test document: an id, a sequence number, a creation time, a body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestDoc {
    pub id: String,
    pub seq: u64,
    /// Epoch ms when the producer created it (latency measurements).
    pub created_at_ms: i64,
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
}

/// Copies each input to the output topic.
#[derive(Debug, Clone)]
pub struct PassThrough {
    name: String,
    per_record_delay: Duration,
    tag: Option<String>,
}

impl PassThrough {
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), per_record_delay: Duration::ZERO, tag: None }
    }

    /// Add header [`PROCESSED_BY`] = `tag` to every output (tests use it to
    /// see which process handled which record).
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Simulate a slow stage: each batch takes `delay × batch length`
    /// (asleep, not burning CPU).
    pub fn with_delay(mut self, per_record_delay: Duration) -> Self {
        self.per_record_delay = per_record_delay;
        self
    }
}

impl Stage for PassThrough {
    type Input = TestDoc;
    type Output = TestDoc;

    fn name(&self) -> &str {
        &self.name
    }

    async fn process(&self, batch: Vec<Input<TestDoc>>) -> Vec<ProcessResult<TestDoc>> {
        if !self.per_record_delay.is_zero() {
            tokio::time::sleep(self.per_record_delay * batch.len() as u32).await;
        }
        batch
            .into_iter()
            .map(|input| {
                let out = Output::new(input.value.id.clone(), input.value);
                Ok(vec![match &self.tag {
                    Some(tag) => out.with_header(PROCESSED_BY, tag.as_bytes()),
                    None => out,
                }])
            })
            .collect()
    }
}
