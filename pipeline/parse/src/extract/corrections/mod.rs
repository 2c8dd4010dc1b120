//! Learning extraction from corrections: one corrected document teaches
//! docflow where a sender's layout puts each field.
//!
//! A correction names a document and the right values of some of its
//! fields. For each corrected field, [`LayoutHints::learn`] finds where the
//! value sits in that document and records it under the document's layout
//! fingerprint ([`fingerprint`]): for the vendor, the name itself (a
//! layout's sender is one sender); for the invoice number, date and total,
//! the shape of the line that holds it (`total: 9.9`, digits folded) and its
//! place among that field's candidates on the line. [`LayoutHints::apply`]
//! reads a later document of the same layout the same way, before the
//! ranker's choice. Documents of other layouts are never touched, and a
//! correction whose value appears nowhere in its document is recorded as
//! rejected, with the reason, and not learned.
//!
//! A correction can also teach the ranker ([`LayoutHints::teach_ranker`],
//! which the learner calls when asked to): the corrected fields'
//! candidates, with the ones holding the corrected values marked, are kept
//! as fitting data ([`LayoutHints::ranker_examples`], the latest
//! [`MAX_RANKER_DOCUMENTS`] documents), and [`LayoutHints::ranker`] is the
//! shipped ranker updated on them ([`rank::fit::update`]). Unlike a layout,
//! that update reads every document: a lesson such as "the registered
//! company name, not the trading name above it" carries over to senders no
//! one corrected, and so it also changes what other senders' documents
//! read, which is why it is off unless asked for. It is pulled towards the
//! shipped weights so that corrections nudge the ranker and never rewrite
//! it, and it is versioned with the layouts: `docflow model rollback` takes
//! it back with them.

pub mod fingerprint;

use crate::extract::rank::{self, doc, Candidate, Field};
use crate::Prepared;
use docflow_schemas::BusinessFields;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::OnceLock;

/// Confidence of a field read from a learned layout.
pub const LEARNED_CONFIDENCE: f64 = 0.99;

/// Where a layout puts one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldHint {
    /// The value itself: the vendor is the same on every document of a layout.
    Value { value: String },
    /// The shape of the value's line (lower case, digit runs as `9`) and
    /// its place among the field's candidates on that line.
    Line { shape: String, ordinal: usize },
}

/// What learning one corrected field did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub field: String,
    /// `None`: learned; otherwise why not.
    pub rejected: Option<String>,
}

/// How many corrected documents' candidates the ranker update is fitted
/// on; the oldest go first. A few kilobytes each in the model, and the update
/// takes well under a second at this size.
pub const MAX_RANKER_DOCUMENTS: usize = 100;

/// One corrected field's candidates as the ranker saw them: the ranker
/// update's fitting data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankerExample {
    pub field: String,
    /// Each candidate's features, in the order of the field's features.
    pub x: Vec<Vec<f32>>,
    /// The candidates that hold the corrected value.
    pub correct: Vec<usize>,
}

/// The learned layouts: fingerprint → field → hint, and the ranker's
/// fitting data from corrections. Versioned and serialisable, so it can
/// travel as a model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LayoutHints {
    /// Raised by every correction that taught something.
    pub version: u64,
    pub layouts: BTreeMap<String, BTreeMap<String, FieldHint>>,
    /// Per corrected document (oldest first), its corrected fields' candidates.
    #[serde(default)]
    pub ranker_examples: VecDeque<Vec<RankerExample>>,
    /// The shipped ranker updated on `ranker_examples`, made on first use.
    #[serde(skip)]
    ranker: RankerCache,
}

/// A computed ranker kept with the examples it was fitted on; not part of
/// the model's value (two models with the same examples are equal).
#[derive(Debug, Clone, Default)]
struct RankerCache(OnceLock<rank::Weights>);

impl PartialEq for RankerCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The document's lines as the ranker numbered them, and its layout.
struct View<'a> {
    lines: Vec<&'a str>,
    fingerprint: Option<String>,
}

