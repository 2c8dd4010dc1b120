//! Total candidates: every amount in the document (numbers inside dates,
//! times and long digit strings left out), with the labels before it on
//! its line or on the line above, its rank among the document's amounts,
//! where it stands, whether the other amounts add up to it, and whether it
//! is a total stated after a rounding adjustment.

use super::doc::{Doc, Line};
use super::lexicon::last_end_in;
use super::lexicon::{Group, Lexicon};
use std::sync::LazyLock;
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
    "no_decimals_among_decimals",
    "label_anywhere_before",
    "after_payment_line",
    "total_after_rounding",
    "tendered_minus_change",
    "tax_table_row",
    "rate_share",
];

/// Expert prior for each feature.
pub const PRIOR: &[f32] =
    &[0.0, 3.0, 1.5, 1.5, 0.7, -2.0, -2.0, 0.8, 0.5, 0.5, 0.5, 0.3, 0.3, 0.5, 0.3, -2.0, -1.5, -0.5, -0.5, 0.5, 1.5, -1.5, 0.5, -1.0, 2.0, 2.0, -1.5, -2.0];

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
const NO_DECIMALS: usize = 21;
const ANY_LABEL: usize = 22;
const AFTER_PAYMENT: usize = 23;
const AFTER_ROUNDING: usize = 24;
const TENDER_BALANCE: usize = 25;
const TAX_TABLE: usize = 26;
const RATE_SHARE: usize = 27;

/// Words that make a total gross (tax included) or net (tax excluded).
static GROSS_WORDS: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::new(&["incl*", "inkl*", "ttc", "brutto", "gross", "tax included", "iva incluida", "ivato"]));
/// Words of a rounding-adjustment line (`ROUNDING ADJ -0.02`, `Rundung`,
/// `arrondi`): a total stated below one is the rounded amount payable.
/// Its prior is neutral: receipts with and without cash rounding disagree
/// on which total their labels mean, so the weight comes from labelled
/// documents and from corrections.
static ROUNDING_WORDS: LazyLock<Lexicon> =
    LazyLock::new(|| Lexicon::new(&["round*", "rundung*", "gerundet", "arrondi*", "redondeo*", "arrotond*", "afronding*", "afgerond"]));
/// Words of the change line of a receipt (what was handed back): the
/// amount paid is what was tendered less the change.
static CHANGE_WORDS: LazyLock<Lexicon> =
    LazyLock::new(|| Lexicon::new(&["change", "rückgeld", "rueckgeld", "wechselgeld", "rendu", "monnaie", "cambio", "vuelto", "resto", "wisselgeld"]));
/// Tax words of a tax summary's heading (`GST SUMMARY  AMOUNT  TAX`,
/// `MwSt  Netto  Brutto`), and the words that make such a heading a table's.
static TAX_WORDS: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::new(&["tax", "gst", "sst", "vat", "mwst", "ust", "tva", "iva", "btw"]));
static TABLE_WORDS: LazyLock<Lexicon> = LazyLock::new(|| {
    Lexicon::new(&["summary", "analysis", "zusammenfassung", "récapitulatif", "resumen", "riepilogo", "overzicht", "amount", "amt", "code", "rate", "%", "netto", "brutto", "net", "gross"])
});

/// The rows of tax summary tables: below a heading without amounts that
/// names a tax and a summary or columns (`GST SUMMARY  AMOUNT  TAX`, maybe
/// over two lines), each following line with two amounts or more. Their
/// `TOTAL 83.93 5.04` sums the taxable amount and the tax, not what was paid.
fn tax_table_rows(doc: &Doc, line_amounts: &[Vec<money::Amount>]) -> Vec<bool> {
    let mut rows = vec![false; doc.lines.len()];
    // 0: outside; 1: under a heading, before its first row; 2: among its rows.
    let mut state = 0;
    for (i, l) in doc.lines.iter().enumerate() {
        let n = line_amounts[i].len();
        let heading = n == 0 && TAX_WORDS.any(&l.lower) && TABLE_WORDS.any(&l.lower);
        state = match (state, n) {
            _ if heading => 1,
            (1, 0) => 1,
            (1 | 2, n) if n >= 2 => 2,
            _ => 0,
        };
        rows[i] = state == 2;
    }
    rows
}

