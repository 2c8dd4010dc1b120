//! A pass-through stage and its document type, used by the runtime's
//! integration tests, its test process and its benchmark: every input is
//! produced unchanged (key = id) to the output topic, optionally slowly.

use crate::stage::{Input, Output, ProcessResult, Stage};
use serde::{Deserialize, Serialize};
use std::time::Duration;

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
}

impl PassThrough {
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), per_record_delay: Duration::ZERO }
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
        batch.into_iter().map(|input| Ok(vec![Output::new(input.value.id.clone(), input.value)])).collect()
    }
}
