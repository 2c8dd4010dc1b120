//! `docflow bench precision`: how far the bf16 and int8 CPU encoders are
//! from fp32 on a documents file (cosine of each document's embeddings).
//!
//! fp32 is the reference because it matches sentence-transformers to
//! 0.9999 on the golden texts; the reduced precisions are judged against
//! it document by document, and the worst document is what counts.

use std::path::PathBuf;

use anyhow::{bail, Context};
use serde::Serialize;

use crate::cli::{read_docs, EncoderFactory, ModelArgs};
use crate::pooling::cosine;
use crate::precision::Precision;

/// Arguments of `bench precision`.
#[derive(Debug, Clone, clap::Args)]
pub struct PrecisionCheckArgs {
    /// Model, threads and batching (`--precision` is ignored: every
    /// precision of `--compare` runs, and fp32).
    #[command(flatten)]
    pub model: ModelArgs,
    /// JSON lines with a "text" field (or bare JSON strings).
    #[arg(long, value_name = "FILE")]
    pub docs: PathBuf,
    /// Precisions compared with fp32.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "bf16,int8")]
    pub compare: Vec<Precision>,
}

/// One precision against fp32.
#[derive(Debug, Clone, Serialize)]
pub struct PrecisionAgreement {
    pub precision: Precision,
    /// Device name of the encoder (`cpu-int8`, …).
    pub device: String,
    pub min_cosine: f32,
    pub mean_cosine: f64,
    /// 0-based index of the document with the lowest cosine.
    pub worst_doc: usize,
}

/// What `bench precision` prints (one JSON object).
#[derive(Debug, Clone, Serialize)]
pub struct PrecisionReport {
    pub docs: usize,
    pub results: Vec<PrecisionAgreement>,
}

/// Per-document cosines of `got` against `reference` (same order).
pub fn agreement(precision: Precision, device: String, reference: &[Vec<f32>], got: &[Vec<f32>]) -> PrecisionAgreement {
    let cos: Vec<f32> = reference.iter().zip(got).map(|(a, b)| cosine(a, b)).collect();
    let (worst_doc, min_cosine) =
        cos.iter().copied().enumerate().fold((0, f32::INFINITY), |(wi, w), (i, c)| if c < w { (i, c) } else { (wi, w) });
    let mean_cosine = cos.iter().map(|&c| c as f64).sum::<f64>() / cos.len().max(1) as f64;
    PrecisionAgreement { precision, device, min_cosine, mean_cosine, worst_doc }
}

/// Embeds every document at fp32 and at each compared precision.
pub fn precision_check(args: &PrecisionCheckArgs, make_encoder: &EncoderFactory<'_>) -> anyhow::Result<PrecisionReport> {
    let texts = read_docs(&args.docs)?;
    if texts.is_empty() {
        bail!("{} holds no documents", args.docs.display());
    }
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let embed = |precision: Precision| -> anyhow::Result<(String, Vec<Vec<f32>>)> {
        let model = ModelArgs { precision, ..args.model.clone() };
        let mut encoder = model.text_encoder(make_encoder)?;
        let device = encoder.encoder().device_name();
        let out = encoder.encode_texts(&refs).with_context(|| format!("{precision} embeddings"))?;
        Ok((device, out))
    };
    let (_, reference) = embed(Precision::Fp32)?;
    let mut results = Vec::new();
    for &precision in &args.compare {
        let (device, got) = embed(precision)?;
        results.push(agreement(precision, device, &reference, &got));
    }
    Ok(PrecisionReport { docs: texts.len(), results })
}

/// Runs the check and prints its report as JSON on standard output.
pub fn run_precision_check(args: &PrecisionCheckArgs, make_encoder: &EncoderFactory<'_>) -> anyhow::Result<PrecisionReport> {
    let report = precision_check(args, make_encoder)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_finds_the_worst_document() {
        let reference = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]];
        let got = vec![vec![1.0, 0.0], vec![0.1, 1.0], vec![1.0, 1.0]];
        let a = agreement(Precision::Int8, "cpu-int8".into(), &reference, &got);
        assert_eq!(a.worst_doc, 1);
        assert!((a.min_cosine - 1.0 / 1.01f32.sqrt()).abs() < 1e-6);
        assert!(a.mean_cosine < 1.0 && a.mean_cosine > a.min_cosine as f64);
    }
}
