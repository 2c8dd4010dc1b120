//! Date candidates: every date written in the document, in any of the
//! common shapes (`07.11.2014`, `04/05/19`, `2024-05-01`, `12 Mar 2026`,
//! `March 12, 2026`, `15. März 2024`, `12 de marzo de 2024`), read by one
//! hand-written scanner over each line's words, with month names in six
//! languages; features say what stands around each.

use super::doc::Doc;
use super::lexicon::Group;
use super::Candidate;
use chrono::{Datelike, NaiveDate};

/// Feature names, in the order of a candidate's feature vector.
pub const FEATURES: &[&str] = &[
    "bias",
    "label_same_line",
    "label_prev_line",
    "label_distance",
    "other_label_same_line",
    "other_label_prev_line",
    "time_on_line",
    "first_date",
    "earliest_date",
    "latest_date",
    "rel_line",
    "repeats",
    "ambiguous_order",
    "two_digit_year",
    "month_name",
    "implausible_year",
    "legacy_rule",
];

/// Expert prior for each feature (the fit pulls towards it).
pub const PRIOR: &[f32] = &[0.0, 2.5, 1.5, -1.0, -2.5, -1.5, 1.0, 0.8, 0.3, -0.2, -0.5, 0.3, -0.3, 0.0, 0.2, -4.0, 1.5];

const LABEL_SAME: usize = 1;
const LABEL_PREV: usize = 2;
const LABEL_DIST: usize = 3;
const OTHER_SAME: usize = 4;
const OTHER_PREV: usize = 5;
const TIME: usize = 6;
const FIRST: usize = 7;
const EARLIEST: usize = 8;
const LATEST: usize = 9;
const REL: usize = 10;
const REPEATS: usize = 11;
const AMBIGUOUS: usize = 12;
const SHORT_YEAR: usize = 13;
const MONTH_NAME: usize = 14;
const IMPLAUSIBLE: usize = 15;
pub(super) const LEGACY: usize = 16;

/// Month names and abbreviations in EN, DE, FR, ES, IT, NL (lower case),
/// with their month number; a word matches a name when it is the name or a
/// prefix of it of at least `min` letters.
const MONTHS: &[(&str, u32, usize)] = &[
    ("january", 1, 3), ("januar", 1, 3), ("janvier", 1, 4), ("enero", 1, 3), ("gennaio", 1, 3), ("januari", 1, 3),
    ("jänner", 1, 3),
    ("february", 2, 3), ("februar", 2, 3), ("février", 2, 3), ("fevrier", 2, 3), ("febrero", 2, 3),
    ("febbraio", 2, 3), ("februari", 2, 3),
    ("march", 3, 3), ("märz", 3, 3), ("maerz", 3, 4), ("mars", 3, 4), ("marzo", 3, 3), ("maart", 3, 3),
    ("april", 4, 3), ("avril", 4, 3), ("abril", 4, 3), ("aprile", 4, 3),
    ("may", 5, 3), ("mai", 5, 3), ("mayo", 5, 4), ("maggio", 5, 3), ("mei", 5, 3),
    ("june", 6, 3), ("juni", 6, 3), ("juin", 6, 4), ("junio", 6, 3), ("giugno", 6, 3),
    ("july", 7, 3), ("juli", 7, 3), ("juillet", 7, 4), ("julio", 7, 4), ("luglio", 7, 3),
    ("august", 8, 3), ("août", 8, 3), ("aout", 8, 4), ("agosto", 8, 3), ("augustus", 8, 3),
    ("september", 9, 3), ("septembre", 9, 4), ("septiembre", 9, 4), ("settembre", 9, 3), ("sept", 9, 4),
    ("october", 10, 3), ("oktober", 10, 3), ("octobre", 10, 3), ("octubre", 10, 3), ("ottobre", 10, 3),
    ("november", 11, 3), ("novembre", 11, 3), ("noviembre", 11, 3),
    ("december", 12, 3), ("dezember", 12, 3), ("décembre", 12, 3), ("decembre", 12, 3), ("diciembre", 12, 3),
    ("dicembre", 12, 3),
];

