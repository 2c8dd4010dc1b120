//! `docflow eval extract` and `docflow eval fit`: measure field extraction
//! on your own labelled documents, and refit the extraction ranker on them.
//! The matching rules and the held-out-by-source-group protocol are
//! described in `docflow_parse::eval`.

use docflow_parse::eval::{self, Loaded};
use docflow_parse::extract::rank::Weights;
use docflow_parse::ParseLimits;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Measuring and fitting field extraction on labelled documents.
#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// Per-field accuracy of `docflow parse` on labelled documents.
    ///
    /// DIR holds the documents, truth.jsonl one row per file:
    /// {"file": "a.pdf", "source": "repo:path", "truth": {"vendor": "...", "invoice_number": "...",
    /// "date": "YYYY-MM-DD", "total": 12.5, "currency": "EUR", "iban": "...", "email_from": "...",
    /// "subject": "..."}}. Only the fields a row labels are scored.
    ///
    /// Example: docflow eval extract --docs shared/realdocs/docs --truth shared/realdocs/truth.jsonl --held-out
    Extract(ExtractArgs),
    /// Refit the extraction ranker's weights on labelled documents and write the weights file.
    ///
    /// The shipped file is pipeline/parse/ranker/weights.json; rebuild docflow to ship a new one.
    /// Example: docflow eval fit --docs shared/realdocs/docs --truth shared/realdocs/truth.jsonl --out pipeline/parse/ranker/weights.json
    // `--version` here names the weights file's version, so docflow's own
    // version flag (propagated to every subcommand) is left off this one.
    #[command(disable_version_flag = true)]
    Fit(FitArgs),
    /// Show why the ranker chose each field of one document: its best candidates, their probability and features.
    Explain(ExplainArgs),
    /// What one correction per vendor teaches: the first document of each vendor with several is
    /// corrected (its labelled vendor, invoice number, date and total), the vendor's following
    /// documents are scored without and with what was learned, and other vendors' documents are
    /// checked unchanged.
    ///
    /// Example: docflow eval corrections --docs shared/realdocs/docs [--budget 20]
    Corrections(CorrectionsArgs),
}

#[derive(Debug, clap::Args)]
pub struct CorrectionsArgs {
    #[command(flatten)]
    pub set: LabelledSet,
    /// Instead: a reviewer's budget of N corrections spread over vendors (the first wrongly
    /// read document of each vendor), and what they do to the accuracy held out by source
    /// group: on the other documents once all are made, and test then train (each document
    /// read before its own correction, in file order and in random orders), without
    /// corrections, with the layouts they teach, and with the ranker updated from them too.
    #[arg(long, value_name = "N")]
    pub budget: Option<usize>,
    /// With --budget: how many seeded random orders the test-then-train protocol also runs.
    #[arg(long, default_value_t = 10, value_name = "K")]
    pub shuffles: u64,
    /// Generated documents added to each held-out fit (as `eval extract --generated`).
    #[arg(long, default_value_t = 2000)]
    pub generated: usize,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The document.
    pub file: PathBuf,
    /// Candidates shown per field.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Ranker weights file to use instead of the shipped one.
    #[arg(long)]
    pub weights: Option<PathBuf>,
}

