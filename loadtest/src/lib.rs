//! docflow load-test harness.
//!
//! The documents it publishes come from [`docflow_corpus`] (the seeded
//! labeled generator, a crate of its own so that tests can use it without
//! building Kafka clients).
//!
//! Where things are:
//! - [`cli`]: the command line ([`Command`]: `steady`, `burst`, `ramp`,
//!   `soak`; shared flags for topics, stage processes and chaos) and
//!   [`run_command`]; `src/main.rs` is the `loadtest` binary.
//! - [`run`]: the engine every mode shares ([`run::run`], [`RunOptions`],
//!   [`Mode`]), including the ramp's per-step SLO judge.
//! - [`schedule`]: phases of constant rate → each document's scheduled time.
//! - [`topics`]: topic names (prefix or explicit) and the lane priority mix.
//! - [`publisher`]: open-loop publishing on the schedule (latency from the
//!   scheduled send time: no coordinated omission), poison injection.
//! - [`follower`]: reads `docs.results` / `docs.dlq` from the end offsets
//!   captured before publishing and classifies sightings by document id.
//! - [`hops`]: per-stage latency from the record timestamps on every topic
//!   a document passes through (where the end-to-end time goes).
//! - [`ledger`]: the shared books (published ids, outcomes, duplicates, HDR
//!   latency histograms overall / per phase / per timeline bucket).
//! - [`procs`]: stage processes the harness starts, measures and kills
//!   (`--stage NAME=COMMAND`) or only watches (`--watch-pid`).
//! - [`scrape`]: a stage's Prometheus `/metrics` page (utilisation, lag,
//!   in-flight, DLQ by reason); [`sampler`]: those and RSS once a second.
//! - [`chaos`]: kill -9 and restart a stage, database outage (SIGSTOP/SIGCONT
//!   or commands), broker restart command; the event log.
//! - [`report`]: accounting (delivered | dead-lettered | lost, by id),
//!   percentiles, phases, timeline, per-process summaries and drift;
//!   [`markdown`] renders `report.md` (KPI table first), [`plots`] the SVGs.
//! - [`steady`]: [`run_steady`] / [`SteadyOptions`], steady mode as a
//!   library call (tests).

pub mod chaos;
pub mod cli;
pub mod follower;
pub mod hops;
pub mod ledger;
pub mod markdown;
pub mod plots;
pub mod procs;
pub mod publisher;
pub mod report;
pub mod run;
pub mod sampler;
pub mod schedule;
pub mod scrape;
pub mod steady;
pub mod topics;

pub use cli::{run_command, BurstArgs, Command, CommonArgs, RampArgs, SoakArgs, SteadyArgs};
pub use report::Report;
pub use run::{Mode, RunOptions};
pub use steady::{run_steady, SteadyOptions};
pub use topics::{PriorityMix, Topics};
