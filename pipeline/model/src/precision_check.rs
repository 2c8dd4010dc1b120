//! `docflow bench precision`: how far the bf16 and int8 CPU encoders are
//! from fp32 on a documents file (cosine of each document's embeddings).
//!
//! fp32 is the reference because it matches sentence-transformers to
//! 0.9999 on the golden texts; the reduced precisions are judged against
//! it document by document, and the worst document is what counts.

use std::path::PathBuf;

use serde::Serialize;

use crate::docs::read_docs;
use crate::pooling::cosine;
use crate::precision::Precision;
use crate::tools::{EncoderFactory, EncoderSettings, ToolError};

/// Settings of [`precision_check`].
#[derive(Debug, Clone, PartialEq)]
pub struct PrecisionCheck {
    /// Model, threads and batching (the precision is ignored: every
    /// precision of `compare` runs, and fp32).
    pub encoder: EncoderSettings,
    /// JSON lines with a "text" field (or bare JSON strings).
    pub docs: PathBuf,
    /// Precisions compared with fp32.
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
pub fn precision_check(args: &PrecisionCheck, make_encoder: &EncoderFactory<'_>) -> Result<PrecisionReport, ToolError> {
    let texts = read_docs(&args.docs)?;
    if texts.is_empty() {
        return Err(ToolError::NoDocuments(args.docs.clone()));
    }
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let embed = |precision: Precision| -> Result<(String, Vec<Vec<f32>>), ToolError> {
        let mut settings = args.encoder.clone();
        settings.spec.precision = precision;
        let mut encoder = settings.text_encoder(make_encoder)?;
        let device = encoder.encoder().device_name();
        let out = encoder.encode_texts(&refs).map_err(|source| ToolError::Precision { precision, source })?;
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