/// The month a word names, if any (`word` lower case, letters only).
pub fn month_of(word: &str) -> Option<u32> {
    // (Called for every word of a document: reject most by length and
    // first letter before comparing names.)
    let first = *word.as_bytes().first()?;
    if word.len() < 3 || word.len() > 12 || !b"jfmasondgle".contains(&first) {
        return None;
    }
    let n = word.chars().count();
    MONTHS
        .iter()
        .filter(|(name, _, _)| name.as_bytes()[0] == first)
        .find(|(name, _, min)| n >= *min && (word == *name || name.starts_with(word)))
        .map(|&(_, m, _)| m)
}

/// A date found in a line: where, what, and how it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    pub date: NaiveDate,
    /// Day and month could be swapped (`03/04/2026`).
    pub ambiguous: bool,
    pub short_year: bool,
    pub month_name: bool,
}

/// A word of a line: letters (lower case) or digits, with its span.
#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    s: &'a str,
    start: usize,
    end: usize,
    digits: bool,
}

fn tokens(lower: &str) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let mut it = lower.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let digits = c.is_ascii_digit();
        if !(digits || c.is_alphabetic()) {
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = it.peek() {
            if (digits && d.is_ascii_digit()) || (!digits && d.is_alphabetic()) {
                end = j + d.len_utf8();
                it.next();
            } else {
                break;
            }
        }
        out.push(Tok { s: &lower[i..end], start: i, end, digits });
    }
    out
}

fn year_of(t: &str) -> Option<(i32, bool)> {
    match t.len() {
        4 => t.parse().ok().map(|y| (y, false)),
        2 => t.parse::<i32>().ok().map(|y| (if y < 70 { 2000 + y } else { 1900 + y }, true)),
        _ => None,
    }
}

/// The separator between two tokens, when it is short (`.`, `/`, `-`, ` `, `. `, `, `).
fn gap<'a>(lower: &'a str, a: &Tok, b: &Tok) -> &'a str {
    &lower[a.end..b.start]
}

/// Every date in one (lower-cased) line.
pub fn dates_in_line(lower: &str, month_first: bool) -> Vec<Found> {
    // Every date shape holds a day and a year: no digits, no date.
    if !lower.bytes().any(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    let t = tokens(lower);
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if let Some((f, used)) = date_at(lower, &t, i, month_first) {
            out.push(f);
            i += used;
        } else {
            i += 1;
        }
    }
    out
}

