//! Measuring extraction on labelled documents, and fitting the ranker on
//! them: what `docflow eval extract` and `docflow eval fit` run.
//!
//! A labelled set is a folder of documents and a `truth.jsonl` with one
//! row per file: `{"file", "kind", "source", "truth": {field: value}}`
//! (the format of `shared/realdocs`). The matching rules are those of its
//! `score.py`: vendor lenient (case, accents, punctuation and legal forms
//! ignored; containment either way), invoice number exact but for case,
//! whitespace and a leading `#`, date ISO exact, total within 0.01,
//! currency and subject exact but for case and whitespace, IBAN without
//! spaces, e-mail sender among the addresses found.
//!
//! Held out by source group: for each group (the repository a row's
//! `source` names), the ranker is fitted on the other groups only and
//! scored on this one; pooled over groups, that figure predicts documents
//! from elsewhere, which the in-sample figure does not.

use crate::extract::rank::{fit, Candidate, Field, Weights};
use crate::{prepare, ParseLimits, Prepared};
use docflow_schemas::{BusinessFields, RawDocument};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Scored fields, in report order (`overall` pools all but `vendor_exact`).
pub const FIELDS: [&str; 9] = ["vendor", "vendor_exact", "invoice_number", "date", "total", "currency", "iban", "email_from", "subject"];

/// One row of `truth.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TruthRow {
    pub file: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub source: String,
    pub truth: BTreeMap<String, Value>,
    #[serde(default)]
    pub einvoice_pdf: bool,
    /// Overrides the group read from `source`.
    #[serde(default)]
    pub group: Option<String>,
}

impl TruthRow {
    /// The source group: `group`, else `source` up to its first `:` or `@`.
    pub fn group(&self) -> String {
        self.group.clone().unwrap_or_else(|| self.source.split([':', '@']).next().unwrap_or("").to_string())
    }
}

/// Why a `truth.jsonl` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    #[error("cannot read {}", path.display())]
    Read { path: std::path::PathBuf, source: std::io::Error },
    /// A row that is not a [`TruthRow`] (`line` counts from 1).
    #[error("{}:{line}", path.display())]
    Row { path: std::path::PathBuf, line: usize, source: serde_json::Error },
}

/// Reads a `truth.jsonl`.
pub fn read_truth(path: &Path) -> Result<Vec<TruthRow>, TruthError> {
    let text = std::fs::read_to_string(path).map_err(|source| TruthError::Read { path: path.to_owned(), source })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|source| TruthError::Row { path: path.to_owned(), line: i + 1, source }))
        .collect()
}

/// Outcome of one labelled field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Correct,
    Missing,
    Wrong,
}

/// Case-folds and strips accents (the common Latin letters).
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let r = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' | 'ı' => "i",
            'ñ' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ý' | 'ÿ' => "y",
            'ß' => "ss",
            'æ' => "ae",
            'œ' => "oe",
            'ł' => "l",
            'đ' => "d",
            _ => {
                out.push(c);
                continue;
            }
        };
        out.push_str(r);
    }
    out
}

const LEGAL: &[&str] = &[
    "gmbh", "mbh", "inc", "incorporated", "ltd", "limited", "llc", "llp", "lp", "plc", "corp", "corporation", "co", "company",
    "ag", "kg", "ohg", "ug", "gbr", "ev", "sa", "sas", "sarl", "srl", "spa", "sl", "bv", "nv", "oy", "ab", "as", "aps", "pty",
    "pvt", "sdn", "bhd", "kk", "se", "eg", "akcyjna", "spolka", "spzoo", "sp", "zoo", "ooo", "oao", "zao", "the", "inh",
];
const LEGAL_SEQ: &[&[&str]] = &[
    &["s", "a"], &["b", "v"], &["n", "v"], &["s", "b"], &["a", "g"], &["s", "l"], &["s", "r", "l"], &["s", "p", "a"],
    &["e", "v"], &["k", "k"], &["p", "t", "e"], &["sp", "z", "o", "o"], &["s", "a", "s"],
];

