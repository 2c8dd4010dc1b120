//! Total candidates: every amount in the document (numbers inside dates,
//! times and long digit strings left out), with the labels before it on
//! its line or on the line above, its rank among the document's amounts,
//! where it stands, and whether the other amounts add up to it.

use super::dates::dates_in_line;
use super::doc::Doc;
use super::lexicon::{last_label_end, PAYMENT_LABELS, SUBTOTAL_LABELS, TOTAL_STRONG, TOTAL_WEAK};
use super::Candidate;
use crate::extract::money;
use rust_decimal::Decimal;

/// Feature names, in the order of a candidate's feature vector.
pub const FEATURES: &[&str] = &[
    "bias",
    "strong_label_same_line",
    "weak_label_same_line",
    "strong_label_prev_line",
    "weak_label_prev_line",
    "subtotal_label",
    "payment_label",
    "largest",
    "rank_from_largest",
    "repeats",
    "two_decimals",
    "currency_marked",
    "last_on_line",
    "rel_line",
    "after_last_total_label",
    "zero",
    "integer_large",
    "negative",
    "items_line",
    "sum_of_two_others",
    "legacy_rule",
];

/// Expert prior for each feature.
pub const PRIOR: &[f32] =
    &[0.0, 3.0, 1.5, 1.5, 0.7, -2.0, -2.0, 0.8, 0.5, 0.5, 0.5, 0.3, 0.3, 0.5, 0.3, -2.0, -1.5, -0.5, -0.5, 0.5, 1.5];

const STRONG: usize = 1;
const WEAK: usize = 2;
const STRONG_PREV: usize = 3;
const WEAK_PREV: usize = 4;
const SUB: usize = 5;
const PAY: usize = 6;
const LARGEST: usize = 7;
const RANK: usize = 8;
const REPEATS: usize = 9;
const DECIMALS: usize = 10;
const CURRENCY: usize = 11;
const LAST: usize = 12;
const REL: usize = 13;
const AFTER_LAST_TOTAL: usize = 14;
const ZERO: usize = 15;
const INT_LARGE: usize = 16;
const NEGATIVE: usize = 17;
const ITEMS: usize = 18;
const SUM_OF_TWO: usize = 19;
pub(super) const LEGACY: usize = 20;

/// Whether the nearest label before `at` in `lower` is one of `group`
/// (and no label of the competing groups stands after it).
fn nearest_is(lower: &str, at: usize, group: &[&str], others: &[&[&str]]) -> bool {
    let Some(end) = last_label_end(lower, group, at) else { return false };
    others.iter().all(|o| last_label_end(lower, o, at).is_none_or(|e| e < end))
}

