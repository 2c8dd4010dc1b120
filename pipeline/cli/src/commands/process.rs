//! `docflow process --offline --input IN.jsonl [--train LABELED.jsonl] --output OUT.jsonl`:
//! parse → embed → score over a file with no Kafka and no database, with the
//! streaming stages' own code (`docflow_stages::offline`). This module holds
//! the flags, the progress bar (stderr) and the closing summary.

use std::path::PathBuf;

use docflow_stages::offline::{process_offline, OfflineOptions, OfflineSettings, OfflineSummary, Progress};

use super::choices::DeviceArg;

/// Arguments of `docflow process`.
#[derive(clap::Args, Debug, Clone)]
pub struct ProcessArgs {
    /// Run over files without Kafka or a database (the only mode of `process`).
    #[arg(long, required = true)]
    pub offline: bool,
    #[command(flatten)]
    pub files: OfflineArgs,
    /// Model folder. Default: $DOCFLOW_MODEL_DIR, else ~/.cache/docflow/models/all-MiniLM-L6-v2.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Where the encoder runs.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// CPU encoder threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Precision of the CPU encoder's dense layers (fp32, bf16, int8).
    #[arg(long, value_enum, default_value_t = docflow_bench::encoder::PrecisionArg::Fp32)]
    pub precision: docflow_bench::encoder::PrecisionArg,
    /// Per-document parse deadline in milliseconds (as `[parse.limits] deadline_ms`).
    #[arg(long)]
    pub parse_deadline_ms: Option<u64>,
}

/// Arguments of `docflow process --offline`.
#[derive(clap::Args, Debug, Clone)]
pub struct OfflineArgs {
    /// Documents to process, one JSON object per line:
    /// `{"id", "content_type"?, "text" | "body_base64", "label"?, "fields"?}` (`fields`:
    /// corrections, e.g. `{"total": "12.50"}`, learned after that document).
    #[arg(long)]
    pub input: PathBuf,
    /// Labeled documents to learn from first (same format, `label` required).
    #[arg(long)]
    pub train: Option<PathBuf>,
    /// Where to write one result per line.
    #[arg(long)]
    pub output: PathBuf,
    /// Documents parsed and embedded together.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Publish a new model version after this many labels.
    #[arg(long, default_value_t = 10)]
    pub publish_every_labels: u64,
    /// Publish a new model version after this many processed documents.
    #[arg(long, default_value_t = 500)]
    pub publish_every_results: u64,
    /// Hide the progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Also write the model version in service at the end, as a
    /// `model.updates` record value (MessagePack `ModelUpdate`), so the
    /// streaming path can serve exactly the version tried here.
    #[arg(long)]
    pub save_model: Option<PathBuf>,
    /// Let `fields` corrections also update the ranker that reads every
    /// document, not only teach their sender's layout (as `[learn]
    /// update_ranker` in the streaming configuration).
    #[arg(long)]
    pub update_ranker: bool,
}

impl From<&ProcessArgs> for OfflineSettings {
    fn from(a: &ProcessArgs) -> Self {
        let f = &a.files;
        OfflineSettings {
            files: OfflineOptions {
                input: f.input.clone(),
                train: f.train.clone(),
                output: f.output.clone(),
                batch_size: f.batch_size,
                publish_every_labels: f.publish_every_labels,
                publish_every_results: f.publish_every_results,
                save_model: f.save_model.clone(),
                update_ranker: f.update_ranker,
            },
            model: a.model.clone(),
            device: a.device.into(),
            threads: a.threads,
            precision: a.precision.into(),
            parse_deadline_ms: a.parse_deadline_ms,
        }
    }
}

/// Runs `docflow process`; the summary goes to stderr, as the progress bar.
pub fn run(args: &ProcessArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.offline, "only `docflow process --offline` exists: the streaming path is `docflow run` / `docflow stage`");
    let mut progress = ProgressBar { bar: None, hidden: args.files.no_progress };
    let summary = process_offline(&OfflineSettings::from(args), &mut progress)?;
    eprintln!("{}", describe(&summary));
    Ok(())
}

/// The closing lines: corrections that were not learned, then one line of totals.
fn describe(s: &OfflineSummary) -> String {
    let mut out = String::new();
    for r in &s.fields_rejected {
        out.push_str(&format!("offline: correction not learned: {r}\n"));
    }
    out.push_str(&format!(
        "offline: {} documents, {} anomalies (> audit threshold), {} dead letters ({}), {} training labels, {} field corrections learned ({} rejected), model version {}{}",
        s.documents,
        s.anomalies,
        s.dead_letters,
        s.dead_letter_file.display(),
        s.trained_labels,
        s.fields_learned,
        s.fields_rejected.len(),
        s.model_version,
        match &s.default_classes {
            Some((seed, labels)) => format!(" (default classes {seed}, refined by {labels} labels)"),
            None => String::new(),
        }
    ));
    out
}

/// An indicatif bar on stderr per phase (`train`, `score`), or nothing with `--no-progress`.
struct ProgressBar {
    bar: Option<indicatif::ProgressBar>,
    hidden: bool,
}

impl Progress for ProgressBar {
    fn start(&mut self, phase: &'static str, total: u64) {
        if self.hidden {
            return;
        }
        let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
        if let Ok(style) = indicatif::ProgressStyle::with_template("{msg:>8} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})") {
            bar.set_style(style);
        }
        bar.set_message(phase);
        self.bar = Some(bar);
    }

    fn advance(&mut self, lines: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(lines);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ProcessArgs,
    }

    #[test]
    fn flags_become_settings_with_the_documented_defaults() {
        let cli = Cli::try_parse_from(["x", "--offline", "--input", "in.jsonl", "--output", "out.jsonl", "--device", "auto"]).unwrap();
        let s = OfflineSettings::from(&cli.args);
        assert_eq!((s.files.batch_size, s.files.publish_every_labels, s.files.publish_every_results), (64, 10, 500));
        assert_eq!((s.device, s.threads, s.precision), (docflow_stages::infer::Device::Auto, 0, docflow_model::Precision::Fp32));
        assert_eq!(s.files.input, PathBuf::from("in.jsonl"));
        assert!(Cli::try_parse_from(["x", "--input", "in.jsonl", "--output", "out.jsonl"]).is_err(), "--offline is required");
    }

    #[test]
    fn summary_names_rejections_and_the_default_classes() {
        let s = OfflineSummary {
            documents: 3,
            dead_letter_file: PathBuf::from("out.jsonl.dlq"),
            fields_rejected: vec!["d1 total: no such value".into()],
            model_version: 2,
            default_classes: Some(("seed-v1".into(), 4)),
            ..Default::default()
        };
        let text = describe(&s);
        assert!(text.starts_with("offline: correction not learned: d1 total: no such value\n"), "{text}");
        assert!(text.ends_with("model version 2 (default classes seed-v1, refined by 4 labels)"), "{text}");
        assert!(text.contains("3 documents") && text.contains("(out.jsonl.dlq)"), "{text}");
    }
}
