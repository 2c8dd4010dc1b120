//! Dates: ISO, `DD.MM.YYYY`, `DD/MM/YYYY` vs `MM/DD/YYYY` (resolved by the
//! document's own unambiguous dates, then the locale hint, else not
//! guessed), `12 March 2026`, `March 12, 2026`, `12-Mar-2026`, `2026/03/12`.
//! The patterns are lower case and run on [`Folded::lower`].

use super::{keywords, Folded};
use chrono::{Datelike, NaiveDate};
use regex::Regex;
use std::cell::LazyCell;
use std::sync::LazyLock;

const MONTHS: &str = r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?";

/// Every supported date shape, one named alternative each (lower case: run
/// it on lower-cased text).
pub static DATE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?x)
        (?-u:\b)(?P<iy>[0-9]{{4}})[-/](?P<im>[0-9]{{1,2}})[-/](?P<id>[0-9]{{1,2}})(?:t[0-9]|(?-u:\b))
      | (?-u:\b)(?P<dd>[0-9]{{1,2}})\.[\t\n\x0B\x0C\r\x20]?(?P<dm>[0-9]{{1,2}})\.[\t\n\x0B\x0C\r\x20]?(?P<dy>[0-9]{{4}})(?-u:\b)
      | (?-u:\b)(?P<sa>[0-9]{{1,2}})[/-](?P<sb>[0-9]{{1,2}})[/-](?P<sy>[0-9]{{4}})(?-u:\b)
      | (?-u:\b)(?P<td>[0-9]{{1,2}})(?:st|nd|rd|th)?\.?[[\t\n\x0B\x0C\r\x20]-]+(?:of[\t\n\x0B\x0C\r\x20]+)?(?P<tm>{MONTHS})\.?,?[[\t\n\x0B\x0C\r\x20]-]+(?P<ty>[0-9]{{4}})(?-u:\b)
      | (?-u:\b)(?P<um>{MONTHS})\.?[\t\n\x0B\x0C\r\x20]+(?P<ud>[0-9]{{1,2}})(?:st|nd|rd|th)?,?[\t\n\x0B\x0C\r\x20]+(?P<uy>[0-9]{{4}})(?-u:\b)
    "
    ))
    .unwrap()
});

/// [`DATE_RE`] anchored at the start of the haystack: its match is
/// `DATE_RE`'s leftmost match where that starts at 0, and none otherwise,
/// with the same groups at the same indices (only a non-capturing group is
/// added). For the date right after a label, where `DATE_RE` ran its
/// prefilter and a reverse scan to find a start that must be 0 anyway.
static DATE_AT_START: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("^(?:{})", DATE_RE.as_str())).unwrap());

/// [`DATE_RE`] for scans of a whole text, as a meta regex without a
/// prefilter: the same matches. Its prefilter (the bytes a match can start
/// with: digits and month initials) fires at nearly every word of a
/// document, and restarting the lazy DFA there costs about twice what a
/// plain DFA scan does.
static DATE_SCAN: LazyLock<keywords::Regex> = LazyLock::new(|| {
    keywords::Regex::builder()
        .configure(keywords::Regex::config().auto_prefilter(false))
        .build(DATE_RE.as_str())
        .expect("DATE_RE compiles")
});

/// Day-month order for `a/b/yyyy` dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlashOrder {
    DayFirst,
    MonthFirst,
    /// No evidence: an ambiguous date (both parts ≤ 12 and different) is not guessed.
    Unknown,
}

