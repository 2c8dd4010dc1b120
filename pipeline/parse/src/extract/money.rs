//! Amounts and currencies: locale-tolerant number parsing (`1.234,56`,
//! `1,234.56`, `1'234.56`), currency symbols/codes/names, and the stated
//! total due.

use rust_decimal::Decimal;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

/// ISO 4217 codes recognised as currency markers in running text.
pub const CODES: [&str; 18] = [
    "EUR", "USD", "GBP", "CHF", "JPY", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "INR", "CNY",
    "NZD", "SGD", "HKD",
];

/// A currency marker (symbol, code or name) → ISO 4217.
pub fn currency_of(marker: &str) -> Option<&'static str> {
    let m = marker.trim().trim_end_matches('.');
    let up = m.to_ascii_uppercase();
    if let Some(c) = CODES.iter().find(|c| **c == up) {
        return Some(c);
    }
    Some(match m {
        "€" => "EUR",
        "£" => "GBP",
        "¥" => "JPY",
        "$" | "US$" => "USD",
        "CA$" | "C$" => "CAD",
        "A$" | "AU$" => "AUD",
        _ => match m.to_lowercase().as_str() {
            "euro" | "euros" => "EUR",
            "dollar" | "dollars" | "us dollars" | "us dollar" => "USD",
            "pound" | "pounds" | "pounds sterling" | "pound sterling" | "sterling" => "GBP",
            "swiss franc" | "swiss francs" | "chf" => "CHF",
            "yen" => "JPY",
            _ => return None,
        },
    })
}

/// Currency markers in text: symbols, ISO codes (whole words), names.
pub static CURRENCY_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i:(?-u:\b)(?:us dollars?|dollars?|euros?|pounds? sterling|pounds?|swiss francs?|yen)(?-u:\b))|(?:US|CA|AU|[CA])?\$|€|£|¥|(?-u:\b)(?:{})(?-u:\b)",
        CODES.join("|")
    ))
    .unwrap()
});

/// A number as written in a document: digits with optional grouping and a
/// decimal part. Grouped forms come first so `1.234,56` is one match.
/// Space-grouped numbers (`12 000,00`) need their decimals, and count only
/// next to a currency marker (see [`amounts`]).
pub const NUM: &str = r"(?:[0-9]{1,3}(?:[ \u{a0}\u{202f}][0-9]{3})+[.,][0-9]{2}|[0-9]{1,3}(?:[.,'’][0-9]{3})+(?:[.,][0-9]{1,2})?|[0-9]+(?:[.,][0-9]{1,2})?)";

/// [`NUM`] without the space-grouped form.
const NUM_PLAIN: &str = r"(?:[0-9]{1,3}(?:[.,'’][0-9]{3})+(?:[.,][0-9]{1,2})?|[0-9]+(?:[.,][0-9]{1,2})?)";

static PLAIN_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(NUM_PLAIN).unwrap());

/// An amount with an optional currency marker before or after.
pub static AMOUNT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?P<pre>(?:US|CA|AU|[CA])?\$|€|£|¥|(?-u:\b)(?:{codes})(?-u:\b))?[\t\n\x0B\x0C\r\x20]?(?P<sign>-)?(?P<num>{NUM})(?:[\t\n\x0B\x0C\r\x20]?(?P<post>€|£|\$|¥|(?-u:\b)(?:{codes})(?-u:\b)|(?i:euros?|dollars?|pounds?)(?-u:\b)))?",
        codes = CODES.join("|")
    ))
    .unwrap()
});

/// Parses a number written with any common grouping/decimal convention.
/// A single separator followed by exactly three digits is a thousands
/// separator (`1.234` = 1234, `1,234` = 1234); otherwise the last `.` or `,`
/// is the decimal separator.
pub fn parse_number(s: &str) -> Option<Decimal> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r.trim_start()),
        None => (false, s),
    };
    if s.is_empty() || !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if let Some(d) = ascii_number(s.as_bytes()) {
        return Some(if neg { -d } else { d });
    }
    parse_general(s, neg)
}