/// Total candidates of `doc`; values are plain decimals (`1234.56`).
pub fn candidates(doc: &Doc) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut values: Vec<Decimal> = Vec::new();
    let mut last_total_line = None;
    for (i, l) in doc.lines.iter().enumerate() {
        if last_label_end(&l.lower, TOTAL_STRONG, l.lower.len()).is_some() || last_label_end(&l.lower, TOTAL_WEAK, l.lower.len()).is_some() {
            last_total_line = Some(i);
        }
    }
    for (i, l) in doc.lines.iter().enumerate() {
        let dates = dates_in_line(&l.lower, false);
        let amounts = money::amounts(l.text);
        let prev = i.checked_sub(1).map(|p| doc.lines[p].lower.as_str()).unwrap_or("");
        // A label line above a value (`Total` / `123.45` in a table).
        let prev_label_only = !prev.is_empty() && money::amounts(doc.lines[i - 1].text).is_empty();
        let n = amounts.len();
        for (k, a) in amounts.iter().enumerate() {
            if dates.iter().any(|d| a.start < d.end && d.start < a.end) {
                continue;
            }
            let raw = &l.text[a.start..a.end];
            let b = l.text.as_bytes();
            // Times (`05:16`), percentages and pieces of longer tokens are not amounts.
            if (a.end < b.len() && matches!(b[a.end], b':' | b'%')) || (a.start > 0 && b[a.start - 1] == b':' && a.start >= 2 && b[a.start - 2].is_ascii_digit()) {
                continue;
            }
            let digits = raw.bytes().filter(u8::is_ascii_digit).count();
            let has_decimals = raw.len() >= 3 && matches!(raw.as_bytes()[raw.len() - 3], b'.' | b',');
            if digits > 12 || (!has_decimals && a.currency.is_none() && digits > 6) {
                continue;
            }
            let mut x = vec![0.0; FEATURES.len()];
            x[0] = 1.0;
            let strong_end = last_label_end(&l.lower, TOTAL_STRONG, a.start);
            let weak_end = last_label_end(&l.lower, TOTAL_WEAK, a.start);
            let sub_end = last_label_end(&l.lower, SUBTOTAL_LABELS, a.start);
            let pay_end = last_label_end(&l.lower, PAYMENT_LABELS, a.start);
            // The label nearest before the amount decides what it is (on a
            // tie, `grand total` over its own `total`).
            let nearest = [strong_end, weak_end, sub_end, pay_end]
                .iter()
                .enumerate()
                .filter_map(|(g, e)| e.map(|e| (e, g)))
                .max_by_key(|&(e, g)| (e, std::cmp::Reverse(g)));
            match nearest.map(|(_, g)| g) {
                // `Total (incl. GST)` ends with a tax word but is a total: strong labels include it.
                Some(0) => x[STRONG] = 1.0,
                Some(1) => x[WEAK] = 1.0,
                Some(2) => {
                    // `TOTAL (INCLUDING GST)`: a strong label right before the sub word still counts.
                    if strong_end.is_some_and(|s| sub_end.is_some_and(|e| e - s < 14)) {
                        x[STRONG] = 1.0;
                    } else {
                        x[SUB] = 1.0;
                    }
                }
                Some(3) => x[PAY] = 1.0,
                _ => {}
            }
            if prev_label_only && nearest.is_none() {
                if nearest_is(prev, prev.len(), TOTAL_STRONG, &[SUBTOTAL_LABELS, PAYMENT_LABELS]) {
                    x[STRONG_PREV] = 1.0;
                } else if nearest_is(prev, prev.len(), TOTAL_WEAK, &[SUBTOTAL_LABELS, PAYMENT_LABELS]) {
                    x[WEAK_PREV] = 1.0;
                }
            }
            x[DECIMALS] = has_decimals as u8 as f32;
            x[CURRENCY] = a.currency.is_some() as u8 as f32;
            x[LAST] = (k + 1 == n) as u8 as f32;
            x[REL] = doc.rel(i);
            x[AFTER_LAST_TOTAL] = last_total_line.is_some_and(|t| i >= t) as u8 as f32;
            x[ZERO] = a.value.is_zero() as u8 as f32;
            x[INT_LARGE] = (!has_decimals && a.value > Decimal::from(9999)) as u8 as f32;
            x[NEGATIVE] = a.value.is_sign_negative() as u8 as f32;
            // `17 x laptop stand @ 100.54` and `1.40*1`: an item line.
            x[ITEMS] = (l.lower.contains(" x ") || l.lower.contains(" @ ") || l.lower.contains('*') || (n >= 3 && k + 1 < n)) as u8 as f32;
            values.push(a.value);
            out.push(Candidate { value: a.value.normalize().to_string(), line: i, x });
        }
    }
    let mut distinct: Vec<Decimal> = values.iter().map(|v| v.abs()).collect();
    distinct.sort();
    distinct.dedup();
    let largest = distinct.last().copied();
    for (c, v) in out.iter_mut().zip(&values) {
        let abs = v.abs();
        c.x[LARGEST] = (Some(abs) == largest) as u8 as f32;
        let rank = distinct.len() - 1 - distinct.iter().position(|d| *d == abs).unwrap_or(0);
        c.x[RANK] = 1.0 / (1.0 + rank as f32);
        c.x[REPEATS] = ((values.iter().filter(|w| *w == v).count() - 1) as f32 / 2.0).min(1.0);
        // Net + tax = gross: some two other amounts add up to this one.
        let others: Vec<Decimal> = distinct.iter().copied().filter(|d| *d != abs && !d.is_zero() && *d < abs).collect();
        let sums = others.len() <= 60
            && others.iter().enumerate().any(|(a, x)| others[a + 1..].iter().any(|y| *x + *y == abs));
        c.x[SUM_OF_TWO] = sums as u8 as f32;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_mark_the_total() {
        let doc = Doc::new("Subtotal 100.00\nVAT 19.00\nGrand total 119.00\nCash 200.00\nChange 81.00", None, None);
        let c = candidates(&doc);
        let get = |v: &str| c.iter().find(|c| c.value == v).unwrap();
        assert_eq!(get("100").x[SUB], 1.0);
        assert_eq!(get("119").x[STRONG], 1.0);
        assert_eq!(get("119").x[SUM_OF_TWO], 1.0);
        assert_eq!(get("200").x[PAY], 1.0);
        assert_eq!(get("81").x[PAY], 1.0);
    }

    #[test]
    fn dates_and_times_are_not_amounts() {
        let doc = Doc::new("04/05/19 07:12 PM\nTOTAL (INCLUDING GST)    41.15", None, None);
        let c = candidates(&doc);
        assert_eq!(c.iter().map(|c| c.value.as_str()).collect::<Vec<_>>(), ["41.15"]);
        assert_eq!(c[0].x[STRONG], 1.0);
    }
}