/// A vendor name reduced for lenient comparison.
pub fn vendor_norm(s: &str) -> String {
    let f = fold(s).replace('&', " and ");
    let toks: Vec<&str> = f.split(|c: char| !c.is_ascii_alphanumeric()).filter(|t| !t.is_empty()).collect();
    let mut out = Vec::new();
    let mut i = 0;
    'outer: while i < toks.len() {
        for seq in LEGAL_SEQ {
            if toks.len() >= i + seq.len() && toks[i..i + seq.len()] == **seq {
                i += seq.len();
                continue 'outer;
            }
        }
        if !LEGAL.contains(&toks[i]) {
            out.push(toks[i]);
        }
        i += 1;
    }
    out.join(" ")
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether `got` is the labelled value `truth` of `field` (a single value).
pub fn value_matches(field: &str, truth: &Value, got: &str) -> bool {
    let t = as_text(truth);
    match field {
        "vendor" => {
            let (a, b) = (vendor_norm(&t), vendor_norm(got));
            !a.is_empty()
                && !b.is_empty()
                && (a == b || (a.len().min(b.len()) >= 3 && (format!(" {b} ").contains(&format!(" {a} ")) || format!(" {a} ").contains(&format!(" {b} ")))))
        }
        "vendor_exact" | "currency" | "subject" => collapse(got).to_lowercase() == collapse(&t).to_lowercase(),
        "invoice_number" => {
            let n = |s: &str| collapse(s).trim_start_matches('#').trim().to_lowercase();
            n(got) == n(&t)
        }
        "date" => got.trim().get(..10) == Some(t.as_str()),
        "total" => {
            let want: Option<Decimal> = t.parse().ok().or_else(|| truth.as_f64().and_then(|f| Decimal::try_from(f).ok()));
            match (got.trim().parse::<Decimal>(), want) {
                (Ok(g), Some(w)) => (g - w).abs() <= Decimal::new(1, 2),
                _ => false,
            }
        }
        "iban" => got.split_whitespace().collect::<String>().eq_ignore_ascii_case(&t.split_whitespace().collect::<String>()),
        _ => false,
    }
}

/// The value of a single-valued scored field, as text.
fn field_text(f: &BusinessFields, field: &str) -> Option<String> {
    match field {
        "vendor" | "vendor_exact" => f.vendor.clone(),
        "invoice_number" => f.invoice_number.clone(),
        "date" => f.date.clone(),
        "total" => f.total.map(|t| t.to_string()),
        "currency" => f.currency.clone(),
        "iban" => f.iban.clone(),
        "subject" => f.subject.clone(),
        _ => None,
    }
}

/// Scores one labelled field of a document's fields.
pub fn check(field: &str, truth: &Value, f: &BusinessFields) -> Status {
    let got: Option<String> = match field {
        "email_from" => {
            let want = as_text(truth).to_lowercase();
            // Every address in the fields (a party may read `Name <a@b>`).
            let all: Vec<String> = f
                .emails
                .iter()
                .chain(&f.parties)
                .flat_map(|s| s.split(|c: char| c.is_whitespace() || "<>\"'(),;:".contains(c)).map(str::to_lowercase).collect::<Vec<_>>())
                .filter(|a| a.contains('@'))
                .collect();
            if all.is_empty() {
                return Status::Missing;
            }
            return if all.contains(&want) { Status::Correct } else { Status::Wrong };
        }
        _ => field_text(f, field),
    };
    match got.filter(|g| !g.trim().is_empty()) {
        None => Status::Missing,
        Some(g) if value_matches(field, truth, &g) => Status::Correct,
        Some(_) => Status::Wrong,
    }
}

/// A labelled document, read and with its candidates listed.
pub struct Loaded {
    pub row: TruthRow,
    /// The prepared document, or why it could not be parsed.
    pub prepared: Result<Prepared, String>,
}

/// Reads every document of `rows` from `dir` (`progress` is told each file).
pub fn load(dir: &Path, rows: Vec<TruthRow>, limits: &ParseLimits, mut progress: impl FnMut(&str)) -> Vec<Loaded> {
    rows.into_iter()
        .map(|row| {
            progress(&row.file);
            let prepared = std::fs::read(dir.join(&row.file)).map_err(|e| format!("cannot read: {e}")).and_then(|body| {
                let raw = RawDocument { id: row.file.clone(), content_type: None, body, metadata: Default::default(), created_at_ms: 0 };
                prepare(&raw, limits).map_err(|e| format!("{e} ({})", e.kind()))
            });
            Loaded { row, prepared }
        })
        .collect()
}

/// Correct / labelled counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    pub correct: usize,
    pub labelled: usize,
}

impl Count {
    fn add(&mut self, ok: bool) {
        self.correct += ok as usize;
        self.labelled += 1;
    }

    pub fn rate(&self) -> Option<f64> {
        (self.labelled > 0).then(|| self.correct as f64 / self.labelled as f64)
    }

    /// `0.917 (176/192)`, or `-` when nothing is labelled.
    pub fn cell(&self) -> String {
        match self.rate() {
            Some(r) => format!("{r:.3} ({}/{})", self.correct, self.labelled),
            None => "-".to_string(),
        }
    }
}

