//! docflow-score: few-shot document classes and explained anomaly scores, learned online.
//!
//! No Kafka here: this crate is the logic the `score` and `learn` stages run,
//! and the offline mode runs the very same code over files.
//!
//! - [`classifier`]: prototype (class-centroid) few-shot classifier with an open set (`other`).
//! - [`anomaly`]: the five reasons (`amount_outlier`, `total_mismatch`,
//!   `duplicate_invoice_number`, `duplicate_content`, `unusual_for_class`),
//!   their calibration and the noisy-OR score ([`anomaly::calibrate`] says what 0.7 means);
//!   the [`anomaly::InvoiceRegistry`] / [`anomaly::ContentRegistry`] traits the database implements.
//! - [`model`]: [`ScoringModel`] (the versioned state), its `model.updates`
//!   encoding, rollout by id hash, rollback, and the lock-free [`ModelHandle`] hot swap.
//! - [`learn`]: [`Learner`] folds feedback and processed results into new versions; [`PublishPolicy`].
//! - [`score`]: [`Scorer::score`] turns an `EmbeddedDocument` into a `ScoredDocument`.
//! - [`seed`]: the default class set a fresh deployment starts from.
//! - [`stats`], [`vector`], [`bounded`]: small helpers (running statistics,
//!   embedding decoding and stable hashing, a FIFO-bounded map).

pub mod anomaly;
pub mod bounded;
pub mod classifier;
pub mod learn;
pub mod model;
pub mod score;
pub mod seed;
pub mod stats;
pub mod vector;

pub use classifier::OTHER;
pub use learn::{FeedbackOutcome, Learner, PublishPolicy};
pub use model::{
    describe, decode_update, encode_update, promote, rollback, Installed, ModelError, ModelHandle, ScoringModel, MODEL_KEY,
};
pub use score::Scorer;
