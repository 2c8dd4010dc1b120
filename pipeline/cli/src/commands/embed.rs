//! `docflow embed`: JSON lines `{"id"?, "text"}` in, `{"id", "embedding"}`
//! out, in input order (`docflow_model::tools::embed_stream`), on the CPU
//! or CUDA encoder.

use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use docflow_bench::encoder::ModelArgs;

use super::Context;

/// `docflow embed`: JSON lines `{"id"?, "text"}` in, `{"id", "embedding"}`
/// out, in input order. A record without `id` gets its 0-based record number.
#[derive(Debug, Clone, clap::Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// JSON-lines input (default: standard input).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
}

/// Runs `docflow embed`, writing to standard output.
pub fn run(_ctx: &Context, args: EmbedArgs) -> anyhow::Result<()> {
    let input: Box<dyn BufRead> = match &args.input {
        Some(p) if p.as_os_str() != "-" => {
            Box::new(std::io::BufReader::new(std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?))
        }
        _ => Box::new(std::io::stdin().lock()),
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    docflow_model::tools::embed_stream(&args.model.settings()?, &docflow_cuda::factory, input, &mut out)?;
    out.flush()?;
    Ok(())
}
