//! Few-shot prototype classifier with an open set.
//!
//! **Method.** Each class is the running mean of its labeled examples'
//! embeddings (a prototype, as in Prototypical Networks, Snell et al. 2017).
//! Adding an example is O(dim) and needs no pass over history, so a new class
//! is usable after its first example. Classification follows SimpleShot
//! (Wang et al. 2019, "CL2N"): subtract a centre, L2-normalise, pick the
//! nearest prototype by cosine. The centre is the mean of the unit
//! prototypes (one vote per class, so a class with many labels does not pull
//! it). Sentence embeddings share a large common direction (anisotropy), and
//! raw cosines between different document kinds are all high; centring
//! removes that shared part and leaves the directions that tell classes
//! apart. A k-NN or a trained linear head would need the examples kept or a
//! training pass; with 1–20 examples per class the prototype is at least as
//! accurate and stays O(classes × dim) in the model state.
//!
//! **Confidence** is a softmax over the centred cosines with temperature τ
//! (default 0.05): cosines live in [-1, 1] and the gap between the best and
//! the second class is typically 0.1–0.4, which τ = 0.05 turns into 0.9–1.0;
//! a near tie gives ≈ 1/k. It is a ranking signal, not a calibrated probability.
//!
//! **Open set.** When the raw (uncentred) cosine to *every* prototype is below
//! `open_set_min_similarity`, the document is [`OTHER`]: it resembles nothing
//! that was labeled. Raw cosine is used here because it is absolute (centred
//! cosines are relative to the current set of classes).
//!
//! **Distance profile.** Each class also keeps running statistics of the
//! cosine distance between a new member and the prototype *before* that member
//! was added (an unbiased "how far do unseen members fall" estimate), used by
//! the `unusual_for_class` anomaly reason.

use std::collections::BTreeMap;

use docflow_core::StageError;
use serde::{Deserialize, Serialize};

use crate::stats::RunningStats;
use crate::vector::{dot, normalize};

/// The class of a document that resembles no labeled class.
pub const OTHER: &str = "other";

/// Learned state of one class (serialised in the model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassState {
    /// Sum of the unit embeddings of every example.
    pub sum: Vec<f64>,
    /// Number of examples folded in.
    pub count: u64,
    /// Cosine distance of new members to the prototype as it stood before them.
    pub distance: RunningStats,
}

/// All classes (serialised in the model). Mutated only by the learner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierState {
    pub dim: usize,
    pub classes: BTreeMap<String, ClassState>,
}

/// Classification knobs (serialised with the model thresholds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierParams {
    /// Below this raw cosine to every prototype, the class is [`OTHER`].
    pub open_set_min_similarity: f32,
    /// Softmax temperature over centred cosines.
    pub temperature: f32,
}

impl Default for ClassifierParams {
    fn default() -> Self {
        Self { open_set_min_similarity: 0.25, temperature: 0.05 }
    }
}

impl ClassifierState {
    pub fn new(dim: usize) -> Self {
        Self { dim, classes: BTreeMap::new() }
    }

    /// Folds one labeled example (a unit vector of width `dim`) into its class.
    pub fn add_example(&mut self, label: &str, embedding: &[f32]) -> Result<(), StageError> {
        if embedding.len() != self.dim {
            return Err(StageError::user_input(
                "embedding_dim",
                format!("example has {} dimensions, the model has {}", embedding.len(), self.dim),
            ));
        }
        let label = label.trim();
        if label.is_empty() {
            return Err(StageError::user_input("empty_label", "feedback label is empty"));
        }
        let dim = self.dim;
        let class = self.classes.entry(label.to_string()).or_insert_with(|| ClassState {
            sum: vec![0.0; dim],
            count: 0,
            distance: RunningStats::default(),
        });
        if class.count > 0 {
            let d = 1.0 - cosine_to_sum(embedding, &class.sum);
            class.distance.push(d);
        }
        class.sum.iter_mut().zip(embedding).for_each(|(s, x)| *s += f64::from(*x));
        class.count += 1;
        Ok(())
    }

    /// Records the distance of a confidently classified, non-anomalous
    /// document to its class prototype (more samples for the distance profile
    /// without moving the prototype itself: self-training the prototype would
    /// reinforce its own mistakes).
    pub fn observe_member_distance(&mut self, label: &str, distance: f64) {
        if let Some(class) = self.classes.get_mut(label) {
            class.distance.push(distance);
        }
    }
}

fn cosine_to_sum(x: &[f32], sum: &[f64]) -> f64 {
    let norm = sum.iter().map(|s| s * s).sum::<f64>().sqrt();
    if norm <= 1e-12 {
        return 0.0;
    }
    x.iter().zip(sum).map(|(a, b)| f64::from(*a) * b).sum::<f64>() / norm
}

/// The outcome for one document.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    pub class: String,
    pub confidence: f64,
    /// Raw cosine to the chosen prototype (best raw cosine for [`OTHER`]).
    pub similarity: f64,
    /// Index of the chosen class in the compiled classifier (None for the open-set [`OTHER`]).
    pub class_index: Option<usize>,
}

/// Read-only, precomputed form of [`ClassifierState`] used on the scoring path.
#[derive(Debug, Clone)]
pub struct CompiledClassifier {
    pub dim: usize,
    pub labels: Vec<String>,
    /// Unit prototypes.
    raw: Vec<Vec<f32>>,
    /// Unit prototypes after centring.
    centered: Vec<Vec<f32>>,
    center: Vec<f32>,
    /// Per class: (mean, n, variance) of member distances.
    pub distance: Vec<RunningStats>,
    params: ClassifierParams,
}