fn date_at(lower: &str, t: &[Tok], i: usize, month_first: bool) -> Option<(Found, usize)> {
    let a = t[i];
    let next = |k: usize| t.get(i + k).copied();
    let plain_sep = |s: &str| matches!(s, "." | "/" | "-" | ". ");
    let name_sep = |s: &str| s.len() <= 4 && s.chars().all(|c| matches!(c, ' ' | '.' | ',' | '-' | '/'));
    if a.digits {
        // Numeric: a SEP b SEP c, same separator both times.
        if let (Some(b), Some(c)) = (next(1), next(2)) {
            let (s1, s2) = (gap(lower, &a, &b), gap(lower, &b, &c));
            if b.digits && c.digits && plain_sep(s1) && s1.trim() == s2.trim() && !s1.trim().is_empty() {
                let glued = c.end < lower.len() && lower.as_bytes()[c.end].is_ascii_digit();
                if !glued {
                    if a.s.len() == 4 {
                        let (y, m, d) = (a.s.parse().ok()?, b.s.parse().ok()?, c.s.parse().ok()?);
                        let date = NaiveDate::from_ymd_opt(y, m, d)?;
                        return Some((Found { start: a.start, end: c.end, date, ambiguous: false, short_year: false, month_name: false }, 3));
                    }
                    if a.s.len() <= 2 && b.s.len() <= 2 {
                        let (x, y) = (a.s.parse::<u32>().ok()?, b.s.parse::<u32>().ok()?);
                        let (year, short) = year_of(c.s)?;
                        let dot = s1.trim() == ".";
                        let day_first = NaiveDate::from_ymd_opt(year, y, x);
                        let month_first_d = NaiveDate::from_ymd_opt(year, x, y);
                        let (date, ambiguous) = match (day_first, month_first_d) {
                            (Some(d), None) => (d, false),
                            (None, Some(d)) => (d, false),
                            (Some(d1), Some(d2)) => {
                                // A dotted date is day-first everywhere.
                                (if month_first && !dot { d2 } else { d1 }, x != y && !dot)
                            }
                            (None, None) => return None,
                        };
                        return Some((Found { start: a.start, end: c.end, date, ambiguous, short_year: short, month_name: false }, 3));
                    }
                }
            }
            // Day MONTH year: `12 Mar 2026`, `15. März 2024`, `1er janvier 2024`, `12 de marzo de 2024`.
            if a.s.len() <= 2 && !b.digits {
                let (mut b, mut k, mut before_month) = (b, 1, a);
                if matches!(b.s, "st" | "nd" | "rd" | "th" | "er" | "de" | "of") && gap(lower, &a, &b).len() <= 1 {
                    k += 1;
                    before_month = b;
                    b = next(k)?;
                    if matches!(b.s, "de" | "of") {
                        k += 1;
                        before_month = b;
                        b = next(k)?;
                    }
                }
                let month = month_of(b.s).filter(|_| name_sep(gap(lower, &before_month, &b)))?;
                let mut c = next(k + 1)?;
                let mut used = k + 2;
                let mut before_year = b;
                if c.s == "de" {
                    before_year = c;
                    c = next(k + 2)?;
                    used += 1;
                }
                if !c.digits || !name_sep(gap(lower, &before_year, &c)) {
                    return None;
                }
                let (year, short) = year_of(c.s)?;
                let date = NaiveDate::from_ymd_opt(year, month, a.s.parse().ok()?)?;
                return Some((Found { start: a.start, end: c.end, date, ambiguous: false, short_year: short, month_name: true }, used));
            }
        }
        return None;
    }
    // MONTH day, year: `March 12, 2026`, `Jan 5 2024`.
    let month = month_of(a.s)?;
    let (b, c) = (next(1)?, next(2)?);
    if b.digits && b.s.len() <= 2 && c.digits && name_sep(gap(lower, &a, &b)) && name_sep(gap(lower, &b, &c)) {
        let (year, short) = year_of(c.s)?;
        let date = NaiveDate::from_ymd_opt(year, month, b.s.parse().ok()?)?;
        return Some((Found { start: a.start, end: c.end, date, ambiguous: false, short_year: short, month_name: true }, 3));
    }
    None
}

/// Whether `lower` holds a clock time (`05:16`, `14:02:33`).
fn has_time(lower: &str) -> bool {
    let b = lower.as_bytes();
    (1..b.len().saturating_sub(2)).any(|i| b[i] == b':' && b[i - 1].is_ascii_digit() && b[i + 1].is_ascii_digit() && b[i + 2].is_ascii_digit())
}

