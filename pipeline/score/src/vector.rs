//! Small dense-vector helpers for L2-normalised sentence embeddings.

use docflow_core::StageError;

/// Dot product (the cosine similarity when both sides are unit length).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Scales `v` to unit length in place; returns false (and leaves `v`) when it is ~zero.
pub fn normalize(v: &mut [f32]) -> bool {
    let norm = dot(v, v).sqrt();
    // NaN fails `is_finite`, so the comparison below only sees numbers.
    if !norm.is_finite() || norm <= 1e-12 {
        return false;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    true
}

/// Decodes an embedding (`embedding_f32le`), checks its width and finiteness
/// and re-normalises it (encoders emit unit vectors, but a producer in another
/// language may not; cosine arithmetic below assumes unit length).
pub fn decode_embedding(bytes: &[u8], dim: Option<usize>) -> Result<Vec<f32>, StageError> {
    let mut v = docflow_schemas::embedding_from_bytes(bytes).ok_or_else(|| {
        StageError::user_input("embedding_bytes", format!("embedding has {} bytes, not a multiple of 4", bytes.len()))
    })?;
    if let Some(dim) = dim {
        if v.len() != dim {
            return Err(StageError::user_input(
                "embedding_dim",
                format!("embedding has {} dimensions, the scoring model expects {dim}", v.len()),
            ));
        }
    }
    if v.is_empty() || v.iter().any(|x| !x.is_finite()) {
        return Err(StageError::user_input("embedding_values", "embedding is empty or holds NaN/inf"));
    }
    if !normalize(&mut v) {
        return Err(StageError::user_input("embedding_values", "embedding is the zero vector"));
    }
    Ok(v)
}

/// Stable 64-bit FNV-1a of a string, finished with a splitmix64 mix so that
/// nearby ids spread over the whole range. Used for rollout buckets; it must
/// never change, or documents would switch model versions between releases.
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// `stable_hash` mapped to [0, 1).
pub fn unit_bucket(s: &str) -> f64 {
    (stable_hash(s) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_checks_width_and_values() {
        let bytes = docflow_schemas::embedding_to_bytes(&[3.0, 4.0]);
        let v = decode_embedding(&bytes, Some(2)).unwrap();
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert_eq!(decode_embedding(&bytes, Some(3)).unwrap_err().kind, "embedding_dim");
        assert_eq!(decode_embedding(&bytes[..7], None).unwrap_err().kind, "embedding_bytes");
        let zero = docflow_schemas::embedding_to_bytes(&[0.0, 0.0]);
        assert_eq!(decode_embedding(&zero, None).unwrap_err().kind, "embedding_values");
        let nan = docflow_schemas::embedding_to_bytes(&[f32::NAN, 1.0]);
        assert_eq!(decode_embedding(&nan, None).unwrap_err().kind, "embedding_values");
    }

    #[test]
    fn buckets_are_stable_and_spread() {
        assert_eq!(stable_hash("doc-1"), stable_hash("doc-1"));
        let below = (0..10_000).filter(|i| unit_bucket(&format!("doc-{i}")) < 0.25).count();
        assert!((2_200..2_800).contains(&below), "{below}");
    }
}