impl CompiledClassifier {
    pub fn new(state: &ClassifierState, params: ClassifierParams) -> Self {
        let mut labels = Vec::new();
        let mut raw = Vec::new();
        let mut distance = Vec::new();
        for (label, class) in &state.classes {
            let mut p: Vec<f32> = class.sum.iter().map(|s| *s as f32).collect();
            if class.count == 0 || !normalize(&mut p) {
                continue;
            }
            labels.push(label.clone());
            raw.push(p);
            distance.push(class.distance.clone());
        }
        let mut center = vec![0.0f32; state.dim];
        // With a single class, centring would erase the prototype; skip it.
        if raw.len() >= 2 {
            for p in &raw {
                center.iter_mut().zip(p).for_each(|(c, x)| *c += x / raw.len() as f32);
            }
        }
        let centered = raw
            .iter()
            .map(|p| {
                let mut c: Vec<f32> = p.iter().zip(&center).map(|(x, m)| x - m).collect();
                normalize(&mut c);
                c
            })
            .collect();
        Self { dim: state.dim, labels, raw, centered, center, distance, params }
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Classifies a unit embedding of width `dim`.
    pub fn classify(&self, x: &[f32]) -> Classification {
        if self.labels.is_empty() {
            return Classification { class: OTHER.into(), confidence: 0.0, similarity: 0.0, class_index: None };
        }
        let raw_sims: Vec<f32> = self.raw.iter().map(|p| dot(x, p)).collect();
        let best_raw = raw_sims.iter().copied().fold(f32::MIN, f32::max);
        let mut xc: Vec<f32> = x.iter().zip(&self.center).map(|(a, m)| a - m).collect();
        if !normalize(&mut xc) {
            xc = x.to_vec();
        }
        let sims: Vec<f32> = self.centered.iter().map(|p| dot(&xc, p)).collect();
        let (best, best_sim) = sims
            .iter()
            .enumerate()
            .fold((0, f32::MIN), |acc, (i, s)| if *s > acc.1 { (i, *s) } else { acc });
        let tau = self.params.temperature.max(1e-4);
        let denom: f64 = sims.iter().map(|s| f64::from((s - best_sim) / tau).exp()).sum();
        let confidence = 1.0 / denom;
        if best_raw < self.params.open_set_min_similarity {
            // Far from everything: confidence that it is "other" grows with the gap.
            let gap = f64::from(self.params.open_set_min_similarity - best_raw);
            let confidence = 1.0 - (-gap / f64::from(tau)).exp() * 0.5;
            return Classification {
                class: OTHER.into(),
                confidence,
                similarity: f64::from(best_raw),
                class_index: None,
            };
        }
        Classification {
            class: self.labels[best].clone(),
            confidence,
            similarity: f64::from(raw_sims[best]),
            class_index: Some(best),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let mut v = v.to_vec();
        normalize(&mut v);
        v
    }

    #[test]
    fn one_example_makes_a_class() {
        let mut s = ClassifierState::new(3);
        s.add_example("invoice", &unit(&[1.0, 0.1, 0.0])).unwrap();
        let c = CompiledClassifier::new(&s, ClassifierParams::default());
        let r = c.classify(&unit(&[0.9, 0.2, 0.1]));
        assert_eq!(r.class, "invoice");
        // Orthogonal to everything labeled: open set.
        assert_eq!(c.classify(&unit(&[0.0, 0.0, 1.0])).class, OTHER);
    }

    #[test]
    fn nearest_prototype_wins_and_confidence_reflects_margin() {
        let mut s = ClassifierState::new(3);
        s.add_example("a", &unit(&[1.0, 0.2, 0.1])).unwrap();
        s.add_example("a", &unit(&[1.0, 0.0, 0.1])).unwrap();
        s.add_example("b", &unit(&[0.2, 1.0, 0.1])).unwrap();
        s.add_example("c", &unit(&[0.1, 0.2, 1.0])).unwrap();
        let c = CompiledClassifier::new(&s, ClassifierParams::default());
        let clear = c.classify(&unit(&[0.95, 0.1, 0.1]));
        assert_eq!(clear.class, "a");
        assert!(clear.confidence > 0.9, "{clear:?}");
        assert_eq!(s.classes["a"].distance.n, 1);
        // Equidistant from two prototypes: confidence ≈ 1/2.
        let mut two = ClassifierState::new(3);
        two.add_example("a", &[1.0, 0.0, 0.0]).unwrap();
        two.add_example("b", &[0.0, 1.0, 0.0]).unwrap();
        let tie = CompiledClassifier::new(&two, ClassifierParams::default()).classify(&unit(&[0.7, 0.7, 0.1]));
        assert!((tie.confidence - 0.5).abs() < 0.01, "{tie:?}");
    }

    #[test]
    fn bad_examples_are_typed_errors() {
        let mut s = ClassifierState::new(3);
        assert_eq!(s.add_example("a", &[1.0, 0.0]).unwrap_err().kind, "embedding_dim");
        assert_eq!(s.add_example("  ", &[1.0, 0.0, 0.0]).unwrap_err().kind, "empty_label");
        let c = CompiledClassifier::new(&s, ClassifierParams::default());
        assert_eq!(c.classify(&[1.0, 0.0, 0.0]).class, OTHER);
    }
}
