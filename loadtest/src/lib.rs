//! docflow load-test harness and labeled document generator.
//!
//! Where things are:
//! - [`corpus`]: the seeded labeled generator (invoices, receipts, e-mails,
//!   contracts in text, HTML, JSON, e-mail and PDF form, with ground truth
//!   and optional planted anomalies).
//! - [`topics`]: topic names (prefix or explicit) and the lane priority mix.
//! - [`publisher`]: open-loop publishing on a schedule (latency from the
//!   scheduled send time: no coordinated omission).
//! - [`follower`]: reads `docs.results` / `docs.dlq` from the end offsets
//!   captured before publishing and classifies sightings by document id.
//! - [`ledger`]: the shared books (published ids, outcomes, duplicates, HDR
//!   latency histogram, DLQ reasons).
//! - [`report`]: accounting (delivered | dead-lettered | lost, by id),
//!   percentiles, throughput, JSON + Markdown rendering.
//! - [`steady`]: the `steady` scenario, [`run_steady`] and its clap
//!   arguments [`SteadyArgs`]; `src/main.rs` is the `loadtest` binary.

pub mod corpus;
pub mod follower;
pub mod ledger;
pub mod publisher;
pub mod report;
pub mod steady;
pub mod topics;

pub use report::Report;
pub use steady::{run_steady, SteadyArgs, SteadyOptions};
pub use topics::{PriorityMix, Topics};

/// The `loadtest` command line (also mountable under `docflow loadtest`).
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Constant offered rate for a fixed duration.
    Steady(SteadyArgs),
}

/// Runs a parsed command; `Ok(true)` when nothing was lost (exit code 0).
pub async fn run_command(cmd: Command) -> anyhow::Result<bool> {
    match cmd {
        Command::Steady(args) => {
            let out = args.out.clone();
            let report = run_steady(args.options()?).await?;
            println!("{}", report.markdown());
            eprintln!("report: {}/report.json, {}/report.md", out.display(), out.display());
            Ok(report.lost == 0)
        }
    }
}