/// Per-field counts, also by source group, and the per-file outcomes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub fields: BTreeMap<String, Count>,
    pub overall: Count,
    pub by_group: BTreeMap<String, BTreeMap<String, Count>>,
    pub failed_files: Vec<(String, String)>,
    pub files: Vec<FileOutcome>,
}

/// One file's outcome per labelled field.
#[derive(Debug, Clone, Serialize)]
pub struct FileOutcome {
    pub file: String,
    pub group: String,
    pub fields: BTreeMap<String, (Status, Option<String>, Value)>,
}

impl Report {
    /// Adds one document's fields (`None`: it failed to parse).
    pub fn add(&mut self, row: &TruthRow, fields: Option<&BusinessFields>) {
        let group = row.group();
        let mut outcome = FileOutcome { file: row.file.clone(), group: group.clone(), fields: BTreeMap::new() };
        for field in FIELDS {
            let key = if field == "vendor_exact" { "vendor" } else { field };
            let Some(truth) = row.truth.get(key) else { continue };
            let status = fields.map_or(Status::Missing, |f| check(field, truth, f));
            let ok = status == Status::Correct;
            self.fields.entry(field.to_string()).or_default().add(ok);
            self.by_group.entry(group.clone()).or_default().entry(field.to_string()).or_default().add(ok);
            if field != "vendor_exact" {
                self.overall.add(ok);
            }
            let got = fields.and_then(|f| field_text(f, key));
            outcome.fields.insert(field.to_string(), (status, got, truth.clone()));
        }
        self.files.push(outcome);
    }

    /// The per-field table (and, with `groups`, one column per source group).
    pub fn table(&self, title: &str, groups: bool) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let group_names: Vec<&String> = if groups { self.by_group.keys().collect() } else { Vec::new() };
        let _ = writeln!(s, "{title}");
        let _ = write!(s, "{:<16}{:>16}", "field", "correct");
        for g in &group_names {
            let short = g.rsplit('/').next().unwrap_or(g);
            let _ = write!(s, "{:>18}", &short[..short.len().min(17)]);
        }
        let _ = writeln!(s);
        let cell = |c: &Count| match c.rate() {
            Some(r) => format!("{:.3} ({}/{})", r, c.correct, c.labelled),
            None => "-".to_string(),
        };
        for field in FIELDS.iter().map(|f| f.to_string()).chain(["overall".to_string()]) {
            let c = if field == "overall" { self.overall } else { self.fields.get(&field).copied().unwrap_or_default() };
            if c.labelled == 0 {
                continue;
            }
            let _ = write!(s, "{:<16}{:>16}", field, cell(&c));
            for g in &group_names {
                let gc = if field == "overall" {
                    let mut t = Count::default();
                    for (f, c) in &self.by_group[*g] {
                        if f != "vendor_exact" {
                            t.correct += c.correct;
                            t.labelled += c.labelled;
                        }
                    }
                    t
                } else {
                    self.by_group[*g].get(&field).copied().unwrap_or_default()
                };
                let _ = write!(s, "{:>18}", cell(&gc));
            }
            let _ = writeln!(s);
        }
        if !self.failed_files.is_empty() {
            let _ = writeln!(s, "{} files did not parse:", self.failed_files.len());
            for (f, e) in &self.failed_files {
                let _ = writeln!(s, "  {f}: {e}");
            }
        }
        s
    }
}

/// Scores `docs` with `weights`.
pub fn score<'a>(docs: impl IntoIterator<Item = &'a Loaded>, weights: &Weights) -> Report {
    let mut r = Report::default();
    for d in docs {
        match &d.prepared {
            Ok(p) => r.add(&d.row, Some(&p.fields(weights))),
            Err(e) => {
                r.failed_files.push((d.row.file.clone(), e.clone()));
                r.add(&d.row, None);
            }
        }
    }
    r
}

/// The ranker's training examples in `docs`: for each labelled ranked
/// field, the document's candidates and which of them hold the label.
pub fn examples<'a>(docs: impl IntoIterator<Item = &'a Loaded>) -> Vec<fit::Example> {
    let mut out = Vec::new();
    for d in docs {
        let Ok(p) = &d.prepared else { continue };
        for (field, cands) in &p.candidates.by_field {
            let Some(truth) = d.row.truth.get(field.name()) else { continue };
            let correct: Vec<bool> = cands.iter().map(|c: &Candidate| value_matches(field.name(), truth, &c.value)).collect();
            out.push(fit::Example { field: *field, candidates: cands.clone(), correct, absent: false, weight: 1.0 });
        }
    }
    out
}