/// Where the labelled documents are.
#[derive(Debug, clap::Args)]
pub struct LabelledSet {
    /// Folder of the documents.
    #[arg(long)]
    pub docs: PathBuf,
    /// The labels, one JSON row per file (default: DOCS/../truth.jsonl).
    #[arg(long)]
    pub truth: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ExtractArgs {
    #[command(flatten)]
    pub set: LabelledSet,
    /// Also report accuracy held out by source group: each group scored
    /// with weights fitted on the other groups only.
    #[arg(long)]
    pub held_out: bool,
    /// Ranker weights file to use instead of the shipped one.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// With --held-out: also fit on this many generated documents (as `eval fit --generated` does).
    #[arg(long, default_value_t = 0)]
    pub generated: usize,
    /// Print one column per source group.
    #[arg(long)]
    pub by_group: bool,
    /// Write the report (per-field counts and per-file outcomes) as JSON to this file ("-": stdout, instead of the table).
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct FitArgs {
    #[command(flatten)]
    pub set: LabelledSet,
    /// Where to write the weights.
    #[arg(long, default_value = "pipeline/parse/ranker/weights.json")]
    pub out: PathBuf,
    /// Version string written into the file (default: today's date).
    #[arg(long)]
    pub version: Option<String>,
    /// Also fit on this many documents from docflow's generator (every
    /// field known, so they also teach when a field is absent).
    #[arg(long, default_value_t = 2000)]
    pub generated: usize,
    /// Seed of the generated documents.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// Training examples from `n` generated documents.
fn generated_examples(n: usize, seed: u64) -> Vec<docflow_parse::extract::rank::fit::Example> {
    if n == 0 {
        return Vec::new();
    }
    eprintln!("generating and reading {n} documents (seed {seed})");
    // Half of the invoices and receipts in the extended notations.
    let cfg = docflow_corpus::CorpusConfig { seed, extended_notations: 0.5, ..Default::default() };
    let corpus = docflow_corpus::Corpus::new(cfg);
    eval::examples_from_known(corpus.take(n).map(|d| (d.raw, d.truth)), &ParseLimits::default())
}

pub fn run(cmd: EvalCommand) -> anyhow::Result<()> {
    match cmd {
        EvalCommand::Extract(a) => extract(a),
        EvalCommand::Fit(a) => fit(a),
        EvalCommand::Explain(a) => explain(a),
        EvalCommand::Corrections(a) => corrections(a),
    }
}

fn corrections(a: CorrectionsArgs) -> anyhow::Result<()> {
    let docs = load(&a.set)?;
    if let Some(budget) = a.budget {
        let extra = generated_examples(a.generated, 7);
        let report = eval::corrections_budget(&docs, &extra, budget);
        let stream = eval::corrections_stream(&docs, &extra, budget, a.shuffles);
        if let Some(path) = &a.json {
            std::fs::write(path, serde_json::to_string_pretty(&serde_json::json!({"other_documents": report, "test_then_train": stream}))?)?;
        }
        print!("{}", report.table());
        print!("{}", stream.table());
        return Ok(());
    }
    let report = eval::corrections(&docs, Weights::shipped());
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    print!("{}", report.table());
    Ok(())
}

fn explain(a: ExplainArgs) -> anyhow::Result<()> {
    use docflow_parse::extract::rank;
    let weights = match &a.weights {
        Some(p) => read_weights(p)?,
        None => Weights::shipped().clone(),
    };
    let body = std::fs::read(&a.file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", a.file.display()))?;
    let raw = docflow_schemas::RawDocument { id: a.file.display().to_string(), content_type: None, body, metadata: Default::default(), created_at_ms: 0 };
    let p = docflow_parse::prepare(&raw, &ParseLimits::default()).map_err(|e| anyhow::anyhow!("{e} ({})", e.kind()))?;
    let fields = p.fields(&weights);
    for (field, cands) in &p.candidates.by_field {
        let w = weights.get(*field);
        let probs = rank::probabilities(w, cands);
        let mut order: Vec<usize> = (0..cands.len()).collect();
        order.sort_by(|&x, &y| probs[y].total_cmp(&probs[x]));
        println!("{} ({} candidates; reported: {:?}, confidence {:.3}, source {})", field.name(), cands.len(),
            fields.field_source.get(field.name()).map(|_| ()).and(Some(field.name())).map(|_| match field {
                rank::Field::Vendor => fields.vendor.clone().unwrap_or_default(),
                rank::Field::InvoiceNumber => fields.invoice_number.clone().unwrap_or_default(),
                rank::Field::Date => fields.date.clone().unwrap_or_default(),
                rank::Field::Total => fields.total.map(|t| t.to_string()).unwrap_or_default(),
            }).unwrap_or_default(),
            fields.confidence(field.name()), fields.field_source.get(field.name()).map(String::as_str).unwrap_or("-"));
        println!("  {:.3}  (no value)", probs[cands.len()]);
        for &k in order.iter().filter(|&&k| k < cands.len()).take(a.top) {
            let c = &cands[k];
            let on: Vec<String> = field.features().iter().zip(&c.x).zip(w.iter()).skip(1)
                .filter(|((_, x), _)| **x != 0.0)
                .map(|((n, x), w)| format!("{n}={x:.2}({:+.2})", x * w))
                .collect();
            println!("  {:.3}  {:<32} line {:<3} {}", probs[k], format!("{:?}", c.value), c.line, on.join(" "));
        }
    }
    Ok(())
}

fn load(set: &LabelledSet) -> anyhow::Result<Vec<Loaded>> {
    if !set.docs.is_dir() {
        anyhow::bail!("{} is not a folder of documents", set.docs.display());
    }
    let truth = set.truth.clone().unwrap_or_else(|| set.docs.join("..").join("truth.jsonl"));
    let rows = eval::read_truth(&truth)?;
    let n = rows.len();
    let mut i = 0;
    let mut err = std::io::stderr();
    let loaded = eval::load(&set.docs, rows, &ParseLimits::default(), |file| {
        i += 1;
        let _ = write!(err, "\rreading {i}/{n} {file:<24}");
    });
    let _ = writeln!(err);
    Ok(loaded)
}

fn read_weights(path: &Path) -> anyhow::Result<Weights> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    Weights::from_json(&text).map_err(|e| anyhow::anyhow!("{}: not a weights file: {e}", path.display()))
}

fn extract(a: ExtractArgs) -> anyhow::Result<()> {
    let docs = load(&a.set)?;
    let weights = match &a.weights {
        Some(p) => read_weights(p)?,
        None => Weights::shipped().clone(),
    };
    let in_sample = eval::score(&docs, &weights);
    let extra = if a.held_out { generated_examples(a.generated, 7) } else { Vec::new() };
    let held_out = a.held_out.then(|| eval::held_out(&docs, &extra));
    if let Some(path) = &a.json {
        let json = serde_json::json!({
            "weights_version": weights.version,
            "in_sample": in_sample,
            "held_out_by_source_group": held_out,
        });
        if path.as_os_str() == "-" {
            println!("{}", serde_json::to_string_pretty(&json)?);
            return Ok(());
        }
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
    }
    println!("{}", in_sample.table(&format!("in sample ({} documents, weights {})", docs.len(), weights.version), a.by_group));
    if let Some(h) = held_out {
        println!("{}", h.table("held out by source group (each group scored with weights fitted on the others)", a.by_group));
    }
    Ok(())
}

fn fit(a: FitArgs) -> anyhow::Result<()> {
    let docs = load(&a.set)?;
    let version = a.version.unwrap_or_else(|| chrono::Utc::now().format("%Y-%m-%d").to_string());
    let extra = generated_examples(a.generated, a.seed);
    let w = eval::fit_on(&docs, &extra, &version);
    let fitted_on = format!(
        "docflow eval fit --docs {} ({} labelled documents) --generated {} --seed {}, from the expert priors in pipeline/parse/src/extract/rank/",
        a.set.docs.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
        docs.len(),
        a.generated,
        a.seed
    );
    let file = w.to_file(&fitted_on);
    std::fs::write(&a.out, serde_json::to_string_pretty(&file)? + "\n")?;
    let before = eval::score(&docs, &Weights::prior());
    let after = eval::score(&docs, &w);
    println!("{}", before.table("with the expert priors", false));
    println!("{}", after.table(&format!("with the fitted weights {version}"), false));
    println!("wrote {}", a.out.display());
    Ok(())
}
