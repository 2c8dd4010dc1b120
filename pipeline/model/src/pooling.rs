//! Operations on finished sentence embeddings: combining the windows of a
//! long document (`chunk-mean`) and cosine similarity.

pub use crate::ops::l2_normalize;
use crate::EncoderError;

/// One embedding for a document cut into windows: the mean of its window
/// embeddings (`chunks` is row-major, `dim` floats per window), normalised
/// to unit length again. At least one whole window is needed.
pub fn combine_chunks(chunks: &[f32], dim: usize) -> Result<Vec<f32>, EncoderError> {
    #[allow(clippy::manual_is_multiple_of)] // is_multiple_of needs Rust 1.87; MSRV is 1.85
    if dim == 0 || chunks.is_empty() || chunks.len() % dim != 0 {
        return Err(EncoderError::InvalidBatch(format!(
            "cannot combine {} floats as windows of width {dim}",
            chunks.len()
        )));
    }
    let mut out = vec![0.0f32; dim];
    for row in chunks.chunks_exact(dim) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
    // The mean's scale vanishes in the normalisation; dividing keeps the
    // intermediate readable and matches the definition.
    let n = (chunks.len() / dim) as f32;
    out.iter_mut().for_each(|o| *o /= n);
    l2_normalize(&mut out);
    Ok(out)
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        dot += *x as f64 * *y as f64;
        na += *x as f64 * *x as f64;
        nb += *y as f64 * *y as f64;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    (dot / (na.sqrt() * nb.sqrt())) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_averages_and_renormalises() {
        let e = combine_chunks(&[1.0, 0.0, 0.0, 1.0], 2).unwrap();
        let s = std::f32::consts::FRAC_1_SQRT_2;
        assert!((e[0] - s).abs() < 1e-6 && (e[1] - s).abs() < 1e-6);
        assert_eq!(combine_chunks(&[0.6, 0.8], 2).unwrap(), vec![0.6, 0.8]);
        assert!(combine_chunks(&[], 2).is_err() && combine_chunks(&[1.0; 3], 2).is_err());
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
    }
}