/// Training examples from documents whose every field is known (generated
/// ones): a field the truth leaves empty teaches "no value". Only
/// documents the extractor reads as business documents count (for plain
/// e-mails and contracts the ranked fields are not used).
pub fn examples_from_known(docs: impl IntoIterator<Item = (RawDocument, BusinessFields)>, limits: &ParseLimits) -> Vec<fit::Example> {
    let mut out = Vec::new();
    for (raw, truth) in docs {
        let Ok(p) = prepare(&raw, limits) else { continue };
        if !matches!(p.rules.doc_type_hint.as_deref(), Some("invoice" | "receipt" | "other")) {
            continue;
        }
        for (field, cands) in &p.candidates.by_field {
            let want: Option<String> = match field {
                Field::Vendor => truth.vendor.clone(),
                Field::InvoiceNumber => truth.invoice_number.clone(),
                Field::Date => truth.date.clone(),
                Field::Total => truth.total.map(|t| t.to_string()),
            };
            let (correct, absent) = match &want {
                Some(v) => {
                    let v = Value::String(v.clone());
                    (cands.iter().map(|c| value_matches(field.name(), &v, &c.value)).collect(), false)
                }
                None => (vec![false; cands.len()], true),
            };
            out.push(fit::Example { field: *field, candidates: cands.clone(), correct, absent, weight: 1.0 });
        }
    }
    out
}

/// Fits weights on `docs` (plus `extra` examples), from the expert prior.
pub fn fit_on<'a>(docs: impl IntoIterator<Item = &'a Loaded>, extra: &[fit::Example], version: &str) -> Weights {
    let mut ex = examples(docs);
    fit::balance(&mut ex, extra);
    ex.extend_from_slice(extra);
    fit::fit(&ex, &Weights::prior(), fit::FitConfig::default(), version)
}

/// Held out by source group: each group scored with weights fitted on
/// the others (and `extra`), pooled into one report.
pub fn held_out(docs: &[Loaded], extra: &[fit::Example]) -> Report {
    let mut groups: Vec<String> = docs.iter().map(|d| d.row.group()).collect();
    groups.sort();
    groups.dedup();
    let mut pooled = Report::default();
    for g in &groups {
        let w = fit_on(docs.iter().filter(|d| &d.row.group() != g), extra, &format!("held-out:{g}"));
        let part = score(docs.iter().filter(|d| &d.row.group() == g), &w);
        for d in docs.iter().filter(|d| &d.row.group() == g) {
            match &d.prepared {
                Ok(p) => pooled.add(&d.row, Some(&p.fields(&w))),
                Err(_) => pooled.add(&d.row, None),
            }
        }
        pooled.failed_files.extend(part.failed_files);
    }
    pooled
}

/// Ranked fields a labelled set can teach (for messages).
pub fn ranked_fields() -> Vec<&'static str> {
    Field::ALL.iter().map(|f| f.name()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_rules_follow_the_scorer() {
        assert!(value_matches("vendor", &Value::from("KEDAI RUNCIT HARMONI S/B"), "KEDAI RUNCIT HARMONI S/B (123456-A)"));
        assert!(value_matches("vendor", &Value::from("Müller GmbH"), "MULLER"));
        assert!(!value_matches("vendor", &Value::from("Acme"), "Beta Ltd"));
        assert!(value_matches("invoice_number", &Value::from("#A-1"), "a-1"));
        assert!(value_matches("total", &Value::from(41.15), "41.15"));
        assert!(value_matches("total", &Value::from(10.0), "10"));
        assert!(!value_matches("total", &Value::from(10.0), "10.02"));
        assert!(value_matches("date", &Value::from("2018-03-02"), "2018-03-02"));
    }
}

/// Fields a correction teaches, in report order.
pub const CORRECTED_FIELDS: [&str; 4] = ["vendor", "invoice_number", "date", "total"];

/// What one correction per vendor does: for each vendor with several
/// documents (the truth's vendor, compared leniently), the first document
/// (in file order) is corrected with all its labelled fields and the
/// following ones are scored without and with what was learned; documents
/// of vendors seen once are scored too, to show they do not change.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CorrectionReport {
    /// Vendors with two documents or more.
    pub vendor_groups: usize,
    /// Corrections learned / rejected (per field).
    pub learned: usize,
    pub rejected: Vec<(String, String, String)>,
    /// The following documents of corrected vendors, per field.
    pub without: BTreeMap<String, Count>,
    pub with: BTreeMap<String, Count>,
    /// (file, field) the correction made right, and made wrong.
    pub fixed: Vec<(String, String)>,
    pub broken: Vec<(String, String)>,
    /// Documents of other vendors whose fields changed (should be none).
    pub others_scored: usize,
    pub others_changed: Vec<String>,
}

