//! Fitting the ranker: a conditional logit per field (softmax over one
//! document's candidates, maximising the probability of the correct ones)
//! with a Gaussian prior centred on the expert weights, so that a field
//! with few labelled documents stays near the prior and one with many
//! moves as far as the data says. Deterministic: plain gradient ascent
//! from the prior, a fixed number of steps.

use super::{probabilities, Candidate, Field, Weights};

/// One labelled document's candidates for one field.
#[derive(Debug, Clone)]
pub struct Example {
    pub field: Field,
    pub candidates: Vec<Candidate>,
    /// Which candidates hold the labelled value.
    pub correct: Vec<bool>,
    /// The document is known to state no such field ("no value" is correct).
    pub absent: bool,
    /// How much the example counts (1 by default; see [`balance`]).
    pub weight: f32,
}

/// Gives each field's examples of the first kind (real documents) as much
/// total weight as those of the second (generated ones), so that a large
/// generated set teaches its notations without drowning the real ones.
pub fn balance(real: &mut [Example], generated: &[Example]) {
    for field in Field::ALL {
        let n_real = real.iter().filter(|e| e.field == field && e.usable()).count() as f32;
        let n_gen = generated.iter().filter(|e| e.field == field && e.usable()).count() as f32;
        if n_real > 0.0 && n_gen > n_real {
            for e in real.iter_mut().filter(|e| e.field == field) {
                e.weight = n_gen / n_real;
            }
        }
    }
}

impl Example {
    /// Whether some choice is correct: a candidate, or "no value".
    fn usable(&self) -> bool {
        self.absent || self.correct.iter().any(|&c| c)
    }

    /// Whether choice `k` is correct (`k == candidates.len()`: "no value").
    fn is_correct(&self, k: usize) -> bool {
        if k == self.candidates.len() {
            self.absent
        } else {
            self.correct[k]
        }
    }
}

/// Fit settings.
#[derive(Debug, Clone, Copy)]
pub struct FitConfig {
    /// Strength of the pull towards the prior (L2 on `w - prior`).
    pub l2: f32,
    pub steps: usize,
    pub learning_rate: f32,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig { l2: 0.02, steps: 400, learning_rate: 0.5 }
    }
}

/// Mean log-likelihood of `examples` under weights `w` (those with a correct candidate).
pub fn log_likelihood(w: &[f32], examples: &[&Example]) -> f32 {
    let mut ll = 0.0;
    let mut n = 0;
    for e in examples {
        if !e.usable() {
            continue;
        }
        let p = probabilities(w, &e.candidates);
        let pc: f32 = p.iter().enumerate().filter(|(k, _)| e.is_correct(*k)).map(|(_, p)| *p).sum();
        ll += e.weight * pc.max(1e-9).ln();
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        ll / n as f32
    }
}

/// Fits every field's weights on `examples`, starting from and pulled
/// towards `prior`. Fields without usable examples keep the prior.
pub fn fit(examples: &[Example], prior: &Weights, cfg: FitConfig, version: &str) -> Weights {
    let mut out = prior.clone();
    out.version = version.to_string();
    for field in Field::ALL {
        let ex: Vec<&Example> = examples.iter().filter(|e| e.field == field && e.usable()).collect();
        if ex.is_empty() {
            continue;
        }
        let w0 = prior.get(field).to_vec();
        let mut w = w0.clone();
        let d = w.len();
        for _ in 0..cfg.steps {
            let mut grad = vec![0.0f32; d];
            for e in &ex {
                let p = probabilities(&w, &e.candidates);
                let pc: f32 = p.iter().enumerate().filter(|(k, _)| e.is_correct(*k)).map(|(_, p)| *p).sum::<f32>().max(1e-12);
                // d/dw log(sum_correct p) = E_correct[x] - E_all[x]; "no
                // value" has the one feature NO_VALUE (the last weight).
                for (k, &pk) in p.iter().enumerate() {
                    let q = if e.is_correct(k) { pk / pc } else { 0.0 };
                    let coef = e.weight * (q - pk);
                    if coef == 0.0 {
                        continue;
                    }
                    match e.candidates.get(k) {
                        Some(c) => {
                            for (g, x) in grad.iter_mut().zip(&c.x) {
                                *g += coef * x;
                            }
                        }
                        None => grad[d - 1] += coef,
                    }
                }
            }
            let n: f32 = ex.iter().map(|e| e.weight).sum();
            for j in 0..d {
                w[j] += cfg.learning_rate * (grad[j] / n - cfg.l2 * (w[j] - w0[j]));
            }
        }
        out.set(field, w);
    }
    out
}

/// How strongly an update from corrections is pulled back towards the
/// weights it starts from (the L2 strength of [`update`]). The gradient is
/// a mean over the corrected documents, so the pull does not weaken as
/// corrections accumulate: a few corrections nudge the ranker, they never
/// rewrite it, and a correction that contradicts many fitted documents
/// cannot undo them. On the real documents' test-then-train protocol
/// (`docflow eval corrections --budget 20`), weaker pulls (0.1 to 1.5)
/// break as many fields as they fix; see the README's corrections section.
pub const CORRECTION_PULL: f32 = 2.0;

/// The ranker after corrections: `current` moved towards reading the
/// corrected documents (`examples`, their candidates and which hold the
/// corrected values) right, pulled back by [`CORRECTION_PULL`].
/// Deterministic, so the stream and the offline replay agree.
pub fn update(current: &Weights, examples: &[Example], version: &str) -> Weights {
    // Plain gradient steps stay stable while learning rate x pull < 2; at
    // 0.5 x 2 each step lands on `current` + half the gradient.
    fit(examples, current, FitConfig { l2: CORRECTION_PULL, steps: 400, learning_rate: 0.5 }, version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(v: &str, x: Vec<f32>) -> Candidate {
        Candidate { value: v.into(), line: 0, x }
    }

    #[test]
    fn fit_learns_the_feature_that_marks_the_answer() {
        // Date features: the answer always has `time_on_line` (index 6); the prior gives it 1.0.
        let n = super::super::dates::FEATURES.len();
        let mut examples = Vec::new();
        for k in 0..20 {
            let mut a = vec![0.0; n];
            a[0] = 1.0;
            a[6] = 1.0;
            let mut b = vec![0.0; n];
            b[0] = 1.0;
            b[7] = 1.0; // `first_date` on the wrong one
            let (cands, correct) = if k % 2 == 0 { (vec![cand("a", a), cand("b", b)], vec![true, false]) } else { (vec![cand("b", b), cand("a", a)], vec![false, true]) };
            examples.push(Example { field: Field::Date, candidates: cands, correct, absent: false, weight: 1.0 });
        }
        let prior = Weights::prior();
        let refs: Vec<&Example> = examples.iter().collect();
        let before = log_likelihood(prior.get(Field::Date), &refs);
        let w = fit(&examples, &prior, FitConfig::default(), "test");
        let after = log_likelihood(w.get(Field::Date), &refs);
        assert!(after > before, "{after} > {before}");
        assert!(w.get(Field::Date)[6] > prior.get(Field::Date)[6]);
        assert!(w.get(Field::Date)[7] < prior.get(Field::Date)[7]);
        // Fields without examples keep the prior.
        assert_eq!(w.get(Field::Total), prior.get(Field::Total));
    }
}