/// Decides the slash order: unambiguous dates in the document win, then the
/// locale hint (`en-US`, `en_US` → month first; any other locale → day first).
/// `text` is lower-cased.
pub fn slash_order(text: &str, locale: Option<&str>) -> SlashOrder {
    let (mut day_first, mut month_first) = (false, false);
    // The matches `captures_iter` would give, without capture groups: a
    // match shaped `a/b/yyyy` (or with `-`) can only come from the slash
    // alternative (the others need four leading digits, a `.` or a month
    // name), and its `sa` and `sb` are then its two short numbers.
    for m in DATE_SCAN.find_iter(text) {
        if let Some((a, b)) = slash_parts(&text[m.range()]) {
            day_first |= a > 12 && b <= 12;
            month_first |= b > 12 && a <= 12;
        }
    }
    match (day_first, month_first) {
        (true, false) => return SlashOrder::DayFirst,
        (false, true) => return SlashOrder::MonthFirst,
        _ => {}
    }
    match locale {
        Some(l) => {
            let l = l.to_ascii_lowercase().replace('_', "-");
            let region = l.split('-').nth(1).unwrap_or("");
            if region == "us" || l == "us" { SlashOrder::MonthFirst } else { SlashOrder::DayFirst }
        }
        None => SlashOrder::Unknown,
    }
}

/// `(a, b)` of a whole `a/b/yyyy` or `a-b-yyyy` (`a`, `b`: one or two
/// ASCII digits, `yyyy` four), else `None`.
fn slash_parts(s: &str) -> Option<(u32, u32)> {
    let b = s.as_bytes();
    let num = |from: usize| {
        let n = b[from..].iter().take(3).take_while(|x| x.is_ascii_digit()).count();
        (1..=2).contains(&n).then(|| (b[from..from + n].iter().fold(0u32, |v, d| v * 10 + (d - b'0') as u32), from + n))
    };
    let (a, i) = num(0)?;
    let sep = *b.get(i).filter(|x| matches!(x, b'/' | b'-'))?;
    let (bb, j) = num(i + 1).filter(|_| i + 1 < b.len())?;
    let sep2 = *b.get(j).filter(|x| matches!(x, b'/' | b'-'))?;
    let _ = (sep, sep2);
    let year = &b[j + 1..];
    (year.len() == 4 && year.iter().all(u8::is_ascii_digit)).then_some((a, bb))
}

fn month_num(m: &str) -> Option<u32> {
    let m = m.to_ascii_lowercase();
    let idx = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        .iter()
        .position(|p| m.starts_with(p))?;
    Some(idx as u32 + 1)
}

fn ymd(y: &str, m: u32, d: &str) -> Option<NaiveDate> {
    let y: i32 = y.parse().ok()?;
    if !(1900..=2200).contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, d.parse().ok()?)
}

/// Indices of [`DATE_RE`]'s named groups, for `Captures::get`:
/// `Captures::name` hashes the name (SipHash) at every call, and a date
/// takes five to seven lookups.
struct DateGroups {
    iy: usize,
    im: usize,
    id: usize,
    dy: usize,
    dm: usize,
    dd: usize,
    sy: usize,
    sa: usize,
    sb: usize,
    ty: usize,
    tm: usize,
    td: usize,
    uy: usize,
    um: usize,
    ud: usize,
}

static GROUPS: LazyLock<DateGroups> = LazyLock::new(|| {
    let at = |name: &str| DATE_RE.capture_names().position(|n| n == Some(name)).expect("a DATE_RE group");
    DateGroups {
        iy: at("iy"),
        im: at("im"),
        id: at("id"),
        dy: at("dy"),
        dm: at("dm"),
        dd: at("dd"),
        sy: at("sy"),
        sa: at("sa"),
        sb: at("sb"),
        ty: at("ty"),
        tm: at("tm"),
        td: at("td"),
        uy: at("uy"),
        um: at("um"),
        ud: at("ud"),
    }
});