/// [`parse_number`]'s digits of an ASCII number (separators `.`, `,`, `'`
/// and space) with at most 18 digits, a decimal separator followed by a
/// digit or none: the same decision on the decimal separator, the mantissa
/// and scale computed in one pass over the bytes (what [`small_decimal`]
/// gives for the digits the general path writes). `None` for anything else
/// (an invalid byte included): the general path then decides.
fn ascii_number(b: &[u8]) -> Option<Decimal> {
    let is_sep = |c: u8| matches!(c, b'.' | b',' | b'\'' | b' ');
    let decimal_at = match b.iter().rposition(|&c| is_sep(c) || c >= 0x80) {
        None => None,
        Some(i) if b[i] >= 0x80 => return None,
        Some(i) if b[i] == b'.' || b[i] == b',' => {
            let c = b[i];
            let after = b.len() - i - 1;
            let (mut same_kind, mut mixed) = (0usize, false);
            for &d in b.iter().filter(|&&d| is_sep(d)) {
                if d == c {
                    same_kind += 1;
                } else {
                    mixed = true;
                }
            }
            if mixed || (same_kind == 1 && after != 3) {
                Some(i)
            } else {
                None
            }
        }
        Some(_) => None,
    };
    let (mut mantissa, mut digits, mut scale, mut dot) = (0i64, 0u32, 0u32, false);
    for (i, &c) in b.iter().enumerate() {
        if c.is_ascii_digit() {
            digits += 1;
            if digits > 18 {
                return None;
            }
            mantissa = mantissa * 10 + (c - b'0') as i64;
            scale += dot as u32;
        } else if Some(i) == decimal_at {
            dot = true;
        } else if !is_sep(c) {
            return None;
        }
    }
    if dot && scale == 0 {
        return None;
    }
    Some(Decimal::new(mantissa, scale))
}

/// [`parse_number`] for any text (after the sign and the first-digit test).
fn parse_general(s: &str, neg: bool) -> Option<Decimal> {
    let is_sep = |c: char| matches!(c, '.' | ',' | '\'' | '’' | ' ' | '\u{a0}' | '\u{202f}');
    // The last separator, then how many of its kind there are and whether
    // others are mixed in: no list of them is kept.
    let last = s.char_indices().rev().find(|&(_, c)| is_sep(c));
    let decimal_at = match last {
        None => None,
        Some((i, c)) if c == '.' || c == ',' => {
            let after = s.len() - i - 1;
            let (mut same_kind, mut mixed) = (0usize, false);
            for d in s.chars().filter(|&d| is_sep(d)) {
                if d == c {
                    same_kind += 1;
                } else {
                    mixed = true;
                }
            }
            if mixed || (same_kind == 1 && after != 3) {
                Some(i)
            } else {
                None
            }
        }
        Some(_) => None,
    };
    // The digits (and the decimal point) go to a stack buffer: numbers in
    // documents are short; a longer one takes the heap.
    let mut stack = [0u8; 64];
    let mut heap = Vec::new();
    let mut n = 0usize;
    let mut put = |b: u8| {
        if n < stack.len() {
            stack[n] = b;
        } else {
            if heap.is_empty() {
                heap.extend_from_slice(&stack);
            }
            heap.push(b);
        }
        n += 1;
    };
    for (i, c) in s.char_indices() {
        if c.is_ascii_digit() {
            put(c as u8);
        } else if Some(i) == decimal_at {
            put(b'.');
        } else if is_sep(c) {
            continue;
        } else {
            return None;
        }
    }
    let digits = if n <= stack.len() { &stack[..n] } else { &heap[..] };
    let d = match small_decimal(digits) {
        Some(d) => d,
        // ASCII digits and at most one `.`: valid UTF-8.
        None => Decimal::from_str(std::str::from_utf8(digits).ok()?).ok()?,
    };
    Some(if neg { -d } else { d })
}

/// `Decimal::from_str` of up to 18 ASCII digits with an optional `.` and at
/// least one digit after it (what `parse_number` writes for amounts):
/// mantissa and scale directly, the same value and scale. `None` for any
/// other shape (the caller then parses the text).
fn small_decimal(digits: &[u8]) -> Option<Decimal> {
    let (int, frac) = match digits.iter().position(|&b| b == b'.') {
        Some(i) => (&digits[..i], &digits[i + 1..]),
        None => (digits, &digits[digits.len()..]),
    };
    let dot = int.len() < digits.len();
    if int.is_empty() || int.len() + frac.len() > 18 || dot && frac.is_empty() {
        return None;
    }
    let mut mantissa = 0i64;
    for &b in int.iter().chain(frac) {
        if !b.is_ascii_digit() {
            return None;
        }
        mantissa = mantissa * 10 + (b - b'0') as i64;
    }
    Some(Decimal::new(mantissa, frac.len() as u32))
}