static NET_WORDS: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::new(&["excl*", "exkl*", "netto", "before tax", "ht", "hors taxe", "sin iva", "imponibile"]));

/// `TOTAL AFTER ROUNDING 100.60`: a rounding word after the line's last
/// total label (`total_end`, with none of the line's `earlier` amounts
/// between) names the rounded total, not the adjustment. A zero there is
/// rather the adjustment's amount, shifted onto the total's line by the
/// scan. `before` is the line, lower case, up to `amount`.
fn rounded_total(amount: &money::Amount, before: &str, total_end: Option<usize>, earlier: &[money::Amount]) -> bool {
    !amount.value.is_zero() && total_end.is_some_and(|t| ROUNDING_WORDS.any(&before[t..]) && earlier.iter().all(|p| p.end <= t))
}

/// The rates a line states (`GST @ 6%`, `19 %`, `7,7%`), as fractions
/// (0.06): between 0 and 30 %, the span of sales taxes.
fn stated_rates(line: &str) -> Vec<Decimal> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    for (i, _) in line.match_indices('%') {
        let end = line[..i].trim_end_matches(' ').len();
        let start = line[..end].rfind(|c: char| !(c.is_ascii_digit() || c == '.' || c == ',')).map_or(0, |s| s + 1);
        if start == end || !b[start].is_ascii_digit() {
            continue;
        }
        if let Ok(rate) = line[start..end].replace(',', ".").parse::<Decimal>() {
            if rate > Decimal::ZERO && rate <= Decimal::from(30) {
                out.push(rate / Decimal::from(100));
            }
        }
    }
    out
}

/// Whether `amount` is one of `rates` of another amount of the document
/// (`fixed`, in ten-thousandths), charged on it as on a net amount or
/// included in it as in a gross one: `(TOTAL INCLUDED GST @ 6% : 0.42)`
/// beside a total of 7.50, or `DISC 10% -5.59` under an item of 55.90.
/// Such an amount is a tax or a discount, whatever label it carries.
fn is_rate_share(amount: i128, rates: &[Decimal], fixed: &[Option<i128>]) -> bool {
    let cent = 100; // one cent in ten-thousandths: the rounding a till allows
    amount > 0
        && rates.iter().any(|&r| {
            let Some(r) = ten_thousandths(r) else { return false };
            fixed.iter().flatten().any(|&base| {
                base > amount && {
                    let on_net = base * r / 10_000;
                    let in_gross = base * r / (10_000 + r);
                    (on_net - amount).abs() <= cent || (in_gross - amount).abs() <= cent
                }
            })
        })
}

/// `RM152.00`, `EUR12,50`: a short upper-case currency mark glued to an
/// amount, spaced out so the amount reads as one (amounts glued to letters
/// are otherwise skipped as codes like `A4`).
fn unglue_marks(line: &str) -> std::borrow::Cow<'_, str> {
    let b = line.as_bytes();
    let glued = |i: usize| {
        i >= 2
            && b[i].is_ascii_digit()
            && b[i - 1].is_ascii_uppercase()
            && b[i - 2].is_ascii_uppercase()
            && (i < 3 || !b[i - 3].is_ascii_alphanumeric() || (b[i - 3].is_ascii_uppercase() && (i < 4 || !b[i - 4].is_ascii_alphanumeric())))
    };
    if !(0..b.len()).any(glued) {
        return std::borrow::Cow::Borrowed(line);
    }
    // Same length: the byte before the digit becomes a space only when it
    // was a letter of the mark, so offsets stay valid for the label search.
    let mut out = String::with_capacity(line.len() + 4);
    for (i, ch) in line.char_indices() {
        if ch.is_ascii_digit() && glued(i) {
            out.push(' ');
        }
        out.push(ch);
    }
    std::borrow::Cow::Owned(out)
}

/// Whether the nearest label before `at` in `lower` is one of `group`
/// (and no label of the competing groups stands after it).
fn nearest_is(line: &Line, group: Group, others: &[Group]) -> bool {
    let Some(end) = line.last_end(group, usize::MAX) else { return false };
    others.iter().all(|&o| line.last_end(o, usize::MAX).is_none_or(|e| e < end))
}