fn view(p: &Prepared) -> View<'_> {
    let ex = &p.extracted;
    let body = ex.text.get(ex.hints.body_offset..).unwrap_or(&ex.text);
    let sender = (ex.hints.subject.is_some() || ex.hints.body_offset > 0).then(|| ex.hints.addresses.first()).flatten();
    View { lines: doc::line_texts(body).collect(), fingerprint: fingerprint::of(body, sender.map(String::as_str), &p.rules) }
}

/// The layout fingerprint a document's corrections are learned under
/// (`None`: no sender address, IBAN or heading lines to key them by).
pub fn layout_of(p: &Prepared) -> Option<String> {
    view(p).fingerprint
}

/// A line's shape: lower case, single spaces, every word that holds a
/// digit as one `9` (amounts, dates and numbers, with their prefixes:
/// `Ref A10234  12.03.2026` and `Ref K88012  01.11.2026` have one shape,
/// as have `Total 1,034.00` and `Total 834.00`).
fn line_shape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for word in line.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        if word.bytes().any(|b| b.is_ascii_digit()) {
            out.push('9');
        } else {
            out.extend(word.chars().flat_map(char::to_lowercase));
        }
    }
    out
}

/// How alike two line shapes must be for a learned line to be found on a
/// later document: OCR'd receipts of one sender misspell a label now and
/// then (`TOTAL ATTER ADJ` for `TOTAL AFTER ADJ`); one slip in every seven
/// characters still matches, while different labels of one layout
/// (`total sales incl gst` and `total after adj incl gst`) stay apart.
const LINE_SIMILARITY: f64 = 0.85;

/// Similarity of two line shapes: 1 minus their edit distance (in
/// characters) over the longer one's length.
fn shape_similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let longest = a.len().max(b.len());
    // Edits needed are at least the length difference: lines too unlike
    // are answered without the quadratic table.
    if (a.len().abs_diff(b.len()) as f64) > (1.0 - LINE_SIMILARITY) * longest as f64 {
        return 0.0;
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    1.0 - row[b.len()] as f64 / longest as f64
}

/// The candidate a learned line hint points at: at the learned place on
/// the line whose shape is the learned one, or failing that the most alike
/// (at least [`LINE_SIMILARITY`]); `None` when no line is alike enough or
/// two are equally alike (then the ranker's choice stands).
fn best_line_match(cands: &[Candidate], lines: &[&str], shape: &str, ordinal: usize) -> Option<usize> {
    let mut best: Option<(f64, usize)> = None;
    let mut tied = false;
    for (k, place) in ordinals(cands).into_iter().enumerate() {
        let Some(line) = lines.get(cands[k].line).filter(|_| place == ordinal) else { continue };
        let similarity = shape_similarity(&line_shape(line), shape);
        if similarity == 1.0 {
            return Some(k);
        }
        if similarity < LINE_SIMILARITY {
            continue;
        }
        match best {
            Some((s, _)) if similarity < s => {}
            Some((s, j)) if similarity == s => tied |= cands[j].line != cands[k].line,
            _ => (best, tied) = (Some((similarity, k)), false),
        }
    }
    best.filter(|_| !tied).map(|(_, k)| k)
}

/// The field a correction names, when corrections can teach it.
fn ranked_field(name: &str) -> Option<Field> {
    Field::ALL.into_iter().find(|f| f.name() == name)
}

/// Whether candidate value `got` is the corrected value `want`.
fn same_value(field: Field, got: &str, want: &str) -> bool {
    match field {
        Field::Total => match (got.parse::<Decimal>(), want.trim().parse::<Decimal>()) {
            (Ok(a), Ok(b)) => (a - b).abs() < Decimal::new(5, 3),
            _ => false,
        },
        Field::Date => got.get(..10) == want.trim().get(..10),
        Field::InvoiceNumber => got.trim_start_matches('#').eq_ignore_ascii_case(want.trim().trim_start_matches('#').trim()),
        Field::Vendor => got.trim().eq_ignore_ascii_case(want.trim()),
    }
}

