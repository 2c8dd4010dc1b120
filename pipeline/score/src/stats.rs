//! Running statistics that serialise into the model state.

use serde::{Deserialize, Serialize};

/// Welford's running mean and variance: O(1) per value, numerically stable,
/// and exact for any order of arrival.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunningStats {
    pub n: u64,
    pub mean: f64,
    pub m2: f64,
}

impl RunningStats {
    pub fn push(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Sample variance (0 with fewer than two values).
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            self.m2 / (self.n - 1) as f64
        }
    }

    /// Standard deviation shrunk towards `prior_std` with the weight of
    /// `prior_weight` pseudo-observations, so two or three examples never
    /// yield a near-zero spread (which would turn every new document into an
    /// "outlier").
    pub fn shrunk_std(&self, prior_std: f64, prior_weight: f64) -> f64 {
        let n = self.n as f64;
        ((n * self.variance() + prior_weight * prior_std * prior_std) / (n + prior_weight)).sqrt()
    }
}

/// Median of a slice (sorted copy; the slices here hold at most a few dozen values).
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 })
}

/// Median absolute deviation from `center`.
pub fn mad(values: &[f64], center: f64) -> Option<f64> {
    let dev: Vec<f64> = values.iter().map(|x| (x - center).abs()).collect();
    median(&dev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welford_matches_two_pass() {
        let xs = [1.0, 2.0, 4.0, 8.0, 16.0];
        let mut s = RunningStats::default();
        xs.iter().for_each(|x| s.push(*x));
        let mean = xs.iter().sum::<f64>() / 5.0;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 4.0;
        assert!((s.mean - mean).abs() < 1e-12 && (s.variance() - var).abs() < 1e-9);
        s.push(f64::NAN);
        assert_eq!(s.n, 5);
    }

    #[test]
    fn median_and_mad() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(mad(&[1.0, 2.0, 3.0, 100.0], 2.5), Some(1.0));
    }

    #[test]
    fn shrinkage_keeps_spread_positive() {
        let mut s = RunningStats::default();
        s.push(0.2);
        s.push(0.2);
        assert!(s.shrunk_std(0.05, 5.0) > 0.04);
    }
}