/// `v` in ten-thousandths, when it has at most four decimal places.
fn ten_thousandths(v: Decimal) -> Option<i128> {
    let scale = v.scale();
    (scale <= 4).then(|| v.mantissa() * 10i128.pow(4 - scale))
}

/// `100.000` or `1,500`: digits, one separator, three digits, which reads
/// as a whole number with a thousands group or as three decimal places.
fn three_places_or_thousands(raw: &str) -> bool {
    let digits = raw.trim_start_matches(|c: char| !c.is_ascii_digit()).trim_end_matches(|c: char| !c.is_ascii_digit());
    let mut parts = digits.split(['.', ',']);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(int), Some(frac), None) => {
            (1..=3).contains(&int.len()) && int.bytes().all(|b| b.is_ascii_digit()) && frac.len() == 3 && frac.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// Total candidates of `doc`; values are plain decimals (`1234.56`).
pub fn candidates(doc: &Doc) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut values: Vec<Decimal> = Vec::new();
    let mut last_total_line = None;
    for (i, l) in doc.lines.iter().enumerate() {
        if l.has(Group::TotalStrong) || l.has(Group::TotalWeak) {
            last_total_line = Some(i);
        }
    }
    // Every line with its glued marks spaced out, and its amounts, read
    // once (a line's amounts are needed again for the next line).
    let unglued_lines: Vec<std::borrow::Cow<str>> = doc.lines.iter().map(|l| unglue_marks(l.text)).collect();
    let line_amounts: Vec<Vec<money::Amount>> = unglued_lines
        .iter()
        .map(|t| if t.bytes().any(|b| b.is_ascii_digit()) { money::amounts(t) } else { Vec::new() })
        .collect();
    let tax_rows = tax_table_rows(doc, &line_amounts);
    let line_rates: Vec<Vec<Decimal>> = unglued_lines.iter().map(|t| if t.contains('%') { stated_rates(t) } else { Vec::new() }).collect();
    let mut payment_seen = false;
    let mut rounding_seen = false;
    // Tendered and change amounts (in ten-thousandths), and the lines that
    // hold them: a receipt's total is what was tendered less the change.
    let mut tendered: Vec<i128> = Vec::new();
    let mut change: Vec<i128> = Vec::new();
    let mut tender_lines: Vec<usize> = Vec::new();
    for (i, l) in doc.lines.iter().enumerate() {
        let dates = &l.dates;
        let unglued = &unglued_lines[i];
        let (text, lower_owned);
        let (text, lower): (&str, &str) = if let std::borrow::Cow::Owned(u) = unglued {
            lower_owned = u.to_ascii_lowercase();
            text = u.as_str();
            (text, lower_owned.as_str())
        } else {
            (l.text, l.lower.as_str())
        };
        let amounts = &line_amounts[i];
        // Label matches of the line (re-read only where a glued mark was spaced out).
        let respaced;
        let hits = if let std::borrow::Cow::Owned(_) = unglued {
            respaced = super::lexicon::hits(lower);
            &respaced
        } else {
            &l.hits
        };
        let prev = i.checked_sub(1).map(|p| &doc.lines[p]);
        // A label line above a value (`Total` / `123.45` in a table).
        let prev_label_only = prev.filter(|_| line_amounts[i - 1].is_empty());
        let n = amounts.len();
        for (k, a) in amounts.iter().enumerate() {
            if dates.iter().any(|d| a.start < d.end && d.start < a.end) && unglued.len() == l.text.len() {
                continue;
            }
            let raw = &text[a.start..a.end];
            let b = text.as_bytes();
            // Times (`05:16`), percentages and pieces of longer tokens are not amounts.
            if (a.end < b.len() && matches!(b[a.end], b':' | b'%')) || (a.start > 0 && b[a.start - 1] == b':' && a.start >= 2 && b[a.start - 2].is_ascii_digit()) {
                continue;
            }
            let digits = raw.bytes().filter(u8::is_ascii_digit).count();
            let has_decimals = raw.len() >= 3 && matches!(raw.as_bytes()[raw.len() - 3], b'.' | b',');
            // A bare integer next to other digits is a piece of a phone
            // number or an ID (`+44 20 7946 0958`), or a quantity.
            let digit_before = text[..a.start].trim_end_matches(' ').ends_with(|c: char| c.is_ascii_digit() || c == '+');
            let digit_after = text[a.end..].trim_start_matches(' ').starts_with(|c: char| c.is_ascii_digit());
            if !has_decimals && a.currency.is_none() && (digit_before || digit_after) {
                continue;
            }
            if digits > 12 || (!has_decimals && a.currency.is_none() && digits > 6) {
                continue;
            }
            let mut x = vec![0.0; FEATURES.len()];
            x[0] = 1.0;
            let strong_end = last_end_in(hits, Group::TotalStrong, a.start);
            let weak_end = last_end_in(hits, Group::TotalWeak, a.start);
            let sub_end = last_end_in(hits, Group::Subtotal, a.start);
            let pay_end = last_end_in(hits, Group::Payment, a.start);
            // The label nearest before the amount decides what it is. On a
            // tie the longer label holds the weak one's word: `grand total`
            // and `sub total` over their own `total`.
            let nearest = [strong_end, weak_end, sub_end, pay_end]
                .iter()
                .enumerate()
                .filter_map(|(g, e)| e.map(|e| (e, g)))
                .max_by_key(|&(e, g)| (e, g != 1, std::cmp::Reverse(g)));
            let before = &lower[..a.start];
            let total_label = strong_end.is_some() || weak_end.is_some();
            // (Gross and net words matter after a total label only.)
            let (gross, net) = if total_label { (GROSS_WORDS.any(before), NET_WORDS.any(before)) } else { (false, false) };
            match nearest.map(|(_, g)| g) {
                // `TOTAL SALES (INCLUSIVE OF GST)`: a total, gross.
                _ if total_label && gross && !net && pay_end.is_none() => x[STRONG] = 1.0,
                // `TOTAL SALES (EXCLUDING GST)`: a net sum.
                _ if total_label && net => x[SUB] = 1.0,
                // `Total (incl. GST)` ends with a tax word but is a total: strong labels include it.
                Some(0) => x[STRONG] = 1.0,
                Some(1) => x[WEAK] = 1.0,
                Some(2) => {
                    // `TOTAL (INCLUDING GST)`: a strong label right before the sub word still counts.
                    if strong_end.is_some_and(|s| sub_end.is_some_and(|e| e - s < 14)) {
                        x[STRONG] = 1.0;
                    } else if rounded_total(a, before, strong_end.max(weak_end), &amounts[..k]) {
                        x[STRONG] = 1.0;
                    } else {
                        x[SUB] = 1.0;
                    }
                }
                Some(3) => x[PAY] = 1.0,
                _ => {}
            }
            if let Some(prev) = prev_label_only.filter(|_| nearest.is_none()) {
                if nearest_is(prev, Group::TotalStrong, &[Group::Subtotal, Group::Payment]) {
                    x[STRONG_PREV] = 1.0;
                } else if nearest_is(prev, Group::TotalWeak, &[Group::Subtotal, Group::Payment]) {
                    x[WEAK_PREV] = 1.0;
                }
            }
            x[DECIMALS] = has_decimals as u8 as f32;
            x[ANY_LABEL] = nearest.is_some() as u8 as f32;
            x[CURRENCY] = a.currency.is_some() as u8 as f32;
            x[LAST] = (k + 1 == n) as u8 as f32;
            x[REL] = doc.rel(i);
            x[AFTER_LAST_TOTAL] = last_total_line.is_some_and(|t| i >= t) as u8 as f32;
            x[ZERO] = a.value.is_zero() as u8 as f32;
            x[AFTER_PAYMENT] = payment_seen as u8 as f32;
            x[TAX_TABLE] = tax_rows[i] as u8 as f32;
            let total_labelled = x[STRONG] + x[WEAK] + x[STRONG_PREV] + x[WEAK_PREV] > 0.0;
            x[AFTER_ROUNDING] = (rounding_seen && total_labelled) as u8 as f32;
            x[INT_LARGE] = (!has_decimals && a.value > Decimal::from(9999)) as u8 as f32;
            x[NEGATIVE] = a.value.is_sign_negative() as u8 as f32;
            // `17 x laptop stand @ 100.54` and `1.40*1`: an item line.
            x[ITEMS] = (lower.contains(" x ") || lower.contains(" @ ") || lower.contains('*') || (n >= 3 && k + 1 < n)) as u8 as f32;
            values.push(a.value);
            // (As printed: `200.00` stays `200.00`.)
            out.push(Candidate { value: a.value.to_string(), line: i, x });
        }
        let payment_line = !amounts.is_empty() && hits.iter().any(|h| h.group == Group::Payment);
        if payment_line {
            let into = if CHANGE_WORDS.any(lower) { &mut change } else { &mut tendered };
            for a in amounts {
                into.extend(ten_thousandths(a.value.abs()));
                // `CASH 100.000`: three places after one separator read as a
                // thousands group, but on a till slip they are as often
                // decimals (a misprinted or OCR'd `100.00`): both readings
                // are tried against the change.
                if three_places_or_thousands(&text[a.start..a.end]) {
                    into.extend(ten_thousandths((a.value / Decimal::from(1000)).abs()));
                }
            }
            tender_lines.push(i);
        }
        payment_seen |= payment_line;
        rounding_seen |= !amounts.is_empty() && ROUNDING_WORDS.any(lower);
    }
    // Amounts as integers in ten-thousandths: sorted, compared and summed
    // without decimal arithmetic (amounts with more places are left out of
    // the sums).
    let fixed: Vec<Option<i128>> = values.iter().map(|v| ten_thousandths(v.abs())).collect();
    let mut sorted: Vec<Decimal> = values.clone();
    sorted.sort_unstable();
    let mut distinct: Vec<Decimal> = values.iter().map(|v| v.abs()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let largest = distinct.last().copied();
    // In a document whose amounts are written with decimals, a bare
    // integer is a count, a quantity or a day, rarely the total.
    let with_decimals = out.iter().filter(|c| c.x[DECIMALS] > 0.0).count();
    let mostly_decimals = with_decimals * 2 > out.len();
    // Every sum of two different non-zero amounts, sorted (bounded: a
    // document with very many amounts gets none).
    let mut positive: Vec<i128> = fixed.iter().flatten().copied().filter(|&d| d != 0).collect();
    positive.sort_unstable();
    positive.dedup();
    let mut pair_sums: Vec<i128> = Vec::new();
    if positive.len() <= 60 {
        for (a, x) in positive.iter().enumerate() {
            for y in &positive[a + 1..] {
                pair_sums.push(x + y);
            }
        }
        pair_sums.sort_unstable();
    }
    for ((c, v), f) in out.iter_mut().zip(&values).zip(&fixed) {
        let abs = v.abs();
        c.x[LARGEST] = (Some(abs) == largest) as u8 as f32;
        c.x[NO_DECIMALS] = (mostly_decimals && c.x[DECIMALS] == 0.0 && c.x[CURRENCY] == 0.0) as u8 as f32;
        let rank = distinct.len() - 1 - distinct.binary_search(&abs).unwrap_or(0);
        c.x[RANK] = 1.0 / (1.0 + rank as f32);
        let same = sorted.partition_point(|w| w <= v) - sorted.partition_point(|w| w < v);
        c.x[REPEATS] = ((same - 1) as f32 / 2.0).min(1.0);
        // Net + tax = gross: some two other amounts add up to this one.
        c.x[SUM_OF_TWO] = f.is_some_and(|f| pair_sums.binary_search(&f).is_ok()) as u8 as f32;
        // `GST 6% INCLUDED 0.51` beside a total of 9.00: a tax, not a total.
        c.x[RATE_SHARE] = f.is_some_and(|f| is_rate_share(f, &line_rates[c.line], &fixed)) as u8 as f32;
        // Tendered 100.00, change 3.80: the 96.20 printed elsewhere is what was paid.
        c.x[TENDER_BALANCE] = (f.is_some_and(|f| f > 0 && tendered.iter().any(|t| change.iter().any(|ch| t - ch == f))) && tender_lines.binary_search(&c.line).is_err())
            as u8 as f32;
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
        assert_eq!(get("100.00").x[SUB], 1.0);
        assert_eq!(get("119.00").x[STRONG], 1.0);
        assert_eq!(get("119.00").x[SUM_OF_TWO], 1.0);
        assert_eq!(get("200.00").x[PAY], 1.0);
        assert_eq!(get("81.00").x[PAY], 1.0);
    }

    #[test]
    fn a_tax_summary_total_is_a_table_row() {
        let text = "TOTAL INCL GST    52.47\nCASH    60.00\nGST SUMMARY    AMOUNT    TAX\nSR @ 6%    49.50    2.97\nTOTAL    49.50    2.97\nTHANK YOU";
        let c = candidates(&Doc::new(text, None, None));
        let get = |v: &str| c.iter().find(|c| c.value == v).unwrap();
        assert_eq!((get("49.50").x[TAX_TABLE], get("2.97").x[TAX_TABLE]), (1.0, 1.0));
        assert_eq!((get("52.47").x[TAX_TABLE], get("60.00").x[TAX_TABLE]), (0.0, 0.0));
        // A heading over two lines, and a tax line that is no table.
        let c = candidates(&Doc::new("GST SUMMARY\nCODE    AMOUNT    %    TAX\nSR    3.77    6    0.23\nTAX INVOICE\nTOTAL 4.00 0.23", None, None));
        assert_eq!(c.iter().filter(|c| c.x[TAX_TABLE] == 1.0).count(), 2, "{c:?}");
    }

    #[test]
    fn a_sub_total_is_not_read_as_its_total() {
        let doc = Doc::new("SUB TOTAL    :    RM    68.87\nGST/TAX 6%    :    RM    4.13\nTOTAL    :    RM    73.00", None, None);
        let c = candidates(&doc);
        let get = |v: &str| c.iter().find(|c| c.value == v).unwrap();
        assert_eq!((get("68.87").x[SUB], get("68.87").x[WEAK]), (1.0, 0.0));
        assert_eq!(get("73.00").x[WEAK], 1.0);
    }

    #[test]
    fn gross_and_net_totals_and_glued_marks() {
        let doc = Doc::new("TOTAL SALES (EXCLUDING GST) : 10.00\nTOTAL SALES (INCLUSIVE OF GST) : 10.60\nSUBTOTAL RM10.60", None, None);
        let c = candidates(&doc);
        assert_eq!(c[0].x[SUB], 1.0);
        assert_eq!(c[1].x[STRONG], 1.0);
        assert_eq!(c[2].value, "10.60");
    }

    #[test]
    fn a_total_below_a_rounding_line_is_marked() {
        let doc = Doc::new("TOTAL SALES INCL GST    98.37\nROUNDING ADJ    -0.02\nTOTAL AFTER ADJ INCL GST    98.35\nCASH    100.00", None, None);
        let c = candidates(&doc);
        let get = |v: &str| c.iter().find(|c| c.value == v).unwrap();
        assert_eq!(get("98.37").x[AFTER_ROUNDING], 0.0);
        assert_eq!(get("98.35").x[AFTER_ROUNDING], 1.0);
        // A payment below the rounding line is not a total.
        assert_eq!(get("100.00").x[AFTER_ROUNDING], 0.0);
    }

    #[test]
    fn a_total_named_after_its_rounding_is_the_rounded_total() {
        let doc = Doc::new("TOTAL SALES INCL. GST    47.38\nROUNDING ADJUSTMENT    0.02\nTOTAL AFTER ROUNDING    47.40\nVISA    47.40", None, None);
        let c = candidates(&doc);
        let get = |v: &str| c.iter().find(|c| c.value == v).unwrap();
        assert_eq!((get("47.40").x[STRONG], get("47.40").x[SUB], get("47.40").x[AFTER_ROUNDING]), (1.0, 0.0, 1.0));
        assert_eq!((get("0.02").x[SUB], get("0.02").x[STRONG]), (1.0, 0.0));
        // A zero after such a label is the adjustment's amount, shifted.
        let c = candidates(&Doc::new("ROUNDING ADJ    4.00\nTOTAL AFTER ROUNDING    0.00\n4.00", None, None));
        assert_eq!(c.iter().find(|c| c.value == "0.00").unwrap().x[STRONG], 0.0);
        // On one line, the adjustment after a total is still an adjustment.
        let c = candidates(&Doc::new("TOTAL 47.38 ROUNDING 0.02", None, None));
        assert_eq!((c[1].value.as_str(), c[1].x[STRONG], c[1].x[SUB]), ("0.02", 0.0, 1.0));
    }

    #[test]
    fn a_stated_rate_of_another_amount_is_a_share() {
        assert_eq!(stated_rates("GST @ 6% : 0.42 and 7,7 %"), [Decimal::new(6, 2), Decimal::new(77, 3)]);
        assert!(stated_rates("100% COTTON 12.00").is_empty() && stated_rates("% 3.00").is_empty());
        let doc = Doc::new("SCONE    4.00\nDUE    4.00\nCASH    10.00\nCHANGE    6.00\n(TOTAL INCLUDED GST @ 6% : 0.23)", None, None);
        let c = candidates(&doc);
        let get = |v: &str| c.iter().find(|c| c.value == v).unwrap();
        assert_eq!(get("0.23").x[RATE_SHARE], 1.0, "the tax included in 4.00");
        assert_eq!(get("4.00").x[RATE_SHARE], 0.0);
        // What is due is a total; the change due is a payment.
        let c = candidates(&Doc::new("DUE    4.00\nCASH    10.00\nCHANGE DUE    6.00", None, None));
        assert_eq!((c[0].x[WEAK], c[2].x[PAY], c[2].x[WEAK]), (1.0, 1.0, 0.0));
        // A total whose line states the rate it includes is no share of anything.
        let c = candidates(&Doc::new("ITEM    9.00\nTOTAL INCL. GST @ 6%    9.00\nGST 6% INCLUDED    0.51\nCASH    20.00", None, None));
        let get = |v: &str| c.iter().filter(|c| c.value == v).map(|c| c.x[RATE_SHARE]).collect::<Vec<_>>();
        assert_eq!((get("9.00"), get("0.51")), (vec![0.0, 0.0], vec![1.0]));
        // A discount of a stated rate is a share too, and a taxable amount is a net one.
        let c = candidates(&Doc::new("LAMP    40.00\nDISC 10%    -4.00\nTAXABLE AMOUNT    33.96", None, None));
        assert_eq!((c[1].x[RATE_SHARE], c[2].x[SUB], c[2].x[WEAK]), (1.0, 1.0, 0.0));
    }

    #[test]
    fn tendered_less_change_marks_the_amount_paid() {
        let doc = Doc::new("SOYA 4.30\nSUBTOTAL 28.70\nCASH 100.00\nCHANGE 71.30\nINC 6% GST 1.62", None, None);
        let c = candidates(&doc);
        let get = |v: &str| c.iter().find(|c| c.value == v).unwrap();
        assert_eq!(get("28.70").x[TENDER_BALANCE], 1.0);
        assert_eq!(get("4.30").x[TENDER_BALANCE], 0.0);
        // The tendered and change amounts themselves are not the balance.
        assert_eq!(get("100.00").x[TENDER_BALANCE], 0.0);
        assert_eq!(get("71.30").x[TENDER_BALANCE], 0.0);
        // A tendered amount printed with three places still balances.
        let doc = Doc::new("SOYA 4.30\nSUBTOTAL 28.70\nCASH 100.000\nCHANGE 71.30", None, None);
        let c = candidates(&doc);
        assert_eq!(c.iter().find(|c| c.value == "28.70").unwrap().x[TENDER_BALANCE], 1.0);
        assert!(three_places_or_thousands("RM1,500") && !three_places_or_thousands("1,500.00") && !three_places_or_thousands("12.50"));
    }

    #[test]
    fn dates_and_times_are_not_amounts() {
        let doc = Doc::new("04/05/19 07:12 PM\nTOTAL (INCLUDING GST)    41.15", None, None);
        let c = candidates(&doc);
        assert_eq!(c.iter().map(|c| c.value.as_str()).collect::<Vec<_>>(), ["41.15"]);
        assert_eq!(c[0].x[STRONG], 1.0);
    }
}