/// The vendor key of a labelled document (lenient, as the scorer compares).
fn vendor_key(row: &TruthRow) -> Option<String> {
    let v = as_text(row.truth.get("vendor")?);
    let key = vendor_norm(&v);
    (!key.is_empty()).then_some(key)
}

/// The labelled corrections of a document: its truth for [`CORRECTED_FIELDS`].
pub fn corrections_of(row: &TruthRow) -> BTreeMap<String, String> {
    CORRECTED_FIELDS.iter().filter_map(|f| row.truth.get(*f).map(|v| (f.to_string(), as_text(v)))).collect()
}

/// Runs the one-correction-per-vendor protocol on `docs` with `weights`.
pub fn corrections(docs: &[Loaded], weights: &Weights) -> CorrectionReport {
    use crate::extract::corrections::LayoutHints;
    let mut groups: BTreeMap<String, Vec<&Loaded>> = BTreeMap::new();
    for d in docs.iter().filter(|d| d.prepared.is_ok()) {
        if let Some(k) = vendor_key(&d.row) {
            groups.entry(k).or_default().push(d);
        }
    }
    let mut r = CorrectionReport::default();
    let mut hints = LayoutHints::default();
    for members in groups.values().filter(|m| m.len() >= 2) {
        r.vendor_groups += 1;
        let first = members[0];
        let Ok(p) = &first.prepared else { continue };
        for o in hints.learn(p, &corrections_of(&first.row), weights) {
            match o.rejected {
                None => r.learned += 1,
                Some(why) => r.rejected.push((first.row.file.clone(), o.field, why)),
            }
        }
    }
    for members in groups.values() {
        for (i, d) in members.iter().enumerate() {
            let Ok(p) = &d.prepared else { continue };
            let plain = p.fields(weights);
            let mut taught = plain.clone();
            hints.apply(p, &mut taught);
            if members.len() == 1 {
                r.others_scored += 1;
                if taught != plain {
                    r.others_changed.push(d.row.file.clone());
                }
                continue;
            }
            if i == 0 {
                continue; // the corrected document itself
            }
            for field in CORRECTED_FIELDS {
                let Some(truth) = d.row.truth.get(field) else { continue };
                let (before, after) = (check(field, truth, &plain) == Status::Correct, check(field, truth, &taught) == Status::Correct);
                r.without.entry(field.to_string()).or_default().add(before);
                r.with.entry(field.to_string()).or_default().add(after);
                match (before, after) {
                    (false, true) => r.fixed.push((d.row.file.clone(), field.to_string())),
                    (true, false) => r.broken.push((d.row.file.clone(), field.to_string())),
                    _ => {}
                }
            }
        }
    }
    r
}

impl CorrectionReport {
    /// The report as a table.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "one correction per vendor: {} vendors with several documents, {} fields learned, {} rejected",
            self.vendor_groups,
            self.learned,
            self.rejected.len()
        );
        let _ = writeln!(s, "{:<16}{:>20}{:>20}", "field", "without", "with the correction");
        let pooled = |m: &BTreeMap<String, Count>| {
            m.values().fold(Count::default(), |a, c| Count { correct: a.correct + c.correct, labelled: a.labelled + c.labelled })
        };
        for f in CORRECTED_FIELDS {
            let (a, b) = (self.without.get(f).copied().unwrap_or_default(), self.with.get(f).copied().unwrap_or_default());
            let _ = writeln!(s, "{f:<16}{:>20}{:>20}", a.cell(), b.cell());
        }
        let _ = writeln!(s, "{:<16}{:>20}{:>20}", "all", pooled(&self.without).cell(), pooled(&self.with).cell());
        let _ = writeln!(s, "documents of other vendors changed: {} of {}", self.others_changed.len(), self.others_scored);
        for (file, field) in &self.fixed {
            let _ = writeln!(s, "  made right: {file} {field}");
        }
        for (file, field) in &self.broken {
            let _ = writeln!(s, "  made wrong: {file} {field}");
        }
        for (file, field, why) in &self.rejected {
            let _ = writeln!(s, "  rejected {file} {field}: {why}");
        }
        s
    }
}