/// The ranker's fitting data from one corrected field: its candidates,
/// the ones holding `want` marked (a vendor name also through OCR slips);
/// `None` when no candidate holds it (nothing to teach the ranker).
fn ranker_example(p: &Prepared, field: Field, want: &str) -> Option<RankerExample> {
    let cands = p.candidates.by_field.iter().find(|(f, _)| *f == field).map(|(_, c)| c.as_slice()).unwrap_or(&[]);
    let want_folded = folded(want);
    let holds = |c: &Candidate| match field {
        Field::Vendor => {
            let got = folded(&c.value);
            !got.is_empty() && (got == want_folded || shape_similarity(&got, &want_folded) >= LINE_SIMILARITY)
        }
        _ => same_value(field, &c.value, want),
    };
    let correct: Vec<usize> = (0..cands.len()).filter(|&k| holds(&cands[k])).collect();
    (!correct.is_empty()).then(|| RankerExample { field: field.name().to_string(), x: cands.iter().map(|c| c.x.clone()).collect(), correct })
}

/// Letters and digits only, lower case: how a name is looked for in a text.
fn folded(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Whether a document holds the corrected name `want`: as printed
/// (letters and digits compared), or through OCR slips. A reviewer types
/// the name as it should read (`HAPPY MART TRADING S/B`) where the
/// scanned receipt says `HAPPV MART TRADING S/B`, or joins a name the
/// receipt prints over two lines; such a name starts a line, or a line and
/// the next, within [`LINE_SIMILARITY`] of its letters.
fn holds_name(text: &str, lines: &[&str], want: &str) -> bool {
    let want = folded(want);
    if want.is_empty() {
        return false;
    }
    if folded(text).contains(&want) {
        return true;
    }
    let lines: Vec<String> = lines.iter().map(|l| folded(l)).collect();
    let alike = |window: &str| {
        // The window cut to the name's length, give or take the slips
        // (a registration number after the name is not part of it).
        let chars: Vec<char> = window.chars().collect();
        let n = want.chars().count();
        let slack = ((1.0 - LINE_SIMILARITY) * n as f64) as usize;
        (n.saturating_sub(slack)..=n + slack).any(|len| {
            let cut: String = chars.iter().take(len).collect();
            cut.chars().count() == len && shape_similarity(&cut, &want) >= LINE_SIMILARITY
        })
    };
    (0..lines.len()).any(|i| alike(&lines[i]) || lines.get(i + 1).is_some_and(|next| alike(&format!("{}{next}", lines[i]))))
}

/// Each candidate's place among the candidates on its line, in one pass.
fn ordinals(cands: &[Candidate]) -> Vec<usize> {
    let mut per_line: BTreeMap<usize, usize> = BTreeMap::new();
    cands
        .iter()
        .map(|c| {
            let n = per_line.entry(c.line).or_default();
            *n += 1;
            *n - 1
        })
        .collect()
}

impl LayoutHints {
    /// Learns the corrected `fields` (field name → right value) of a
    /// document. Each field's outcome says whether it was learned.
    /// `weights` are the ranker's (where a value is printed twice, the
    /// place it prefers is learned).
    pub fn learn(&mut self, p: &Prepared, fields: &BTreeMap<String, String>, weights: &rank::Weights) -> Vec<Outcome> {
        let v = view(p);
        let mut outcomes = Vec::new();
        let mut learned = BTreeMap::new();
        for (name, want) in fields {
            let reject = |why: &str| Outcome { field: name.clone(), rejected: Some(why.to_string()) };
            let Some(field) = ranked_field(name) else {
                outcomes.push(reject("only vendor, invoice_number, date and total are learned from corrections"));
                continue;
            };
            if v.fingerprint.is_none() {
                outcomes.push(reject("the document has no layout fingerprint (no sender address, IBAN or heading lines)"));
                continue;
            }
            let hint = if field == Field::Vendor {
                holds_name(&p.extracted.text, &v.lines, want).then(|| FieldHint::Value { value: want.trim().to_string() })
            } else {
                let cands = p.candidates.by_field.iter().find(|(f, _)| *f == field).map(|(_, c)| c.as_slice()).unwrap_or(&[]);
                // Of the candidates holding the value, the one the ranker
                // finds most likely (a total is also printed as the subtotal).
                let w = weights.get(field);
                let best = (0..cands.len())
                    .filter(|&k| same_value(field, &cands[k].value, want))
                    .max_by(|&a, &b| rank::score(w, &cands[a].x).total_cmp(&rank::score(w, &cands[b].x)));
                best.and_then(|k| {
                    v.lines.get(cands[k].line).map(|line| FieldHint::Line { shape: line_shape(line), ordinal: ordinals(cands)[k] })
                })
            };
            match hint {
                Some(h) => {
                    learned.insert(name.clone(), h);
                    outcomes.push(Outcome { field: name.clone(), rejected: None });
                }
                None => outcomes.push(reject("the corrected value appears nowhere in the document")),
            }
        }
        if let (Some(fp), false) = (v.fingerprint, learned.is_empty()) {
            self.layouts.entry(fp).or_default().extend(learned);
            self.version += 1;
        }
        outcomes
    }

    /// Keeps the corrected fields' candidates as the ranker update's
    /// fitting data: those of `fields` that [`LayoutHints::learn`] learned
    /// (`outcomes`), and that some candidate holds. Returns how many.
    pub fn teach_ranker(&mut self, p: &Prepared, fields: &BTreeMap<String, String>, outcomes: &[Outcome]) -> usize {
        let examples: Vec<RankerExample> = outcomes
            .iter()
            .filter(|o| o.rejected.is_none())
            .filter_map(|o| ranker_example(p, ranked_field(&o.field)?, fields.get(&o.field)?))
            .collect();
        let n = examples.len();
        if n > 0 {
            self.ranker_examples.push_back(examples);
            while self.ranker_examples.len() > MAX_RANKER_DOCUMENTS {
                self.ranker_examples.pop_front();
            }
            self.ranker = RankerCache::default();
        }
        n
    }

    /// The ranker the parse stage reads with: the shipped one updated on
    /// the corrections' candidates (the shipped one itself before any).
    pub fn ranker(&self) -> &rank::Weights {
        if self.ranker_examples.is_empty() {
            return rank::Weights::shipped();
        }
        self.ranker.0.get_or_init(|| self.ranker_over(rank::Weights::shipped()))
    }

    /// `base` updated on the corrections' candidates ([`rank::fit::update`]).
    /// Examples whose features do not fit this docflow's ranker (a model
    /// learned by another version) are left out.
    pub fn ranker_over(&self, base: &rank::Weights) -> rank::Weights {
        let examples: Vec<rank::fit::Example> = self
            .ranker_examples
            .iter()
            .flatten()
            .filter_map(|e| {
                let field = ranked_field(&e.field)?;
                let width = field.features().len();
                if e.x.iter().any(|x| x.len() != width) || e.correct.iter().any(|&k| k >= e.x.len()) {
                    return None;
                }
                let candidates = e.x.iter().map(|x| Candidate { value: String::new(), line: 0, x: x.clone() }).collect();
                let correct = (0..e.x.len()).map(|k| e.correct.contains(&k)).collect();
                Some(rank::fit::Example { field, candidates, correct, absent: false, weight: 1.0 })
            })
            .collect();
        rank::fit::update(base, &examples, &format!("{}+{} corrected", base.version, self.ranker_examples.len()))
    }

    /// Sets the fields a learned layout says where to read, in `fields`
    /// (the ranker's choice for `p`); fields without a hint, and documents
    /// of layouts never corrected, are left as they are.
    pub fn apply(&self, p: &Prepared, fields: &mut BusinessFields) {
        if self.layouts.is_empty() {
            return;
        }
        let v = view(p);
        let Some(hints) = v.fingerprint.as_ref().and_then(|fp| self.layouts.get(fp)) else { return };
        for (name, hint) in hints {
            let Some(field) = ranked_field(name) else { continue };
            let value = match hint {
                FieldHint::Value { value } => Some(value.clone()),
                FieldHint::Line { shape, ordinal: want } => {
                    let cands = p.candidates.by_field.iter().find(|(f, _)| *f == field).map(|(_, c)| c.as_slice()).unwrap_or(&[]);
                    best_line_match(cands, &v.lines, shape, *want).map(|k| cands[k].value.clone())
                }
            };
            let Some(value) = value else { continue };
            match field {
                Field::Vendor => fields.vendor = Some(value),
                Field::InvoiceNumber => fields.invoice_number = Some(value),
                Field::Date => fields.date = Some(value),
                Field::Total => match value.parse() {
                    Ok(t) => fields.total = Some(t),
                    Err(_) => continue,
                },
            }
            fields.set_provenance(name, LEARNED_CONFIDENCE, "learned");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{prepare, ParseLimits};
    use docflow_schemas::RawDocument;

    fn prepared(text: &str) -> Prepared {
        let raw = RawDocument { id: "t".into(), content_type: Some("text/plain".into()), body: text.as_bytes().to_vec(), metadata: Default::default(), created_at_ms: 0 };
        prepare(&raw, &ParseLimits::default()).unwrap()
    }

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const SHOP_A1: &str = "KEDAI MAJU S/B\nNo 5, Jalan 1\nDate 01/02/2019\nSubtotal 10.00\nRounding 0.00\nNett 10.60\nCash 20.00\nChange 9.40";
    const SHOP_A2: &str = "KEDAI MAJU S/B\nNo 5, Jalan 1\nDate 07/03/2019\nSubtotal 4.00\nRounding 0.02\nNett 4.26\nCash 5.00\nChange 0.74";
    const SHOP_B: &str = "OTHER MART\nLot 9\nDate 07/03/2019\nSubtotal 4.00\nNett 4.26\nCash 5.00";

    #[test]
    fn one_correction_teaches_the_layout_and_nothing_else() {
        let mut hints = LayoutHints::default();
        let out = hints.learn(&prepared(SHOP_A1), &fields(&[("total", "10.60"), ("vendor", "Kedai Maju S/B")]), rank::Weights::shipped());
        assert!(out.iter().all(|o| o.rejected.is_none()), "{out:?}");
        assert_eq!(hints.version, 1);
        let p = prepared(SHOP_A2);
        let mut f = p.fields(crate::extract::rank::Weights::shipped());
        hints.apply(&p, &mut f);
        assert_eq!(f.total, Some(Decimal::new(426, 2)));
        assert_eq!(f.vendor.as_deref(), Some("Kedai Maju S/B"));
        assert_eq!(f.field_source.get("total").map(String::as_str), Some("learned"));
        // Another layout is untouched.
        let q = prepared(SHOP_B);
        let before = q.fields(crate::extract::rank::Weights::shipped());
        let mut after = before.clone();
        hints.apply(&q, &mut after);
        assert_eq!(before, after);
    }

    /// A sender whose invoices print a larger order value and a voucher
    /// before the amount due, under a label the lexicon does not know.
    fn voucher_invoice(i: u32) -> (String, String) {
        let order = 1000 + 37 * i;
        let voucher = 100 + 3 * (i % 7);
        let due = order - voucher;
        let text = format!(
            "Nordlicht Versand GmbH\nLagerweg 3, Kiel\nBeleg {i}\nOrder value {order}.00\nVoucher {voucher}.00\nRemaining {due}.00\nThank you"
        );
        (text, format!("{due}.00"))
    }

    #[test]
    fn one_correction_fixes_every_later_document_of_a_layout() {
        let w = rank::Weights::shipped();
        let mut hints = LayoutHints::default();
        let (first, due) = voucher_invoice(0);
        let out = hints.learn(&prepared(&first), &fields(&[("total", &due)]), w);
        assert!(out[0].rejected.is_none(), "{out:?}");
        let (mut before, mut after) = (0, 0);
        for i in 1..=50 {
            let (text, due) = voucher_invoice(i);
            let p = prepared(&text);
            let mut f = p.fields(w);
            before += (f.total.map(|t| t.to_string()) == Some(due.clone())) as usize;
            hints.apply(&p, &mut f);
            after += (f.total.map(|t| t.to_string()) == Some(due)) as usize;
        }
        println!("amount due right without the correction: {before}/50, with it: {after}/50");
        assert_eq!(after, 50);
        assert!(before < 50, "the layout must be one the ranker misreads for this test to mean anything");
    }

    #[test]
    fn a_learned_line_is_found_through_an_ocr_slip_but_not_on_another_label() {
        let mut hints = LayoutHints::default();
        let first = "KEDAI MAJU S/B\nNo 5, Jalan 1\nTOTAL SALES INCL GST 10.02\nROUNDING ADJ -0.02\nTOTAL AFTER ADJ INCL GST 10.00\nCASH 20.00";
        let out = hints.learn(&prepared(first), &fields(&[("total", "10.00")]), rank::Weights::shipped());
        assert!(out[0].rejected.is_none(), "{out:?}");
        let read = |text: &str| {
            let p = prepared(text);
            let mut f = p.fields(rank::Weights::shipped());
            hints.apply(&p, &mut f);
            (f.total, f.field_source.get("total").cloned())
        };
        // One letter misread by OCR: still the learned line.
        let slip = "KEDAI MAJU S/B\nNo 5, Jalan 1\nTOTAL SALES INCL GST 88.97\nROUNDING ADJ -0.02\nTOTAL ATTER ADJ INCL GST 88.95\nCASH 100.00";
        assert_eq!(read(slip), (Some(Decimal::new(8895, 2)), Some("learned".to_string())));
        // The learned label missing: the other total line is not taken for it.
        let other = "KEDAI MAJU S/B\nNo 5, Jalan 1\nTOTAL SALES INCL GST 7.50\nCASH 10.00";
        assert_ne!(read(other).1.as_deref(), Some("learned"));
    }

    #[test]
    fn shape_similarity_counts_character_edits() {
        assert_eq!(shape_similarity("total 9", "total 9"), 1.0);
        assert!(shape_similarity("total atter adj incl gst 9", "total after adj incl gst 9") > LINE_SIMILARITY);
        assert!(shape_similarity("total sales incl gst 9", "total after adj incl gst 9") < LINE_SIMILARITY);
        assert_eq!(shape_similarity("", "x"), 0.0);
    }

    #[test]
    fn a_vendor_name_is_learned_through_ocr_slips_and_line_breaks() {
        let text = "HAPPV MART TRADING S/B (12345-X)\nLOT 5, JALAN 1\nTOTAL 5.00";
        let lines: Vec<&str> = text.lines().collect();
        assert!(holds_name(text, &lines, "HAPPY MART TRADING S/B"));
        let two_lines = "SINAR STATIONERY\nSINAR TRADING SDN BHD (12345-V)\nTOTAL 5.00";
        let lines: Vec<&str> = two_lines.lines().collect();
        assert!(holds_name(two_lines, &lines, "SINAR STATIONERY SINAR TRADING SDN BHD"));
        // Another name of like length is not a slip.
        assert!(!holds_name(text, &text.lines().collect::<Vec<_>>(), "KEDAI MAJU TRADING S/B"));
        // Learned, and read on the layout's next document as corrected.
        let mut hints = LayoutHints::default();
        let out = hints.learn(&prepared(text), &fields(&[("vendor", "HAPPY MART TRADING S/B")]), rank::Weights::shipped());
        assert!(out[0].rejected.is_none(), "{out:?}");
        let p = prepared("HAPPV MART TRADING S/B (12345-X)\nLOT 5, JALAN 1\nTOTAL 7.00");
        let mut f = p.fields(rank::Weights::shipped());
        hints.apply(&p, &mut f);
        assert_eq!(f.vendor.as_deref(), Some("HAPPY MART TRADING S/B"));
    }

    #[test]
    fn a_value_the_document_does_not_hold_is_rejected() {
        let mut hints = LayoutHints::default();
        let out = hints.learn(&prepared(SHOP_A1), &fields(&[("total", "999.99"), ("vendor", "Nobody Ltd"), ("currency", "MYR")]), rank::Weights::shipped());
        assert!(out.iter().all(|o| o.rejected.is_some()), "{out:?}");
        assert_eq!(hints, LayoutHints::default());
    }

    /// A receipt whose capitalised slogan stands above the shop's name.
    fn slogan_receipt(slogan: &str, name: &str, total: &str) -> String {
        format!("{slogan}\n{name}\n7 Canal Street\nReceipt 981\nDate 11/05/2024\nBreakfast 9.50\nTotal {total}\nCard {total}\n")
    }

    /// The probability the ranker `w` gives the vendor `name` in `text`.
    fn vendor_probability(w: &rank::Weights, text: &str, name: &str) -> f32 {
        let p = prepared(text);
        let cands = &p.candidates.by_field.iter().find(|(f, _)| *f == Field::Vendor).unwrap().1;
        let probs = rank::probabilities(w.get(Field::Vendor), cands);
        cands.iter().zip(&probs).filter(|(c, _)| c.value == name).map(|(_, p)| *p).sum()
    }

    #[test]
    fn the_ranker_update_carries_a_lesson_to_senders_nobody_corrected() {
        let mut hints = LayoutHints::default();
        let shops = [("HOME OF THE BIG BREAKFAST", "Marlow Grill"), ("FRESH EVERY DAY", "Rosa Kitchen"), ("BEST COFFEE IN TOWN", "Quayside Cafe")];
        for (slogan, name) in shops {
            let p = prepared(&slogan_receipt(slogan, name, "9.50"));
            let want = fields(&[("vendor", name)]);
            let out = hints.learn(&p, &want, rank::Weights::shipped());
            assert_eq!(hints.teach_ranker(&p, &want, &out), 1);
        }
        assert_ne!(hints.ranker(), rank::Weights::shipped());
        // Another sender, never corrected and without a layout: its name gains.
        let other = slogan_receipt("OPEN SEVEN DAYS A WEEK", "Harbour Noodles", "12.00");
        let (before, after) = (vendor_probability(rank::Weights::shipped(), &other, "Harbour Noodles"), vendor_probability(hints.ranker(), &other, "Harbour Noodles"));
        assert!(after > before + 0.01, "{before} -> {after}");
        // The update travels with the model and is made again the same.
        let json = serde_json::to_string(&hints).unwrap();
        let back: LayoutHints = serde_json::from_str(&json).unwrap();
        assert_eq!(back, hints);
        assert_eq!(back.ranker(), hints.ranker());
    }

    #[test]
    fn without_teach_ranker_every_document_keeps_the_shipped_ranker() {
        let mut hints = LayoutHints::default();
        hints.learn(&prepared(SHOP_A1), &fields(&[("total", "10.60")]), rank::Weights::shipped());
        assert!(hints.ranker_examples.is_empty());
        assert_eq!(hints.ranker(), rank::Weights::shipped());
    }

    #[test]
    fn the_ranker_keeps_the_latest_corrections_and_skips_foreign_examples() {
        let mut hints = LayoutHints::default();
        let p = prepared(SHOP_A1);
        let want = fields(&[("total", "10.60")]);
        for _ in 0..MAX_RANKER_DOCUMENTS + 5 {
            let out = hints.learn(&p, &want, rank::Weights::shipped());
            hints.teach_ranker(&p, &want, &out);
        }
        assert_eq!(hints.ranker_examples.len(), MAX_RANKER_DOCUMENTS);
        // Examples of a ranker with other features (another docflow version) are left out.
        let mut foreign = LayoutHints::default();
        foreign.ranker_examples.push_back(vec![RankerExample { field: "total".into(), x: vec![vec![1.0; 3], vec![0.0; 3]], correct: vec![0] }]);
        assert_eq!(foreign.ranker().get(Field::Total), rank::Weights::shipped().get(Field::Total));
    }
}
