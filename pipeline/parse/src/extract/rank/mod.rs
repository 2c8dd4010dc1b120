//! Candidates and a learned ranker, one mechanism for the fields a
//! document states in many ways: vendor, invoice number, date and total.
//!
//! For each field a generator lists every plausible value with a feature
//! vector ([`dates`], [`totals`], [`numbers`], [`vendors`]); a linear scorer
//! with fitted weights ([`Weights`], shipped as `pipeline/parse/ranker/weights.json`
//! and refitted by `docflow eval fit`, see [`fit`]) scores them; the value
//! whose candidates carry the most probability (a softmax over the
//! document's candidates) wins, and that probability is the field's
//! confidence. Label words in six languages ([`lexicon`]) are features,
//! not rules: a new notation needs a word in the lexicon or a new feature,
//! never a new regex.

pub mod dates;
pub mod doc;
pub mod fit;
pub mod heading;
pub mod lexicon;
pub mod numbers;
pub mod totals;
pub mod vendors;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// A plausible value of a field in one document.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The value as the field reports it (ISO date, plain decimal, text).
    pub value: String,
    /// The line it stands on (index into [`doc::Doc::lines`]).
    pub line: usize,
    /// Features, in the order of the field's `FEATURES`.
    pub x: Vec<f32>,
}

/// The fields the ranker chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Vendor,
    InvoiceNumber,
    Date,
    Total,
}

impl Field {
    pub const ALL: [Field; 4] = [Field::Vendor, Field::InvoiceNumber, Field::Date, Field::Total];

    /// The field's name in `BusinessFields` and in the weights file.
    pub fn name(self) -> &'static str {
        match self {
            Field::Vendor => "vendor",
            Field::InvoiceNumber => "invoice_number",
            Field::Date => "date",
            Field::Total => "total",
        }
    }

    /// Feature names of this field's candidates.
    pub fn features(self) -> &'static [&'static str] {
        match self {
            Field::Vendor => vendors::FEATURES,
            Field::InvoiceNumber => numbers::FEATURES,
            Field::Date => dates::FEATURES,
            Field::Total => totals::FEATURES,
        }
    }

    /// The expert prior the fit starts from and is pulled towards: one
    /// weight per feature, then the score of "no value" ([`NO_VALUE`]).
    pub fn prior(self) -> Vec<f32> {
        let (features, no_value) = match self {
            Field::Vendor => (vendors::PRIOR, 0.0),
            // Many receipts and letters carry no document number.
            Field::InvoiceNumber => (numbers::PRIOR, 1.5),
            Field::Date => (dates::PRIOR, -1.0),
            Field::Total => (totals::PRIOR, -1.0),
        };
        let mut w = features.to_vec();
        w.push(no_value);
        w
    }

    /// Names of the weights: the features, then [`NO_VALUE`].
    pub fn weight_names(self) -> impl Iterator<Item = &'static str> {
        self.features().iter().copied().chain([NO_VALUE])
    }

    /// Index of the "the label rules chose this value" feature.
    fn legacy_feature(self) -> usize {
        match self {
            Field::Vendor => vendors::LEGACY,
            Field::InvoiceNumber => numbers::LEGACY,
            Field::Date => dates::LEGACY,
            Field::Total => totals::LEGACY,
        }
    }

    /// Candidates of this field in `doc`.
    pub fn candidates(self, doc: &doc::Doc) -> Vec<Candidate> {
        match self {
            Field::Vendor => vendors::candidates(doc),
            Field::InvoiceNumber => numbers::candidates(doc),
            Field::Date => dates::candidates(doc),
            Field::Total => totals::candidates(doc),
        }
    }
}

/// The weight of the "no value" choice: the document states no such field.
/// It competes with the candidates in the softmax, so a field is absent
/// when nothing scores above it, and a fit on documents known to lack the
/// field (generated ones) teaches when that is.
pub const NO_VALUE: &str = "no_value";

/// The ranker's weights: one vector per field, aligned with its `FEATURES`
/// and one more for [`NO_VALUE`].
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// Version string of the weights file (`docflow parse` output and models name it).
    pub version: String,
    by_field: BTreeMap<Field, Vec<f32>>,
}

/// The weights file as stored: feature names to weights, so that a file
/// stays readable and a feature added later takes its prior.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WeightsFile {
    pub version: String,
    /// How the file was made (command, data, date).
    #[serde(default)]
    pub fitted_on: String,
    pub fields: BTreeMap<String, BTreeMap<String, f32>>,
}

impl Weights {
    /// The expert priors alone (what a fit starts from).
    pub fn prior() -> Weights {
        let by_field = Field::ALL.iter().map(|&f| (f, f.prior())).collect();
        Weights { version: "prior".to_string(), by_field }
    }

    /// Reads a weights file's JSON; features it does not name keep their prior.
    pub fn from_json(json: &str) -> Result<Weights, serde_json::Error> {
        let file: WeightsFile = serde_json::from_str(json)?;
        let mut w = Weights::prior();
        w.version = file.version;
        for f in Field::ALL {
            if let Some(named) = file.fields.get(f.name()) {
                let v = w.by_field.get_mut(&f).expect("every field has a prior");
                for (k, name) in f.weight_names().enumerate() {
                    if let Some(&x) = named.get(name) {
                        v[k] = x;
                    }
                }
            }
        }
        Ok(w)
    }