/// Currency markers that [`CURRENCY_RE`] matches exactly as written, for
/// [`strip_edge_markers`]: symbols (longest first) and the ISO codes.
const EDGE_SYMBOLS: [&str; 9] = ["US$", "CA$", "AU$", "C$", "A$", "$", "€", "£", "¥"];

/// A cell's text with [`CURRENCY_RE`]'s matches removed, as
/// `CURRENCY_RE.replace_all(cell, "")` gives it, for the common shapes
/// `EUR 1.234,56`, `€1.000,00`, `12.00 USD`: at most one marker at each end
/// and nothing between them but ASCII digits, `.`, `,`, `'`, `-` and
/// spaces (where no match can start or end). `None` for any other shape
/// (the caller then runs the regex).
pub fn strip_edge_markers(cell: &str) -> Option<&str> {
    fn is_word(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b == b'_'
    }
    let b = cell.as_bytes();
    // A marker at the start: a symbol, or a code followed by a word boundary.
    let mut start = 0;
    if let Some(sym) = EDGE_SYMBOLS.iter().find(|m| cell.starts_with(**m)) {
        start = sym.len();
    } else if b.len() >= 3 && is_code(&b[..3]) && b.get(3).is_none_or(|&x| !is_word(x)) {
        start = 3;
    }
    let rest = &cell[start..];
    let r = rest.as_bytes();
    // A marker at the end: a code preceded by a word boundary, or a symbol.
    let mut end = rest.len();
    if r.len() >= 3 && is_code(&r[r.len() - 3..]) && (r.len() == 3 || !is_word(r[r.len() - 4])) {
        end = r.len() - 3;
    } else if let Some(sym) = EDGE_SYMBOLS.iter().find(|m| rest.ends_with(**m)) {
        // `5 C$`: the regex takes the longest symbol starting leftmost, and
        // what precedes the symbol here is no letter (checked below), so
        // the symbol found longest-first is that match.
        end = rest.len() - sym.len();
    }
    let mid = &rest[..end];
    mid.bytes().all(|x| x.is_ascii_digit() || matches!(x, b'.' | b',' | b'\'' | b'-' | b' ')).then_some(mid)
}

/// [`CODES`] as three-byte numbers (`[b0, b1, b2, 0]`, little-endian).
static CODE_KEYS: LazyLock<[u32; CODES.len()]> =
    LazyLock::new(|| CODES.map(|c| u32::from_le_bytes([c.as_bytes()[0], c.as_bytes()[1], c.as_bytes()[2], 0])));

/// Whether three bytes are one of [`CODES`]: one number compared per code,
/// where a slice comparison per code called `memcmp` (cells are tested at
/// both ends, two cells a line item).
fn is_code(three: &[u8]) -> bool {
    let key = u32::from_le_bytes([three[0], three[1], three[2], 0]);
    CODE_KEYS.contains(&key)
}

/// An amount found in a line: value, currency if marked, byte span.
#[derive(Debug, Clone, PartialEq)]
pub struct Amount {
    pub value: Decimal,
    pub currency: Option<&'static str>,
    pub start: usize,
    pub end: usize,
}

/// The groups of one [`AMOUNT_RE`] match, read from the match's bytes
/// instead of a capture search: `pre` holds no ASCII whitespace, `-` or
/// digit; one whitespace byte may follow it, then `-`, then `num`, which
/// starts and ends with a digit; `post` (after one optional whitespace
/// byte) holds no digit. So `num` ends after the match's last digit, `pre`
/// ends at its first whitespace, `-` or digit, and the rest follows.
#[derive(Debug, Clone, PartialEq)]
struct AmountMatch {
    start: usize,
    end: usize,
    pre: Option<std::ops::Range<usize>>,
    sign: Option<std::ops::Range<usize>>,
    num: std::ops::Range<usize>,
    post: Option<std::ops::Range<usize>>,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ')
}