/// Date candidates of `doc`, their values ISO `YYYY-MM-DD`.
pub fn candidates(doc: &Doc) -> Vec<Candidate> {
    // Unambiguous dates decide the order of ambiguous ones.
    let mut month_first_votes = 0i32;
    for l in &doc.lines {
        for f in l.dates.iter() {
            if !f.ambiguous && !f.month_name && l.lower[f.start..f.end].contains('/') {
                let first: u32 = l.lower[f.start..].split(|c: char| !c.is_ascii_digit()).next().and_then(|s| s.parse().ok()).unwrap_or(0);
                if first > 12 {
                    month_first_votes -= 1;
                } else if first as i64 == f.date.month() as i64 && f.date.day() > 12 {
                    month_first_votes += 1;
                }
            }
        }
    }
    let month_first = if month_first_votes == 0 { doc.month_first } else { month_first_votes > 0 };
    let mut out: Vec<Candidate> = Vec::new();
    for (i, l) in doc.lines.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| &doc.lines[p]);
        let prev_is_label = prev.is_some_and(|p| p.lower.len() < 60);
        let found = if month_first && l.dates.iter().any(|f| f.ambiguous) { dates_in_line(&l.lower, true) } else { l.dates.clone() };
        for f in found {
            let mut x = vec![0.0; FEATURES.len()];
            x[0] = 1.0;
            let label = l.last_end(Group::Date, f.start);
            let other = l.last_end(Group::OtherDate, f.start);
            // The nearer label wins, but `Due date:` and `Delivery date:`
            // hold `date` right after the word that makes them other dates.
            let label_wins = match (label, other) {
                (Some(a), Some(b)) => a > b + 6,
                (Some(_), None) => true,
                _ => false,
            };
            if label_wins {
                x[LABEL_SAME] = 1.0;
                x[LABEL_DIST] = ((f.start - label.unwrap_or(0)) as f32 / 40.0).min(1.0);
            } else if other.is_some() {
                x[OTHER_SAME] = 1.0;
            }
            if prev_is_label && prev.is_some_and(|p| p.has(Group::Date)) {
                x[LABEL_PREV] = 1.0;
            }
            if prev_is_label && prev.is_some_and(|p| p.has(Group::OtherDate)) {
                x[OTHER_PREV] = 1.0;
            }
            x[TIME] = has_time(&l.lower) as u8 as f32;
            x[REL] = doc.rel(i);
            x[AMBIGUOUS] = f.ambiguous as u8 as f32;
            x[SHORT_YEAR] = f.short_year as u8 as f32;
            x[MONTH_NAME] = f.month_name as u8 as f32;
            x[IMPLAUSIBLE] = !(1990..=2045).contains(&f.date.year()) as u8 as f32;
            out.push(Candidate { value: iso(f.date), line: i, x });
        }
    }
    let values: Vec<String> = out.iter().map(|c| c.value.clone()).collect();
    let (min, max) = (values.iter().min().cloned(), values.iter().max().cloned());
    for (k, c) in out.iter_mut().enumerate() {
        c.x[FIRST] = (k == 0) as u8 as f32;
        c.x[EARLIEST] = (Some(&c.value) == min.as_ref()) as u8 as f32;
        c.x[LATEST] = (Some(&c.value) == max.as_ref() && min != max) as u8 as f32;
        c.x[REPEATS] = ((values.iter().filter(|v| **v == c.value).count() - 1) as f32 / 2.0).min(1.0);
    }
    out
}

/// `YYYY-MM-DD`.
pub fn iso(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str, month_first: bool) -> Option<String> {
        dates_in_line(&s.to_ascii_lowercase(), month_first).first().map(|f| iso(f.date))
    }

    #[test]
    fn shapes() {
        assert_eq!(one("Beleg-Datum : 07.11.2014", false).as_deref(), Some("2014-11-07"));
        assert_eq!(one("RECEIPT : 55512345    04/05/19 07:12 PM", false).as_deref(), Some("2019-05-04"));
        assert_eq!(one("04/05/19", true).as_deref(), Some("2019-04-05"));
        assert_eq!(one("Date: 2024-05-01", false).as_deref(), Some("2024-05-01"));
        assert_eq!(one("12 Mar 2026", false).as_deref(), Some("2026-03-12"));
        assert_eq!(one("March 12, 2026", false).as_deref(), Some("2026-03-12"));
        assert_eq!(one("15. März 2024", false).as_deref(), Some("2024-03-15"));
        assert_eq!(one("le 1er janvier 2024", false).as_deref(), Some("2024-01-01"));
        assert_eq!(one("12 de marzo de 2024", false).as_deref(), Some("2024-03-12"));
        assert_eq!(one("13/25/2024", false), None);
        assert_eq!(one("total 12.50", false), None);
        assert_eq!(one("25-DEC-2019", false).as_deref(), Some("2019-12-25"));
    }

    #[test]
    fn label_beats_other_dates() {
        let text = "Due date: 30.11.2024\nInvoice date: 01.11.2024";
        let doc = Doc::new(text, None, None);
        let c = candidates(&doc);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].x[OTHER_SAME], 1.0);
        assert_eq!(c[1].x[LABEL_SAME], 1.0);
    }
}