    /// The file form of these weights.
    pub fn to_file(&self, fitted_on: &str) -> WeightsFile {
        let fields = Field::ALL
            .iter()
            .map(|&f| (f.name().to_string(), f.weight_names().map(str::to_string).zip(self.get(f).iter().copied()).collect()))
            .collect();
        WeightsFile { version: self.version.clone(), fitted_on: fitted_on.to_string(), fields }
    }

    pub fn get(&self, f: Field) -> &[f32] {
        &self.by_field[&f]
    }

    pub fn set(&mut self, f: Field, w: Vec<f32>) {
        assert_eq!(w.len(), f.features().len() + 1);
        self.by_field.insert(f, w);
    }

    /// The weights shipped with docflow.
    pub fn shipped() -> &'static Weights {
        &SHIPPED
    }
}

static SHIPPED: LazyLock<Weights> = LazyLock::new(|| {
    Weights::from_json(include_str!("../../../ranker/weights.json")).expect("the shipped ranker weights parse")
});

/// A chosen value with its confidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub value: String,
    /// Probability the ranker gives this value among the document's candidates.
    pub confidence: f32,
    /// The winning candidate (the best-scored one holding the value).
    pub best: usize,
}

/// Linear score of one candidate.
pub fn score(w: &[f32], x: &[f32]) -> f32 {
    w.iter().zip(x).map(|(a, b)| a * b).sum()
}

/// Softmax probabilities of the candidates' scores, and last, of "no value".
pub fn probabilities(w: &[f32], cands: &[Candidate]) -> Vec<f32> {
    let no_value = w.last().copied().unwrap_or(0.0);
    let s: Vec<f32> = cands.iter().map(|c| score(w, &c.x)).chain([no_value]).collect();
    let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = s.iter().map(|v| (v - max).exp()).collect();
    let z: f32 = e.iter().sum();
    e.into_iter().map(|v| v / z).collect()
}

/// The value with the most probability mass (its candidates' probabilities
/// summed: a total printed three times is one value); `None` when "no
/// value" carries more.
pub fn choose(w: &[f32], cands: &[Candidate]) -> Option<Choice> {
    if cands.is_empty() {
        return None;
    }
    let p = probabilities(w, cands);
    let p_none = p[cands.len()];
    // Candidates grouped by value (sorted, not compared pairwise: a
    // document has dozens of candidates).
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by(|&a, &b| cands[a].value.cmp(&cands[b].value));
    let mut by_value: Vec<(&str, f32, usize)> = Vec::new();
    for k in order {
        match by_value.last_mut() {
            Some(e) if e.0 == cands[k].value => {
                e.1 += p[k];
                if p[k] > p[e.2] {
                    e.2 = k;
                }
            }
            _ => by_value.push((&cands[k].value, p[k], k)),
        }
    }
    let (value, confidence, best) = by_value.into_iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    (confidence >= p_none).then(|| Choice { value: value.to_string(), confidence, best })
}

/// Marks the candidates whose value the label rules chose (one feature
/// among the others: the fit decides how far to trust them).
pub fn mark_rule_choice(field: Field, cands: &mut [Candidate], rule_value: Option<&str>) {
    let Some(rule) = rule_value.map(str::trim).filter(|r| !r.is_empty()) else { return };
    let k = field.legacy_feature();
    let rule_l = rule.to_lowercase();
    for c in cands {
        let same = match field {
            Field::Vendor => {
                let v = c.value.to_lowercase();
                v == rule_l || (v.len() >= 4 && rule_l.contains(&v)) || (rule_l.len() >= 4 && v.contains(&rule_l))
            }
            Field::Total => c.value.parse::<rust_decimal::Decimal>().ok() == rule.parse().ok(),
            _ => c.value.to_lowercase() == rule_l,
        };
        if same {
            c.x[k] = 1.0;
        }
    }
}

/// Every field's candidates for one document, with the rule choices marked.
#[derive(Debug, Clone)]
pub struct DocCandidates {
    pub by_field: Vec<(Field, Vec<Candidate>)>,
}

/// Builds the candidates of every ranked field of a document.
pub fn candidates(doc: &doc::Doc, rules: &docflow_schemas::BusinessFields) -> DocCandidates {
    let by_field = Field::ALL
        .iter()
        .map(|&f| {
            let mut c = f.candidates(doc);
            let rule = match f {
                Field::Vendor => rules.vendor.clone(),
                Field::InvoiceNumber => rules.invoice_number.clone(),
                Field::Date => rules.date.clone(),
                Field::Total => rules.total.map(|t| t.normalize().to_string()),
            };
            mark_rule_choice(f, &mut c, rule.as_deref());
            (f, c)
        })
        .collect();
    DocCandidates { by_field }
}

/// Whether a chosen candidate was read after a label on its own line
/// (source `label`), after a label on the line above (`layout`), or
/// chosen by the ranker on the rest of its features (`ranker`).
pub fn source_of(field: Field, c: &Candidate) -> &'static str {
    let names = field.features();
    let on = |n: &str| names.iter().position(|x| *x == n).is_some_and(|k| c.x[k] > 0.0);
    if on("label_same_line") || on("strong_label_same_line") || on("after_seller_label") {
        "label"
    } else if on("label_prev_line") || on("strong_label_prev_line") {
        "layout"
    } else {
        "ranker"
    }
}
