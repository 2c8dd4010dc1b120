//! Invoice-number candidates: ID-like tokens (digits, optionally letters
//! and `-/_.` inside), with the labels before them (six languages), the
//! heading words on their line, and what they look like (a date, an
//! amount, a phone number) as features.

use super::doc::Doc;
use super::lexicon::{Group, NUMBER_MARKS};
use super::Candidate;

/// Feature names, in the order of a candidate's feature vector.
pub const FEATURES: &[&str] = &[
    "bias",
    "label_same_line",
    "label_prev_line",
    "label_distance",
    "number_mark_before",
    "title_word_on_line",
    "other_id_label",
    "has_letter",
    "has_separator",
    "length",
    "digits_only_long",
    "looks_amount",
    "inside_date",
    "rel_line",
    "first_in_doc",
    "repeats",
    "legacy_rule",
    "title_label",
    "receipt_heading",
];

/// Expert prior for each feature.
pub const PRIOR: &[f32] = &[-1.0, 3.0, 1.5, -1.0, 1.0, 1.0, -2.5, 0.3, 0.2, 0.0, -0.3, -2.0, -4.0, -0.5, 0.2, 0.3, 2.0, 2.0, -1.0];

const LABEL_SAME: usize = 1;
const LABEL_PREV: usize = 2;
const LABEL_DIST: usize = 3;
const MARK: usize = 4;
const TITLE: usize = 5;
const OTHER: usize = 6;
const LETTER: usize = 7;
const SEP: usize = 8;
const LEN: usize = 9;
const LONG_DIGITS: usize = 10;
const AMOUNT: usize = 11;
const IN_DATE: usize = 12;
const REL: usize = 13;
const FIRST: usize = 14;
const REPEATS: usize = 15;
pub(super) const LEGACY: usize = 16;
const TITLE_LABEL: usize = 17;
const RECEIPT_HEADING: usize = 18;

/// The ID-like tokens of a line: `(start, end)` of runs of letters, digits
/// and inner `-/_.`, holding at least one digit, 3 to 32 bytes long.
fn id_tokens(line: &str) -> Vec<(usize, usize)> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let is_part = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'/' | b'_' | b'.');
        if !b[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let s = i;
        while i < b.len() && is_part(b[i]) {
            i += 1;
        }
        let mut e = i;
        while e > s && !b[e - 1].is_ascii_alphanumeric() {
            e -= 1;
        }
        let tok = &b[s..e];
        let glued = (s > 0 && !b[s - 1].is_ascii() ) || (i < b.len() && !b[i].is_ascii());
        if (3..=32).contains(&tok.len()) && tok.iter().any(u8::is_ascii_digit) && !glued {
            out.push((s, e));
        }
    }
    out
}

/// Invoice-number candidates of `doc`.
pub fn candidates(doc: &Doc) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for (i, l) in doc.lines.iter().enumerate() {
        let dates = &l.dates;
        let prev = i.checked_sub(1).map(|p| &doc.lines[p]);
        let title = l.has(Group::Title);
        for (s, e) in id_tokens(l.text) {
            let tok = &l.text[s..e];
            let mut x = vec![0.0; FEATURES.len()];
            x[0] = 1.0;
            let label = l.last_end(Group::Number, s);
            let other = l.last_end(Group::OtherId, s);
            match (label, other) {
                (Some(a), Some(b)) if b > a => x[OTHER] = 1.0,
                (Some(a), _) => {
                    x[LABEL_SAME] = 1.0;
                    x[LABEL_DIST] = ((s - a) as f32 / 30.0).min(1.0);
                }
                (None, Some(_)) => x[OTHER] = 1.0,
                (None, None) => {}
            }
            // The word right before: `No.`, `Nr`, `N°`, `#`.
            let before = l.lower[..s].trim_end_matches([' ', ':', '.', '\t']);
            x[MARK] = NUMBER_MARKS.iter().any(|m| before.ends_with(m)) as u8 as f32;
            if let Some(prev) = prev.filter(|p| x[LABEL_SAME] == 0.0 && x[OTHER] == 0.0 && p.lower.len() < 80) {
                let pl = prev.last_end(Group::Number, usize::MAX);
                let po = prev.last_end(Group::OtherId, usize::MAX);
                x[LABEL_PREV] = (pl.is_some() && po.is_none_or(|o| pl.is_some_and(|p| p > o))) as u8 as f32;
            }
            x[TITLE] = title as u8 as f32;
            // A receipt's own number is not an invoice number.
            x[RECEIPT_HEADING] = (doc.heading.title == Some("receipt")) as u8 as f32;
            // The heading word itself labels the number: `INVOICE INV-53449`,
            // `Rechnung Nr. 2024-17` (nothing but a number mark between).
            if let Some(t) = l.last_end(Group::Title, s) {
                let between = l.lower[t..s].trim_matches([' ', ':', '.', '#', '\t']);
                x[TITLE_LABEL] = (between.is_empty() || NUMBER_MARKS.contains(&between)) as u8 as f32;
            }
            let bytes = tok.as_bytes();
            x[LETTER] = bytes.iter().any(u8::is_ascii_alphabetic) as u8 as f32;
            x[SEP] = bytes.iter().any(|c| matches!(c, b'-' | b'/' | b'_' | b'.')) as u8 as f32;
            x[LEN] = (tok.len() as f32 / 16.0).min(2.0);
            x[LONG_DIGITS] = (bytes.iter().all(u8::is_ascii_digit) && tok.len() > 12) as u8 as f32;
            let amount_like = tok.len() >= 4 && matches!(bytes[tok.len() - 3], b'.' | b',') && bytes.iter().filter(|c| c.is_ascii_alphabetic()).count() == 0;
            x[AMOUNT] = amount_like as u8 as f32;
            x[IN_DATE] = dates.iter().any(|d| s < d.end && d.start < e) as u8 as f32;
            x[REL] = doc.rel(i);
            out.push(Candidate { value: tok.to_string(), line: i, x });
        }
    }
    // How often each value occurs, case aside (sorted once, not compared pairwise).
    let folded = |k: usize| out[k].value.bytes().map(|b| b.to_ascii_lowercase());
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_unstable_by(|&a, &b| folded(a).cmp(folded(b)));
    let mut counts = vec![0usize; out.len()];
    let mut run = 0;
    while run < order.len() {
        let end = run + order[run..].iter().take_while(|&&k| folded(k).eq(folded(order[run]))).count();
        for &k in &order[run..end] {
            counts[k] = end - run;
        }
        run = end;
    }
    for (k, c) in out.iter_mut().enumerate() {
        c.x[FIRST] = (k == 0) as u8 as f32;
        c.x[REPEATS] = ((counts[k] - 1) as f32 / 2.0).min(1.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_labels() {
        let doc = Doc::new("K O S T E N R E C H N U N G\nBeleg-Nr : QX11223344556\nINVOICE INV-53449\nTel: 030 1234", None, None);
        let c = candidates(&doc);
        let get = |v: &str| c.iter().find(|c| c.value == v).unwrap();
        assert_eq!(get("QX11223344556").x[LABEL_SAME], 1.0);
        assert_eq!(get("INV-53449").x[TITLE], 1.0);
        assert_eq!(get("INV-53449").x[TITLE_LABEL], 1.0);
        assert_eq!(get("QX11223344556").x[TITLE_LABEL], 0.0);
        assert_eq!(get("1234").x[OTHER], 1.0);
    }
}