/// What a budget of corrections does to the held-out-by-source accuracy:
/// a reviewer goes through the documents in file order and corrects a
/// document whose held-out extraction got one of [`CORRECTED_FIELDS`]
/// wrong, at most one per vendor (spread over vendors), until `budget`
/// corrections are made. The other documents are then scored held out by
/// source group, as [`held_out`] does: without the corrections, with the
/// layouts they taught, and with those layouts and the ranker updated from
/// the corrections ([`LayoutHints::teach_ranker`](crate::extract::corrections::LayoutHints::teach_ranker)).
#[derive(Debug, Clone, Default, Serialize)]
pub struct BudgetReport {
    pub budget: usize,
    /// The corrected documents (file names), in order.
    pub corrected: Vec<String>,
    pub learned: usize,
    pub rejected: Vec<(String, String, String)>,
    /// Scored documents (all but the corrected ones).
    pub scored: usize,
    pub without: Report,
    pub with_layouts: Report,
    pub with_layouts_and_update: Report,
}

/// Runs the budget protocol (see [`BudgetReport`]); `extra` are the
/// fitting examples every held-out fit gets (generated documents).
pub fn corrections_budget(docs: &[Loaded], extra: &[fit::Example], budget: usize) -> BudgetReport {
    use crate::extract::corrections::LayoutHints;
    let mut groups: Vec<String> = docs.iter().map(|d| d.row.group()).collect();
    groups.sort();
    groups.dedup();
    let plain: BTreeMap<&String, Weights> = groups.iter().map(|g| (g, fit_on(docs.iter().filter(|d| &d.row.group() != g), extra, &format!("held-out:{g}")))).collect();
    let mut r = BudgetReport { budget, ..Default::default() };
    let mut hints = LayoutHints::default();
    let mut vendors_done = std::collections::BTreeSet::new();
    let mut corrected = std::collections::BTreeSet::new();
    for d in docs {
        if r.corrected.len() == budget {
            break;
        }
        let (Some(vendor), Ok(p)) = (vendor_key(&d.row), &d.prepared) else { continue };
        if vendors_done.contains(&vendor) || !misread(&d.row, &p.fields(&plain[&d.row.group()])) {
            continue;
        }
        vendors_done.insert(vendor);
        corrected.insert(d.row.file.clone());
        r.corrected.push(d.row.file.clone());
        let fields = corrections_of(&d.row);
        let outcomes = hints.learn(p, &fields, &plain[&d.row.group()]);
        hints.teach_ranker(p, &fields, &outcomes);
        for o in outcomes {
            match o.rejected {
                None => r.learned += 1,
                Some(why) => r.rejected.push((d.row.file.clone(), o.field, why)),
            }
        }
    }
    let updated: BTreeMap<&String, Weights> = groups.iter().map(|g| (g, hints.ranker_over(&plain[g]))).collect();
    for d in docs.iter().filter(|d| !corrected.contains(&d.row.file)) {
        r.scored += 1;
        let g = d.row.group();
        let Ok(p) = &d.prepared else {
            for rep in [&mut r.without, &mut r.with_layouts, &mut r.with_layouts_and_update] {
                rep.add(&d.row, None);
            }
            continue;
        };
        r.without.add(&d.row, Some(&p.fields(&plain[&g])));
        r.with_layouts.add(&d.row, Some(&p.fields_learned(&plain[&g], &hints)));
        r.with_layouts_and_update.add(&d.row, Some(&p.fields_learned(&updated[&g], &hints)));
    }
    r
}

impl BudgetReport {
    /// The report as a table.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} corrections (budget {}) spread over vendors: {} fields learned, {} rejected; {} other documents scored held out by source group",
            self.corrected.len(),
            self.budget,
            self.learned,
            self.rejected.len(),
            self.scored
        );
        let _ = writeln!(s, "{:<16}{:>16}{:>16}{:>26}", "field", "without", "with layouts", "with layouts + ranker");
        let cell = |rep: &Report, f: &str| rep.fields.get(f).copied().unwrap_or_default().cell();
        for f in CORRECTED_FIELDS {
            let _ = writeln!(s, "{f:<16}{:>16}{:>16}{:>26}", cell(&self.without, f), cell(&self.with_layouts, f), cell(&self.with_layouts_and_update, f));
        }
        let _ = writeln!(
            s,
            "{:<16}{:>16}{:>16}{:>26}",
            "overall",
            self.without.overall.cell(),
            self.with_layouts.overall.cell(),
            self.with_layouts_and_update.overall.cell()
        );
        for (file, field, why) in &self.rejected {
            let _ = writeln!(s, "  rejected {file} {field}: {why}");
        }
        s
    }
}