/// [`AmountMatch`] of `AMOUNT_RE.captures_at(hay, at)`, from `find_at`.
fn amount_at(hay: &str, at: usize) -> Option<AmountMatch> {
    let m = AMOUNT_RE.find_at(hay, at)?;
    let (s, e) = (m.start(), m.end());
    let b = &hay.as_bytes()[s..e];
    let pre_end = b.iter().position(|&x| is_ws(x) || x == b'-' || x.is_ascii_digit()).unwrap_or(b.len());
    let mut i = pre_end;
    if i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    let sign = (i < b.len() && b[i] == b'-').then(|| {
        i += 1;
        s + i - 1..s + i
    });
    let num_end = b.iter().rposition(u8::is_ascii_digit).map_or(b.len(), |j| j + 1);
    let post_start = if num_end < b.len() && is_ws(b[num_end]) { num_end + 1 } else { num_end };
    Some(AmountMatch {
        start: s,
        end: e,
        pre: (pre_end > 0).then_some(s..s + pre_end),
        sign,
        num: s + i..s + num_end,
        post: (post_start < b.len()).then_some(s + post_start..e),
    })
}

/// `1 234,56` (or with a no-break space): thousands grouped by spaces and
/// a decimal comma, the French and Nordic way of writing one amount. (With
/// a decimal point, `2 149.00` stays a quantity and a price.)
fn space_grouped_comma_decimal(num: &str) -> bool {
    let Some((int, frac)) = num.rsplit_once(',') else { return false };
    let mut groups = int.split([' ', '\u{a0}', '\u{202f}']);
    let first = groups.next().unwrap_or("");
    frac.len() == 2
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (1..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_digit())
        && groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
}

/// Amounts in a piece of text, skipping numbers glued to letters (`A4`, `INV-12`).
pub fn amounts(text: &str) -> Vec<Amount> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(c) = amount_at(text, pos) {
        // `NOK 1 200,00 NOK 12 000,00`: a code after an amount that already
        // has one belongs to the next amount.
        pos = match (&c.pre, &c.post) {
            (Some(_), Some(post)) => post.start,
            _ => c.end, // matches are never empty: progress guaranteed
        };
        let c = if c.pre.is_some() && c.post.is_some() {
            // Re-match the span without the trailing code.
            match amount_at(&text[..pos], c.start).filter(|x| x.start == c.start) {
                Some(x) => x,
                None => c,
            }
        } else {
            c
        };
        let num = &text[c.num.clone()];
        if num.contains([' ', '\u{a0}', '\u{202f}']) && c.pre.is_none() && c.post.is_none() && !space_grouped_comma_decimal(num) {
            // `2 149.00` without a currency: two numbers, not one.
            for p in PLAIN_RE.find_iter(num) {
                if let Some(value) = parse_number(p.as_str()) {
                    let (start, end) = (c.num.start + p.start(), c.num.start + p.end());
                    out.push(Amount { value, currency: None, start, end });
                }
            }
            continue;
        }
        let before = text[..c.num.start].chars().next_back();
        let after = text[c.num.end..].chars().next();
        // `$11.99/month`, `€4.50/kg`: a price per unit, not a piece of a date.
        let per_unit = c.pre.is_some() && text[c.num.end..].strip_prefix('/').is_some_and(|r| r.starts_with(char::is_alphabetic));
        if before.is_some_and(|b| b.is_alphanumeric() || b == '-' && c.sign.is_none() || b == '/' || b == '#')
            || after.is_some_and(|a| a.is_alphanumeric() && c.post.is_none() || a == '/' && !per_unit || a == '-' || a == '%')
            || glued_digits(&text[c.num.end..])
        {
            continue;
        }
        if let Some(sign) = &c.sign {
            if text[..sign.start].chars().next_back().is_some_and(|b| b.is_alphanumeric()) {
                continue; // `INV-12`: a hyphen, not a minus
            }
        }
        let Some(mut value) = parse_number(num) else { continue };
        if c.sign.is_some() {
            value = -value;
        }
        let currency = c.pre.clone().or(c.post.clone()).and_then(|r| currency_of(&text[r]));
        out.push(Amount { value, currency, start: c.start, end: c.end });
    }
    out
}