/// Which of [`DATE_RE`]'s alternatives matched, with the texts of its
/// groups: year, month and day in some order, as each shape writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parts<'a> {
    /// `iy`, `im`, `id`.
    Iso(&'a str, &'a str, &'a str),
    /// `dd`, `dm`, `dy`.
    Dotted(&'a str, &'a str, &'a str),
    /// `sa`, `sb`, `sy`.
    Slash(&'a str, &'a str, &'a str),
    /// `td`, `tm`, `ty`.
    DayMonth(&'a str, &'a str, &'a str),
    /// `um`, `ud`, `uy`.
    MonthDay(&'a str, &'a str, &'a str),
}

/// The [`Parts`] of a capture of [`DATE_RE`].
fn parts_of_captures<'a>(c: &regex::Captures<'a>) -> Option<Parts<'a>> {
    let g = &*GROUPS;
    // A group of the alternative that matched (`&c[name]` panicked likewise).
    let s = |i: usize| c.get(i).expect("a group of the matched alternative").as_str();
    Some(if c.get(g.iy).is_some() {
        Parts::Iso(s(g.iy), s(g.im), s(g.id))
    } else if c.get(g.dy).is_some() {
        Parts::Dotted(s(g.dd), s(g.dm), s(g.dy))
    } else if c.get(g.sy).is_some() {
        Parts::Slash(s(g.sa), s(g.sb), s(g.sy))
    } else if c.get(g.ty).is_some() {
        Parts::DayMonth(s(g.td), s(g.tm), s(g.ty))
    } else if c.get(g.uy).is_some() {
        Parts::MonthDay(s(g.um), s(g.ud), s(g.uy))
    } else {
        return None;
    })
}

/// The [`Parts`] of a [`DATE_RE`] match `m` (its text) read from its
/// bytes instead of a capture search (the bounded backtracker over the
/// match and its 15 groups). The shapes' texts are told apart by their
/// first digit run and their letters: four leading digits are ISO (the
/// others start with one or two), a leading letter is `March 12, 2026`,
/// other letters make `12 March 2026`, and of the all-digit shapes the
/// dotted one has a `.` after its first number. Each group is a whole run
/// of digits or letters (a bound of `\b`, a separator or a suffix follows
/// it): the numbers are the digit runs in order (ISO's `T10` suffix
/// comes fourth), the month is the first letter run of `March 12th` and
/// the last of `1st of March`. `None` for any other text.
fn parts_of_match(m: &str) -> Option<Parts<'_>> {
    let b = m.as_bytes();
    let runs = |is: fn(&u8) -> bool| {
        let mut i = 0;
        std::iter::from_fn(move || {
            i += b[i..].iter().take_while(|x| !is(x)).count();
            let n = b[i..].iter().take_while(|x| is(x)).count();
            (n > 0).then(|| {
                i += n;
                &m[i - n..i]
            })
        })
    };
    let mut digits = runs(u8::is_ascii_digit);
    let (d0, d1) = (digits.next()?, digits.next()?);
    let mut letters = runs(u8::is_ascii_alphabetic);
    Some(if b[0].is_ascii_alphabetic() {
        Parts::MonthDay(letters.next()?, d0, d1)
    } else if d0.len() == 4 {
        Parts::Iso(d0, d1, digits.next()?)
    } else if let Some(month) = letters.last() {
        Parts::DayMonth(d0, month, d1)
    } else if b.get(d0.len()) == Some(&b'.') {
        Parts::Dotted(d0, d1, digits.next()?)
    } else {
        Parts::Slash(d0, d1, digits.next()?)
    })
}

/// The date of [`Parts`], or `None` when invalid or ambiguous. `order` is
/// asked only for an ambiguous `a/b/yyyy` date (it costs a pass over the
/// document).
fn date_of(p: Parts, order: &dyn Fn() -> SlashOrder) -> Option<NaiveDate> {
    match p {
        Parts::Iso(y, m, d) => ymd(y, m.parse().ok()?, d),
        Parts::Dotted(d, m, y) => ymd(y, m.parse().ok()?, d),
        Parts::Slash(a, b, y) => {
            let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
            let (d, m) = if a > 12 {
                (a, b)
            } else if b > 12 || a == b {
                (b, a)
            } else {
                match order() {
                    SlashOrder::DayFirst => (a, b),
                    SlashOrder::MonthFirst => (b, a),
                    SlashOrder::Unknown => return None,
                }
            };
            ymd(y, m, &d.to_string())
        }
        Parts::DayMonth(d, m, y) | Parts::MonthDay(m, d, y) => ymd(y, month_num(m)?, d),
    }
}

/// Parses one regex match into a date, or `None` when invalid or ambiguous.
/// `order` is asked only for an ambiguous `a/b/yyyy` date (it costs a pass
/// over the document).
pub fn to_date(c: &regex::Captures, order: &dyn Fn() -> SlashOrder) -> Option<NaiveDate> {
    date_of(parts_of_captures(c)?, order)
}

/// [`to_date`] of the [`DATE_RE`] match whose text is `m`, without its
/// capture groups ([`parts_of_match`]); the capture search where the
/// bytes do not tell.
fn match_to_date(hay: &str, m: std::ops::Range<usize>, order: &dyn Fn() -> SlashOrder) -> Option<NaiveDate> {
    match parts_of_match(&hay[m.clone()]) {
        Some(p) => date_of(p, order),
        None => to_date(&DATE_RE.captures_at(hay, m.start)?, order),
    }
}

/// All dates in lower-cased `text` with their byte offsets.
/// (The matches `DATE_RE.captures_iter` gives: each found by [`DATE_SCAN`],
/// its groups by a capture search from its start, where it is the leftmost
/// match.)
pub fn dates_in(text: &str, order: &dyn Fn() -> SlashOrder) -> Vec<(usize, NaiveDate)> {
    DATE_SCAN
        .find_iter(text)
        .filter_map(|m| Some((m.start(), match_to_date(text, m.range(), order)?)))
        .collect()
}

/// Labels that introduce the document date, most specific first; a label
/// must be followed (after `:`, `|`, spaces or a line break) by the date.
/// They are searched only at [`label_starts`].
static LABELED_RE: LazyLock<[keywords::Regex; 2]> = LazyLock::new(|| {
    let tail = r"[[\t\n\x0B\x0C\r\x20]:|.,#\-]{0,40}(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?[\t\n\x0B\x0C\r\x20]*)?";
    [
        keywords::regex(&format!(
            r"(?-u:\b)(?:invoice[[\t\n\x0B\x0C\r\x20]_.]*date|date[[\t\n\x0B\x0C\r\x20]_]+of[[\t\n\x0B\x0C\r\x20]_]+(?:issue|invoice)|issue[[\t\n\x0B\x0C\r\x20]_.]*date|issued(?:[[\t\n\x0B\x0C\r\x20]_]+on)?|receipt[[\t\n\x0B\x0C\r\x20]_.]*date|document[[\t\n\x0B\x0C\r\x20]_.]*date|effective[[\t\n\x0B\x0C\r\x20]_.]*date|dated|made[[\t\n\x0B\x0C\r\x20]_]+on|entered[[\t\n\x0B\x0C\r\x20]_]+into[[\t\n\x0B\x0C\r\x20]_]+(?:on|as[[\t\n\x0B\x0C\r\x20]_]+of)|as[[\t\n\x0B\x0C\r\x20]_]+of|invoicedate|issuedate){tail}"
        )),
        keywords::regex(&format!(r"(?m)(?:^|[[\t\n\x0B\x0C\r\x20]|.])(?:date|datum|sent){tail}")),
    ]
});

/// The words each of [`LABELED_RE`] starts with (the first right after
/// `\b`; the second one byte after the match start, or at it after `^`).
static LABEL_WORDS: LazyLock<[keywords::Mask; 2]> = LazyLock::new(|| {
    [
        keywords::mask(&[
            "invoice", "date", "issue", "receipt", "document", "effective", "made", "entered", "as ", "as\t", "as\n",
            "as\x0b", "as\x0c", "as\r", "as_",
        ]),
        keywords::mask(&["date", "datum", "sent"]),
    ]
});

/// Where a [`LABELED_RE`] match of `rank` can start, ascending.
fn label_starts(f: Folded, rank: usize) -> Vec<usize> {
    let words = f.starts(LABEL_WORDS[rank]);
    if rank == 0 {
        // Every match starts with `\b` before a letter.
        let b = f.lower.as_bytes();
        return words.filter(|&p| keywords::word_start(b, p) && may_be_date_label(b, p)).collect();
    }
    let mut out: Vec<usize> = words.flat_map(|p| [p.saturating_sub(1), p]).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether [`LABELED_RE`]`[0]` can match at `p` (a label word's start), as
/// far as a byte test tells: at `invoice`, `receipt`, `document` and
/// `effective` its only alternatives are `word[\s_.]*date`, so a match
/// needs `date` after the word's run of blanks, `_` and `.` (which `date`
/// holds none of); other words are left to the regex. Spares the anchored
/// search at every `invoice` of running text.
fn may_be_date_label(lower: &[u8], p: usize) -> bool {
    for w in ["invoice", "receipt", "document", "effective"] {
        if lower[p..].starts_with(w.as_bytes()) {
            let rest = &lower[p + w.len()..];
            let blanks = rest.iter().take_while(|b| matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ' | b'_' | b'.')).count();
            return rest[blanks..].starts_with(b"date");
        }
    }
    true
}

/// Words in the 40 bytes before a plain `date` label that make it some other date.
const OTHER_DATES: [&str; 7] = ["due", "delivery", "service", "birth", "expiry", "ship", "payment"];

/// The document date: a labelled date (most specific label first, earliest
/// occurrence), else the only distinct date in the text, else `None`.
pub fn document_date(f: Folded, locale: Option<&str>) -> Option<String> {
    let text = f.lower;
    let order = LazyCell::new(|| slash_order(text, locale));
    let order = || *order;
    for (rank, re) in LABELED_RE.iter().enumerate() {
        if rank == 1 && !f.has(super::keywords::words!["date", "datum", "sent"]) {
            continue;
        }
        for m in keywords::anchored_matches(re, text, label_starts(f, rank)) {
            if rank == 1 {
                let window = &text[ceil_char(text, m.start.saturating_sub(16))..m.start];
                // (`contains` for each word, in one pass over the short window.)
                if (0..window.len()).any(|i| OTHER_DATES.iter().any(|w| window.as_bytes()[i..].starts_with(w.as_bytes()))) {
                    continue;
                }
            }
            let rest = &text[m.end..];
            let rest = &rest[..floor_char(rest, 48)];
            if let Some(m) = DATE_AT_START.find(rest) {
                if let Some(d) = match_to_date(rest, m.range(), &order) {
                    return Some(iso(d));
                }
            }
        }
    }
    let mut all: Vec<NaiveDate> = dates_in(text, &order).into_iter().map(|(_, d)| d).collect();
    all.sort();
    all.dedup();
    match all.as_slice() {
        [only] => Some(iso(*only)),
        _ => None,
    }
}

/// `YYYY-MM-DD`, as chrono's `%Y-%m-%d` writes the years [`ymd`] allows,
/// without parsing a format string per date.
fn iso(d: NaiveDate) -> String {
    let (y, m, day) = (d.year().unsigned_abs(), d.month(), d.day());
    let mut s = String::with_capacity(10);
    for (v, width) in [(y, 4), (m, 2), (day, 2)] {
        if !s.is_empty() {
            s.push('-');
        }
        for k in (0..width).rev() {
            s.push(char::from(b'0' + (v / 10u32.pow(k) % 10) as u8));
        }
    }
    s
}

/// Smallest char boundary ≥ `n`.
pub fn ceil_char(s: &str, n: usize) -> usize {
    let mut n = n.min(s.len());
    while !s.is_char_boundary(n) {
        n += 1;
    }
    n
}

/// Largest char boundary ≤ `n`.
pub fn floor_char(s: &str, n: usize) -> usize {
    let mut n = n.min(s.len());
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    n
}

#[cfg(test)]
mod tests {
    fn document_date(t: &str, locale: Option<&str>) -> Option<String> {
        super::super::with_folded(t, |f| super::document_date(f, locale))
    }

    /// `to_date` as it was: groups read by name.
    fn to_date_by_name(c: &regex::Captures, order: super::SlashOrder) -> Option<chrono::NaiveDate> {
        use super::{month_num, ymd, SlashOrder};
        if let Some(y) = c.name("iy") {
            return ymd(y.as_str(), c["im"].parse().ok()?, &c["id"]);
        }
        if let Some(y) = c.name("dy") {
            return ymd(y.as_str(), c["dm"].parse().ok()?, &c["dd"]);
        }
        if let Some(y) = c.name("sy") {
            let (a, b): (u32, u32) = (c["sa"].parse().ok()?, c["sb"].parse().ok()?);
            let (d, m) = if a > 12 {
                (a, b)
            } else if b > 12 || a == b {
                (b, a)
            } else {
                match order {
                    SlashOrder::DayFirst => (a, b),
                    SlashOrder::MonthFirst => (b, a),
                    SlashOrder::Unknown => return None,
                }
            };
            return ymd(y.as_str(), m, &d.to_string());
        }
        if let Some(y) = c.name("ty") {
            return ymd(y.as_str(), month_num(&c["tm"])?, &c["td"]);
        }
        if let Some(y) = c.name("uy") {
            return ymd(y.as_str(), month_num(&c["um"])?, &c["ud"]);
        }
        None
    }

    #[test]
    fn date_at_start_equals_a_leftmost_match_at_0() {
        let at = &*super::DATE_AT_START;
        assert!(at.capture_names().eq(super::DATE_RE.capture_names()));
        let pieces = ["", " ", "12", "2026", "-", "/", ".", "03", "march", "mar.", "1st", "of", ",", "x", "12.03.2026", "t1", "é"];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in ["", "/2026", " 2026", "-2026", ".2026", "/03/2026 5"] {
                        let t = format!("{a}{b}{c}{d}");
                        let want = super::DATE_RE.captures(&t).filter(|c| c.get(0).unwrap().start() == 0);
                        let got = at.captures(&t);
                        let spans = |c: &regex::Captures| c.iter().map(|g| g.map(|m| m.range())).collect::<Vec<_>>();
                        assert_eq!(got.as_ref().map(spans), want.as_ref().map(spans), "{t:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn parts_of_a_match_equal_its_capture_groups() {
        let pieces = [
            "", " ", "12", "1", "2026", "0000", "-", "/", ".", ". ", "03", "march", "mar.", "sept", "june", "1st", "2nd", "th",
            "of ", ",", "x", "t1", "é", "12.03.2026", "2026-03-12t10", "march 12th, 2026", "1st of jan. 2026",
        ];
        let mut n = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in ["", "/2026", " 2026", "-2026", ".2026", ", 2026"] {
                        let t = format!("{a}{b}{c}{d}");
                        for caps in super::DATE_RE.captures_iter(&t) {
                            let m = caps.get(0).unwrap().as_str();
                            assert_eq!(super::parts_of_match(m), super::parts_of_captures(&caps), "{t:?}: {m:?}");
                            n += 1;
                        }
                    }
                }
            }
        }
        assert!(n > 5_000, "{n}");
    }

    #[test]
    fn group_indices_equal_group_names() {
        use super::SlashOrder;
        let texts = [
            "2026-03-12", "2026/3/1t0", "12.03.2026", "1. 3. 2026", "03/04/2026", "13-04-2026", "04/13/2026", "4/4/2026",
            "12 march 2026", "1st of jan. 2026", "12-mar-2026", "march 12, 2026", "sept 3rd 2026", "0000-99-99", "31.02.2026",
            "99/99/9999", "30 feb 2026", "dec 40, 2026", "2026-13-45", "1/2/1800",
        ];
        for t in texts {
            for c in super::DATE_RE.captures_iter(t) {
                for order in [SlashOrder::DayFirst, SlashOrder::MonthFirst, SlashOrder::Unknown] {
                    assert_eq!(super::to_date(&c, &|| order), to_date_by_name(&c, order), "{t} {order:?}");
                }
            }
        }
    }

    #[test]
    fn date_scan_equals_date_re() {
        use super::*;
        let pieces = ["", " ", "\n", "x", "12", "3", "2026", "/", "-", ".", ". ", "t1", "march", "mar.", "of ", "st", ",", "é", "_", "13/04/2026",
            "2026-03-04", "4.5.2026", "12 march 2026", "march 12, 2026", "03/04/2026", "1999"];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in ["", " 2026", "/2026", "x"] {
                        let t = format!("{a}{b}{c}{d}");
                        let old: Vec<_> = DATE_RE.find_iter(&t).map(|m| m.range()).collect();
                        let new: Vec<_> = DATE_SCAN.find_iter(&t).map(|m| m.range()).collect();
                        assert_eq!(new, old, "{t:?}");
                        let unknown = || SlashOrder::DayFirst;
                        let old: Vec<_> = DATE_RE.captures_iter(&t).filter_map(|c| Some((c.get(0)?.start(), to_date(&c, &unknown)?))).collect();
                        assert_eq!(dates_in(&t, &unknown), old, "{t:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn date_label_precheck_never_refuses_a_match() {
        let re = &super::LABELED_RE[0];
        for t in [
            "invoice date", "invoice_date", "invoice. \n date", "invoicedate", "invoice number", "invoice no", "invoice",
            "receipt date", "receipt no", "document.date", "documents", "effective date", "effective as of", "invoice__..date x",
        ] {
            let input = regex_automata::Input::new(t).anchored(regex_automata::Anchored::Yes);
            let matches = re.search_half(&input).is_some();
            assert!(!matches || super::may_be_date_label(t.as_bytes(), 0), "{t:?}");
            assert_eq!(super::may_be_date_label(t.as_bytes(), 0), matches, "{t:?}");
        }
    }

    #[test]
    fn slash_parts_equal_the_slash_groups() {
        let re = &*super::DATE_RE;
        for t in ["1/2/2026", "12-31-2026", "03/04/2026", "1/2/20260", "123/4/2026", "2026-03-12", "12.03.2026", "1/2-2026", "12 mar 2026", "1//2026", "5/6/2026 ", "a/b/cdef"] {
            let want = re.captures(t).filter(|c| c.get(0).unwrap().range() == (0..t.len())).and_then(|c| {
                Some((c.name("sa")?.as_str().parse::<u32>().unwrap(), c.name("sb")?.as_str().parse::<u32>().unwrap()))
            });
            assert_eq!(super::slash_parts(t), want, "{t}");
        }
    }

    #[test]
    fn iso_equals_chrono() {
        for (y, m, d) in [(1900, 1, 1), (2026, 3, 12), (2200, 12, 31), (1999, 10, 5)] {
            let date = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(super::iso(date), date.format("%Y-%m-%d").to_string());
        }
    }

    #[test]
    fn shapes() {
        for (t, want) in [
            ("Date: 2026-03-12", "2026-03-12"),
            ("Date: 12.03.2026", "2026-03-12"),
            ("Invoice date: 12 March 2026", "2026-03-12"),
            ("Dated March 12th, 2026", "2026-03-12"),
            ("Date 12-Mar-2026", "2026-03-12"),
            ("Date: 2026/03/12", "2026-03-12"),
            ("Date: 25/03/2026", "2026-03-25"),
        ] {
            assert_eq!(document_date(t, None).as_deref(), Some(want), "{t}");
        }
    }

    #[test]
    fn ambiguity_needs_evidence() {
        assert_eq!(document_date("Date: 03/04/2026", None), None);
        assert_eq!(document_date("Date: 03/04/2026", Some("en-US")).as_deref(), Some("2026-03-04"));
        assert_eq!(document_date("Date: 03/04/2026", Some("de-DE")).as_deref(), Some("2026-04-03"));
        assert_eq!(document_date("Date: 03/04/2026\nDue date: 03/25/2026", None).as_deref(), Some("2026-03-04"));
    }

    #[test]
    fn due_date_is_not_the_document_date() {
        assert_eq!(document_date("Due date: 2026-04-01\nInvoice date: 2026-03-01", None).as_deref(), Some("2026-03-01"));
        assert_eq!(document_date("Due date: 2026-04-01\nDate: 2026-03-01", None).as_deref(), Some("2026-03-01"));
        assert_eq!(document_date("Due date: 2026-04-01\nShip by 2026-04-03", None), None);
    }
}