/// Test then train, the way a deployment meets corrections: documents
/// arrive in file order; each is read held out by source group (the ranker
/// fitted on the other groups) with what earlier corrections taught, and
/// scored before anyone corrects it. A reviewer then corrects it when one
/// of [`CORRECTED_FIELDS`] came out wrong, at most one document per vendor,
/// until `budget` corrections are made. Three streams are run, each with
/// its own reviewer (what they correct depends on what they were shown):
/// no corrections, corrections teaching layouts, and corrections teaching
/// layouts and updating the ranker ([`fit::update`] after each, from the
/// held-out weights, on every corrected document so far).
/// Every document counts once, as read before its own correction, so a
/// gain can only come from what a correction teaches about later ones.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamReport {
    pub budget: usize,
    pub without: Report,
    pub with_layouts: StreamRun,
    pub with_layouts_and_update: StreamRun,
    pub shuffled: Vec<ShuffledRun>,
}

/// One stream with corrections.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamRun {
    pub report: Report,
    /// The corrected documents (file names), in order.
    pub corrected: Vec<String>,
    pub learned: usize,
    pub rejected: Vec<(String, String, String)>,
    /// (file, field) read right here and wrong without corrections, and the reverse.
    pub fixed: Vec<(String, String)>,
    pub broken: Vec<(String, String)>,
}

/// Whether `fields` get one of [`CORRECTED_FIELDS`] wrong for `row`.
fn misread(row: &TruthRow, fields: &BusinessFields) -> bool {
    CORRECTED_FIELDS.iter().any(|field| row.truth.get(*field).is_some_and(|t| check(field, t, fields) != Status::Correct))
}

/// Runs one stream (see [`StreamReport`]); `refit`: corrected documents
/// join the ranker's fitting data.
fn stream(docs: &[&Loaded], budget: usize, refit: bool, plain: &BTreeMap<String, Weights>) -> StreamRun {
    use crate::extract::corrections::LayoutHints;
    let mut run = StreamRun::default();
    let mut hints = LayoutHints::default();
    let mut weights = plain.clone();
    let mut stale: std::collections::BTreeSet<String> = Default::default();
    let mut vendors_done = std::collections::BTreeSet::new();
    for d in docs {
        let g = d.row.group();
        let Ok(p) = &d.prepared else {
            run.report.add(&d.row, None);
            continue;
        };
        if stale.remove(&g) {
            weights.insert(g.clone(), hints.ranker_over(&plain[&g]));
        }
        let fields = p.fields_learned(&weights[&g], &hints);
        let baseline = p.fields(&plain[&g]);
        for field in CORRECTED_FIELDS {
            let Some(truth) = d.row.truth.get(field) else { continue };
            match (check(field, truth, &baseline) == Status::Correct, check(field, truth, &fields) == Status::Correct) {
                (false, true) => run.fixed.push((d.row.file.clone(), field.to_string())),
                (true, false) => run.broken.push((d.row.file.clone(), field.to_string())),
                _ => {}
            }
        }
        run.report.add(&d.row, Some(&fields));
        let Some(vendor) = vendor_key(&d.row) else { continue };
        if run.corrected.len() == budget || vendors_done.contains(&vendor) || !misread(&d.row, &fields) {
            continue;
        }
        vendors_done.insert(vendor);
        run.corrected.push(d.row.file.clone());
        let fields = corrections_of(&d.row);
        let outcomes = hints.learn(p, &fields, &weights[&g]);
        if refit && hints.teach_ranker(p, &fields, &outcomes) > 0 {
            stale.extend(plain.keys().cloned());
        }
        for o in outcomes {
            match o.rejected {
                None => run.learned += 1,
                Some(why) => run.rejected.push((d.row.file.clone(), o.field, why)),
            }
        }
    }
    run
}

/// Runs the test-then-train protocol (see [`StreamReport`]) in file
/// order, and in `shuffles` seeded random orders (the gain of a stream
/// depends on which misread document comes first); `extra` are the
/// fitting examples every held-out fit gets (generated documents).
pub fn corrections_stream(docs: &[Loaded], extra: &[fit::Example], budget: usize, shuffles: u64) -> StreamReport {
    let mut groups: Vec<String> = docs.iter().map(|d| d.row.group()).collect();
    groups.sort();
    groups.dedup();
    let plain: BTreeMap<String, Weights> =
        groups.iter().map(|g| (g.clone(), fit_on(docs.iter().filter(|d| &d.row.group() != g), extra, &format!("held-out:{g}")))).collect();
    let mut without = Report::default();
    for d in docs {
        match &d.prepared {
            Ok(p) => without.add(&d.row, Some(&p.fields(&plain[&d.row.group()]))),
            Err(_) => without.add(&d.row, None),
        }
    }
    let in_order: Vec<&Loaded> = docs.iter().collect();
    let shuffled = (1..=shuffles)
        .map(|seed| {
            let order = shuffle(&in_order, seed);
            let (l, u) = (stream(&order, budget, false, &plain), stream(&order, budget, true, &plain));
            ShuffledRun {
                seed,
                corrected: u.corrected.len(),
                with_layouts: l.report.overall,
                with_layouts_and_update: u.report.overall,
                fixed: u.fixed,
                broken: u.broken,
            }
        })
        .collect();
    StreamReport {
        budget,
        without,
        with_layouts: stream(&in_order, budget, false, &plain),
        with_layouts_and_update: stream(&in_order, budget, true, &plain),
        shuffled,
    }
}