/// `.5` or `,5` right after a number: it is part of something longer (a date, a version).
fn glued_digits(rest: &str) -> bool {
    let b = rest.as_bytes();
    b.len() >= 2 && matches!(b[0], b'.' | b',') && b[1].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros_free::d;

    mod rust_decimal_macros_free {
        pub fn d(s: &str) -> rust_decimal::Decimal {
            s.parse().unwrap()
        }
    }

    #[test]
    fn number_conventions() {
        assert_eq!(parse_number("1.234,56"), Some(d("1234.56")));
        assert_eq!(parse_number("1,234.56"), Some(d("1234.56")));
        assert_eq!(parse_number("1'234.5"), Some(d("1234.5")));
        assert_eq!(parse_number("1234,5"), Some(d("1234.5")));
        assert_eq!(parse_number("1.234"), Some(d("1234")));
        assert_eq!(parse_number("12.34"), Some(d("12.34")));
        assert_eq!(parse_number("1.234.567,00"), Some(d("1234567.00")));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("12 000,00"), Some(d("12000.00")));
    }

    #[test]
    fn a_price_per_unit_is_an_amount_but_a_date_is_not() {
        let values = |t: &str| amounts(t).into_iter().map(|a| a.value.to_string()).collect::<Vec<_>>();
        assert_eq!(values("Total: $12.93/month"), ["12.93"]);
        assert_eq!(values("Apples €4.50/kg"), ["4.50"]);
        assert!(values("Date 12.03/2026").is_empty());
        assert!(values("Ref 12.50/A").is_empty());
    }

    #[test]
    fn code_keys_equal_the_code_list() {
        for a in (b'A'..=b'Z').chain([b'a', b'0', b' ', 0, 0xc3]) {
            for b in (b'A'..=b'Z').chain([b'u', b'1']) {
                for c in (b'A'..=b'Z').chain([b'd', b'$']) {
                    let t = [a, b, c];
                    assert_eq!(is_code(&t), CODES.iter().any(|x| x.as_bytes() == t), "{t:?}");
                }
            }
        }
    }

    #[test]
    fn edge_markers_strip_like_the_regex() {
        for cell in [
            "GBP 683.70", "683.70 GBP", "€1.000,00", "5,00 €", "$ 12.00", "US$12", "CA$ 5", "5 C$", "5 A$", "EUR-5",
            "EUR5", "5EUR", "5 AUSD", "5 AUS$", "GBP 1'006.62", "12 000,00 NOK", "£ 5.96", "¥500", "EURO 5", "5 euros",
            "12 EUR 34", "USD", "$", "", "1.5", "-3 CHF", "CHF-3", "5 $US", "JPY 5 JPY", "5€", "A$5", "C$5 C$",
        ] {
            let want = CURRENCY_RE.replace_all(cell, "");
            if let Some(got) = strip_edge_markers(cell) {
                assert_eq!(got, want, "{cell}");
            }
        }
        assert_eq!(strip_edge_markers("GBP 683.70"), Some(" 683.70"));
        assert_eq!(strip_edge_markers("5,00 €"), Some("5,00 "));
        assert_eq!(strip_edge_markers("EUR5"), None);
    }

    /// `parse_number` as it was before the allocation-free rewrite.
    fn parse_number_old(s: &str) -> Option<Decimal> {
        let s = s.trim();
        let (neg, s) = match s.strip_prefix('-') {
            Some(r) => (true, r.trim_start()),
            None => (false, s),
        };
        if s.is_empty() || !s.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let mut digits = String::with_capacity(s.len());
        let seps: Vec<(usize, char)> =
            s.char_indices().filter(|(_, c)| matches!(c, '.' | ',' | '\'' | '’' | ' ' | '\u{a0}' | '\u{202f}')).collect();
        let decimal_at = match seps.last() {
            None => None,
            Some(&(i, c)) if c == '.' || c == ',' => {
                let after = s.len() - i - 1;
                let same_kind = seps.iter().filter(|(_, d)| *d == c).count();
                let mixed = seps.iter().any(|(_, d)| *d != c);
                if mixed || (same_kind == 1 && after != 3) { Some(i) } else { None }
            }
            Some(_) => None,
        };
        for (i, c) in s.char_indices() {
            if c.is_ascii_digit() {
                digits.push(c);
            } else if Some(i) == decimal_at {
                digits.push('.');
            } else if matches!(c, '.' | ',' | '\'' | '’' | ' ' | '\u{a0}' | '\u{202f}') {
                continue;
            } else {
                return None;
            }
        }
        let d = Decimal::from_str(&digits).ok()?;
        Some(if neg { -d } else { d })
    }

    #[test]
    fn ascii_numbers_equal_the_general_path() {
        let pieces = ["", "0", "1", "12", "123", "1234", ".", ",", "'", " ", "  ", "-", "x", "é", "’", "\u{a0}", "00", "999999999"];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in ["", "5", ".5", ",50", "9999999999"] {
                        let s = format!("1{a}{b}{c}{d}");
                        let fast = ascii_number(s.as_bytes());
                        if let Some(f) = fast {
                            let g = parse_general(&s, false).expect("the general path parses it too");
                            assert_eq!(format!("{f:?}"), format!("{g:?}"), "{s:?}");
                            assert_eq!(f.scale(), g.scale(), "{s:?}");
                        }
                        for neg in ["", "-", "- "] {
                            let t = format!("{neg}{s}");
                            assert_eq!(format!("{:?}", parse_number(&t)), format!("{:?}", parse_number_old(&t)), "{t:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn small_decimals_equal_from_str() {
        for s in ["0", "7", "007", "0.50", "683.70", "1234567.00", "999999999999999999", "12345678901234567.8", "0.000000000000000001", "5.", ".5", "1.2.3", ""] {
            let got = small_decimal(s.as_bytes());
            if let Some(d) = got {
                let want = Decimal::from_str(s).unwrap();
                assert_eq!((d, d.scale(), d.to_string()), (want, want.scale(), want.to_string()), "{s}");
            }
        }
        assert!(small_decimal(b"5.").is_none() && small_decimal(b"1234567890123456789").is_none());
    }

    #[test]
    fn parse_number_equals_the_old_one() {
        let long = "1".repeat(70);
        let long_dec = format!("{}.5", "9".repeat(80));
        for s in [
            "1.234,56", "1,234.56", "1'234.5", "1234,5", "1.234", "12.34", "1.234.567,00", "abc", "12 000,00", "- 12,5",
            "1.234.5", "1,234.567", "5.", "5’000", "5\u{a0}000,00", "5\u{202f}000", "0", "007", "-", "", " 3 ", "1..2",
            "1,,2", "12345678901234567890123456789", "123456789012345678901234567890", &long, &long_dec, "1.2.3,4'5",
            "3x", "é5", "5é", "9.99", "-0", "1,5,",
        ] {
            assert_eq!(parse_number(s), parse_number_old(s), "{s:?}");
        }
    }

    /// `amounts` as it was before the groups were read from the match
    /// bytes: a capture search per match.
    fn amounts_old(text: &str) -> Vec<Amount> {
        let at = |name: &str| AMOUNT_RE.capture_names().position(|n| n == Some(name)).unwrap();
        let (gpre, gsign, gnum, gpost) = (at("pre"), at("sign"), at("num"), at("post"));
        let mut out = Vec::new();
        let mut pos = 0;
        while let Some(c) = AMOUNT_RE.captures_at(text, pos) {
            let m = c.get(0).unwrap();
            pos = match (c.get(gpre), c.get(gpost)) {
                (Some(_), Some(post)) => post.start(),
                _ => m.end(),
            };
            let c = if c.get(gpre).is_some() && c.get(gpost).is_some() {
                match AMOUNT_RE.captures_at(&text[..pos], m.start()).filter(|x| x.get(0).unwrap().start() == m.start()) {
                    Some(x) => x,
                    None => c,
                }
            } else {
                c
            };
            let m = c.get(0).unwrap();
            let num = c.get(gnum).unwrap();
            if num.as_str().contains([' ', '\u{a0}', '\u{202f}']) && c.get(gpre).is_none() && c.get(gpost).is_none() && !space_grouped_comma_decimal(num.as_str()) {
                for p in PLAIN_RE.find_iter(num.as_str()) {
                    if let Some(value) = parse_number(p.as_str()) {
                        let (start, end) = (num.start() + p.start(), num.start() + p.end());
                        out.push(Amount { value, currency: None, start, end });
                    }
                }
                continue;
            }
            let before = text[..num.start()].chars().next_back();
            let after = text[num.end()..].chars().next();
            let per_unit = c.get(gpre).is_some() && text[num.end()..].strip_prefix('/').is_some_and(|r| r.starts_with(char::is_alphabetic));
            if before.is_some_and(|b| b.is_alphanumeric() || b == '-' && c.get(gsign).is_none() || b == '/' || b == '#')
                || after.is_some_and(|a| a.is_alphanumeric() && c.get(gpost).is_none() || a == '/' && !per_unit || a == '-' || a == '%')
                || glued_digits(&text[num.end()..])
            {
                continue;
            }
            if let Some(sign) = c.get(gsign) {
                if text[..sign.start()].chars().next_back().is_some_and(|b| b.is_alphanumeric()) {
                    continue;
                }
            }
            let Some(mut value) = parse_number(num.as_str()) else { continue };
            if c.get(gsign).is_some() {
                value = -value;
            }
            let currency = c.get(gpre).or(c.get(gpost)).and_then(|m| currency_of(m.as_str()));
            out.push(Amount { value, currency, start: m.start(), end: m.end() });
        }
        out
    }

    #[test]
    fn amount_groups_equal_the_capture_groups() {
        let at = |name: &str| AMOUNT_RE.capture_names().position(|n| n == Some(name)).unwrap();
        let (gpre, gsign, gnum, gpost) = (at("pre"), at("sign"), at("num"), at("post"));
        let pieces = [
            "", " ", "\t", "\n", "-", "- ", "1", "12", "1.234,56", "1,234.56", "1'234", "1’234.5", "12 000,00", "1\u{a0}200,00",
            "3\u{202f}000.00", "€", "£", "¥", "$", "US$", "CA$", "AU$", "C$", "A$", "EUR", "eur", "NOK", "USD ", " EUR", "euros",
            "Euro", "dollars", "pounds", "x", "INV-", "A", "/", "#", "%", ".5", ",", "é", "’", "|", "  ", "CHF-", "GBP 683.70",
        ];
        let mut n = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let text = format!("{a}{b}{c}");
                    let mut pos = 0;
                    while pos <= text.len() {
                        let want = AMOUNT_RE.captures_at(&text, pos).map(|c| AmountMatch {
                            start: c.get(0).unwrap().start(),
                            end: c.get(0).unwrap().end(),
                            pre: c.get(gpre).map(|m| m.range()),
                            sign: c.get(gsign).map(|m| m.range()),
                            num: c.get(gnum).unwrap().range(),
                            post: c.get(gpost).map(|m| m.range()),
                        });
                        assert_eq!(amount_at(&text, pos), want, "{text:?} at {pos}");
                        n += 1;
                        pos = want.map_or(text.len() + 1, |w| w.end);
                    }
                    assert_eq!(format!("{:?}", amounts(&text)), format!("{:?}", amounts_old(&text)), "{text:?}");
                }
            }
        }
        assert!(n > 100_000);
    }

    #[test]
    fn amounts_with_markers() {
        let a = amounts("Total: 1.234,56 € and $ 12.00 and EUR 3 but not INV-12 or A4");
        let v: Vec<_> = a.iter().map(|a| (a.value, a.currency)).collect();
        assert_eq!(v, vec![(d("1234.56"), Some("EUR")), (d("12.00"), Some("USD")), (d("3"), Some("EUR"))]);
        let spaced: Vec<_> = amounts("Total 1 745,17").iter().map(|a| a.value.to_string()).collect();
        assert_eq!(spaced, ["1745.17"]);
        let v: Vec<_> = amounts("NOK 12 000,00 and 2 149.00").iter().map(|a| a.value).collect();
        assert_eq!(v, vec![d("12000.00"), d("2"), d("149.00")]);
        let v: Vec<_> = amounts("10  NOK 1 200,00 NOK 12 000,00").iter().map(|a| (a.value, a.currency)).collect();
        assert_eq!(v, vec![(d("10"), None), (d("1200.00"), Some("NOK")), (d("12000.00"), Some("NOK"))]);
    }
}
