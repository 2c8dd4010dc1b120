//! `docflow parse FILE… [--content-type T]`: one JSON object per file on
//! stdout (`{"id","content_type","text_chars","fields","warnings"}`),
//! errors on stderr, non-zero exit when any file failed.

use docflow_parse::{parse_document_with_deadline, ParseLimits};
use docflow_schemas::RawDocument;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `docflow parse`.
#[derive(Debug, Clone, clap::Args)]
pub struct ParseArgs {
    /// Files to parse.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Content type for every file (sniffed from each body when absent).
    #[arg(long = "content-type")]
    pub content_type: Option<String>,
    /// Locale hint for ambiguous dates such as 03/04/2026 (e.g. en-US, de-DE).
    #[arg(long)]
    pub locale: Option<String>,
    /// Also print the extracted text.
    #[arg(long)]
    pub text: bool,
}

/// Runs `docflow parse`; returns an error (after printing each failure) if any file failed.
/// The parsing is the parse stage's (`docflow_parse`, with its deadline); only reading the
/// files and printing happen here.
pub fn run(args: &ParseArgs) -> anyhow::Result<()> {
    let limits = ParseLimits::default();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = 0usize;
    for path in &args.files {
        let id = path.display().to_string();
        let body = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{id}: cannot read file: {e}");
                failed += 1;
                continue;
            }
        };
        let mut raw = RawDocument {
            id: id.clone(),
            content_type: args.content_type.clone(),
            body,
            metadata: Default::default(),
            created_at_ms: 0,
        };
        if let Some(l) = &args.locale {
            raw.metadata.insert("locale".into(), l.clone());
        }
        match parse_document_with_deadline(&raw, &limits) {
            Ok(p) => {
                let mut obj = serde_json::json!({
                    "id": id,
                    "content_type": p.content_type,
                    "text_chars": p.text.chars().count(),
                    "fields": p.fields,
                    "warnings": p.warnings,
                });
                if args.text {
                    obj["text"] = serde_json::Value::String(p.text);
                }
                writeln!(out, "{obj}")?;
            }
            Err(e) => {
                eprintln!("{id}: {} ({})", e, e.kind());
                failed += 1;
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} files could not be parsed", args.files.len());
    }
    Ok(())
}