/// One seeded random order's overall figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ShuffledRun {
    pub seed: u64,
    /// Corrections made in the stream with the ranker update.
    pub corrected: usize,
    pub with_layouts: Count,
    pub with_layouts_and_update: Count,
    /// (file, field) the stream with the ranker update read right and the
    /// stream without corrections wrong, and the reverse.
    pub fixed: Vec<(String, String)>,
    pub broken: Vec<(String, String)>,
}

/// `items` in a random order drawn from `seed` (Fisher-Yates on a
/// splitmix64 stream: the same seed gives the same order everywhere).
fn shuffle<'a>(items: &[&'a Loaded], seed: u64) -> Vec<&'a Loaded> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut out = items.to_vec();
    for i in (1..out.len()).rev() {
        out.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    out
}

impl StreamReport {
    /// Fields read right beyond the stream without corrections, on average
    /// over the random orders: (with layouts, with layouts + ranker).
    pub fn mean_gain(&self) -> (f64, f64) {
        let n = self.shuffled.len().max(1) as f64;
        let base = self.without.overall.correct as f64;
        let mean = |f: fn(&ShuffledRun) -> usize| self.shuffled.iter().map(|r| f(r) as f64 - base).sum::<f64>() / n;
        (mean(|r| r.with_layouts.correct), mean(|r| r.with_layouts_and_update.correct))
    }

    /// The report as a table.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let (l, u) = (&self.with_layouts, &self.with_layouts_and_update);
        let _ = writeln!(
            s,
            "test then train, held out by source group, budget {}: {} corrections teaching layouts ({} fields learned, {} rejected); {} teaching layouts and updating the ranker",
            self.budget,
            l.corrected.len(),
            l.learned,
            l.rejected.len(),
            u.corrected.len()
        );
        let _ = writeln!(s, "{:<16}{:>16}{:>16}{:>26}", "field", "without", "with layouts", "with layouts + ranker");
        let cell = |rep: &Report, f: &str| rep.fields.get(f).copied().unwrap_or_default().cell();
        for field in CORRECTED_FIELDS {
            let _ = writeln!(s, "{field:<16}{:>16}{:>16}{:>26}", cell(&self.without, field), cell(&l.report, field), cell(&u.report, field));
        }
        let _ = writeln!(s, "{:<16}{:>16}{:>16}{:>26}", "overall", self.without.overall.cell(), l.report.overall.cell(), u.report.overall.cell());
        for (name, run) in [("layouts", l), ("layouts + ranker", u)] {
            for (file, field) in &run.fixed {
                let _ = writeln!(s, "  {name}: made right {file} {field}");
            }
            for (file, field) in &run.broken {
                let _ = writeln!(s, "  {name}: made wrong {file} {field}");
            }
            for (file, field, why) in &run.rejected {
                let _ = writeln!(s, "  {name}: rejected {file} {field}: {why}");
            }
        }
        if !self.shuffled.is_empty() {
            let (layouts, ranker) = self.mean_gain();
            let _ = writeln!(
                s,
                "in {} random orders (overall; without: {}): mean fields gained {layouts:+.1} with layouts, {ranker:+.1} with layouts + ranker",
                self.shuffled.len(),
                self.without.overall.cell()
            );
            for r in &self.shuffled {
                let _ = writeln!(s, "  seed {:<3} {} corrections  with layouts {}  with layouts + ranker {}", r.seed, r.corrected, r.with_layouts.cell(), r.with_layouts_and_update.cell());
                let named = |cells: &[(String, String)]| cells.iter().map(|(file, field)| format!("{file} {field}")).collect::<Vec<_>>().join(", ");
                if !r.fixed.is_empty() {
                    let _ = writeln!(s, "    the ranker update made right {}", named(&r.fixed));
                }
                if !r.broken.is_empty() {
                    let _ = writeln!(s, "    the ranker update made wrong {}", named(&r.broken));
                }
            }
        }
        s
    }
}
