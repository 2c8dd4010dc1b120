//! Identifiers: invoice number, IBAN (mod-97), e-mail addresses, phone
//! numbers, e-mail subject.

use super::{keywords, Folded};
use regex::Regex;
use std::sync::LazyLock;

/// `Invoice No. X`, `Invoice #X`, `invoice_number: X`, `Invoice: X`
/// (the bare form only with `:`), value possibly on the next line
/// (lower case, run on [`Folded::lower`]).
static INVOICE_NO_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("{INVOICE_LABEL}(?P<v>[A-Za-z0-9][A-Za-z0-9\\-/._]*)")).unwrap());

/// [`INVOICE_NO_RE`] up to its value.
const INVOICE_LABEL: &str = r"(?-u:\b)(?:invoice|inv|rechnungs?)(?:[[\t\n\x0B\x0C\r\x20]_.\-]*(?:number|nummer|num|no|nr|id|ref)(?-u:\b)\.?|[[\t\n\x0B\x0C\r\x20]_]*#|[[\t\n\x0B\x0C\r\x20]_]*:)[[\t\n\x0B\x0C\r\x20]:#|.]*";

/// [`INVOICE_LABEL`], for [`invoice_value`].
static INVOICE_LABEL_RE: LazyLock<keywords::Regex> = LazyLock::new(|| keywords::regex(INVOICE_LABEL));

/// The `v` group of the [`INVOICE_NO_RE`] match `m` of `lower`, without a
/// capture search (the bounded backtracker over the match, ≈ 3,000
/// instructions): where the label's own leftmost-first match from `m`'s
/// start ends, if a value can start there (an ASCII letter or digit), is
/// where the whole regex's preferred path puts it, and the value runs to
/// the end of the match (it is the last part). `None` when the label ends
/// elsewhere (the whole match took another path): the caller then runs
/// the capture search.
fn invoice_value(lower: &str, m: std::ops::Range<usize>) -> Option<std::ops::Range<usize>> {
    let input = regex_automata::Input::new(lower).span(m.clone()).anchored(regex_automata::Anchored::Yes);
    let end = INVOICE_LABEL_RE.search_half(&input)?.offset();
    (end < m.end && lower.as_bytes()[end].is_ascii_alphanumeric()).then_some(end..m.end)
}

/// Index of [`INVOICE_NO_RE`]'s `v` group: `Captures::get` where
/// `Captures::name` hashes the name (SipHash) at every call.
static INVOICE_NO_V: LazyLock<usize> =
    LazyLock::new(|| INVOICE_NO_RE.capture_names().position(|n| n == Some("v")).expect("the v group"));

/// The invoice number: the first labelled token that contains a digit and is not a date.
pub fn invoice_number(f: Folded) -> Option<String> {
    for m in INVOICE_NO_RE.find_iter(f.lower) {
        let at = invoice_value(f.lower, m.range()).unwrap_or_else(|| {
            // (The same match: none starts between the last one's end and this one.)
            let c = INVOICE_NO_RE.captures_at(f.lower, m.start()).expect("the match found");
            c.get(*INVOICE_NO_V).expect("v is not optional").range()
        });
        let v = f.text[at.clone()].trim_end_matches(['.', '/', '-', '_']);
        let lower_v = &f.lower[at.start..at.start + v.len()];
        let is_date = super::date::DATE_RE.find(lower_v).is_some_and(|m| m.start() == 0 && m.end() == v.len());
        if v.len() >= 2 && v.len() <= 40 && v.chars().any(|c| c.is_ascii_digit()) && !is_date {
            return Some(v.to_string());
        }
    }
    None
}

/// Every match starts at two capitals and two digits (see [`iban_starts`]).
static IBAN_RE: LazyLock<keywords::Regex> =
    LazyLock::new(|| keywords::regex(r"(?-u:\b)(?P<iban>[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)(?-u:\b)"));

/// Where an IBAN can start: `[A-Z]{2}[0-9]{2}`, found by a byte scan that
/// is much cheaper than running [`IBAN_RE`] over the whole text.
fn iban_starts(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    crate::bytes::caps2_digits2(text.as_bytes(), &mut out);
    out
}

static IBAN_LABEL_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)(?-u:\b)iban(?-u:\b)").unwrap());

/// IBAN lengths by country (ISO 13616 registry, common countries).
fn iban_len(country: &str) -> Option<usize> {
    Some(match country {
        "NO" => 15,
        "BE" => 16,
        "DK" | "FI" | "NL" => 18,
        "AT" | "LU" | "EE" | "LT" => 20,
        "CH" | "LI" | "LV" => 21,
        "DE" | "GB" | "IE" | "BG" => 22,
        "ES" | "SE" | "CZ" | "SK" | "RO" => 24,
        "PT" => 25,
        "FR" | "IT" | "MC" => 27,
        "PL" | "HU" | "CY" => 28,
        _ => return None,
    })
}

/// Mod-97 check (ISO 7064) of a normalised IBAN.
pub fn iban_valid(iban: &str) -> bool {
    if iban.len() < 15 || iban.len() > 34 || !iban.chars().all(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let (head, tail) = iban.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let v = c.to_digit(36).unwrap_or(0);
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    rem == 1
}

/// Valid IBANs and invalid IBAN-shaped candidates (those with the right
/// length for their country, or written right after an `IBAN` label).
pub fn ibans(text: &str) -> (Vec<String>, Vec<String>) {
    let (mut valid, mut invalid) = (Vec::new(), Vec::new());
    // The `iban` group is the whole match (`\b` is zero-width): no captures needed.
    let starts = iban_starts(text).into_iter().filter(|&p| keywords::word_start(text.as_bytes(), p));
    for m in keywords::anchored_matches(&IBAN_RE, text, starts) {
        let m = (m.start, &text[m]);
        // (Sized at once: `collect` grows a `String` from nothing.)
        let mut norm = String::with_capacity(m.1.len());
        norm.extend(m.1.chars().filter(|c| !c.is_whitespace()));
        let expected = iban_len(&norm[..2]);
        if let Some(n) = expected {
            if norm.len() > n {
                norm.truncate(n); // a word glued after a spaced IBAN
            }
        }
        let before = &text[super::date::ceil_char(text, m.0.saturating_sub(24))..m.0];
        let labelled = IBAN_LABEL_RE.is_match(before);
        if iban_valid(&norm) && expected.is_none_or(|n| n == norm.len()) {
            if !valid.contains(&norm) {
                valid.push(norm);
            }
        } else if (labelled || expected == Some(norm.len())) && !invalid.contains(&norm) {
            invalid.push(norm);
        }
    }
    (valid, invalid)
}

static EMAIL_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?-u:\b)[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?-u:\b)").unwrap());

/// E-mail addresses, lower-cased, in order of first appearance.
pub fn emails(text: &str, out: &mut Vec<String>) {
    for m in EMAIL_RE.find_iter(text) {
        let e = m.as_str().to_ascii_lowercase();
        if !out.contains(&e) {
            out.push(e);
        }
    }
}

/// A labelled phone number, or a number written in international form
/// (lower case, run on [`Folded::lower`]). An unlabelled national number is
/// no phone: such digit runs hold no label or `+`, so skipping them finds
/// the same phones as a pattern with an optional label followed by a filter.
/// Every match starts at a label word or a `+` ([`PHONE_STARTS`]).
static PHONE_RE: LazyLock<keywords::Regex> = LazyLock::new(|| {
    keywords::regex(
        r"(?P<label>(?-u:\b)(?:tel|phone|telephone|telefon|mobile|mob|cell|fax|call(?:[\t\n\x0B\x0C\r\x20]+us)?(?:[\t\n\x0B\x0C\r\x20]+at|[\t\n\x0B\x0C\r\x20]+on)?)(?-u:\b)\.?(?:[[\t\n\x0B\x0C\r\x20]_.]*(?:no|number)(?-u:\b)\.?)?[\t\n\x0B\x0C\r\x20]*[:|]?[\t\n\x0B\x0C\r\x20]*)(?P<num>\+?\(?[0-9][[0-9] \t().\-/]{5,22}[0-9])|(?P<intl>\+\(?[0-9][[0-9] \t().\-/]{5,22}[0-9])",
    )
});

/// Words or the `+` one of which a phone needs.
static PHONE_CUES: LazyLock<keywords::Mask> = LazyLock::new(|| keywords::mask(&["+", "tel", "phone", "mob", "cell", "call"]));

/// What a [`PHONE_RE`] match starts with. `fax` is among them: a fax match
/// is skipped, but it still consumes its number, which must not then be
/// read as an international phone.
static PHONE_STARTS: LazyLock<keywords::Mask> =
    LazyLock::new(|| keywords::mask(&["+", "tel", "phone", "mob", "cell", "call", "fax"]));

/// The groups of a [`PHONE_RE`] match `m` of `hay`, read from its bytes
/// instead of a capture search (which ran the bounded backtracker over the
/// match: ≈ 3,000 instructions a phone): `(label, num)`, where `num` is the
/// `num` or the `intl` group. A match at `+` is the `intl` alternative (a
/// label starts with a letter); otherwise `label` holds no digit, `+` or
/// `(`, and `num` starts with one of them, so `num` begins at the first.
fn phone_groups(hay: &[u8], m: std::ops::Range<usize>) -> (Option<std::ops::Range<usize>>, std::ops::Range<usize>) {
    if hay[m.start] == b'+' {
        return (None, m);
    }
    let num = hay[m.clone()].iter().position(|&x| x == b'+' || x == b'(' || x.is_ascii_digit()).map_or(m.end, |i| m.start + i);
    (Some(m.start..num), num..m.end)
}

/// Phone numbers, normalised to `+` and digits (national numbers: digits only).
/// Unlabelled numbers count only in international `+` form; fax numbers are not phones.
pub fn phones(f: Folded) -> Vec<String> {
    let mut out = Vec::new();
    if !f.has(*PHONE_CUES) {
        return out;
    }
    // A label match starts with `\b` before a letter; an international one at `+`.
    let b = f.lower.as_bytes();
    let starts = f.starts(*PHONE_STARTS).filter(|&p| b[p] == b'+' || keywords::word_start(b, p));
    for m in keywords::anchored_matches(&PHONE_RE, f.lower, starts) {
        let (label, num) = phone_groups(b, m);
        let num = &f.lower[num];
        let label = label.map(|l| &f.lower[l]);
        if label.is_some_and(|l| l.starts_with("fax")) {
            continue;
        }
        let raw = num.trim();
        if label.is_none() && !raw.starts_with('+') {
            continue;
        }
        // Reject dates and amounts captured by the loose pattern.
        if raw.contains('.') && !raw.contains(' ') || super::date::DATE_RE.is_match(raw) {
            continue;
        }
        // (Sized at once: `collect` grows a `String` from nothing.)
        let mut digits = String::with_capacity(raw.len());
        digits.extend(raw.chars().filter(|c| c.is_ascii_digit()));
        if !(7..=15).contains(&digits.len()) {
            continue;
        }
        let norm = if raw.starts_with('+') { format!("+{digits}") } else { digits };
        if !out.contains(&norm) {
            out.push(norm);
        }
    }
    out
}

/// `Subject:` (lower case, run on [`Folded::lower`]).
static SUBJECT_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)^[\t\n\x0B\x0C\r\x20]*subject[\t\n\x0B\x0C\r\x20]*:[ \t]*(?P<s>\S.*?)[\t\n\x0B\x0C\r\x20]*$").unwrap());

/// A `Subject:` line.
pub fn subject(f: Folded) -> Option<String> {
    if !f.has(super::keywords::words!["subject"]) {
        return None;
    }
    SUBJECT_RE.captures(f.lower).map(|c| f.text[c.name("s").unwrap().range()].split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::super::with_folded;
    use super::*;

    #[test]
    fn invoice_numbers() {
        for (t, want) in [
            ("Invoice No. INV-2026-0042", Some("INV-2026-0042")),
            ("INVOICE #10023", Some("10023")),
            ("invoice_number: A/77", Some("A/77")),
            ("Invoice number\nX-12", Some("X-12")),
            ("Invoice: 2026-03-12", None),
            ("Invoice Date: 2026-03-12", None),
        ] {
            assert_eq!(with_folded(t, invoice_number).as_deref(), want, "{t}");
        }
    }

    #[test]
    fn iban_checks() {
        let (v, i) = ibans("IBAN: DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX\nIBAN GB82 WEST 1234 5698 7654 31");
        assert_eq!(v, vec!["DE89370400440532013000"]);
        assert_eq!(i, vec!["GB82WEST12345698765431"]);
        assert!(iban_valid("GB82WEST12345698765432"));
    }

    #[test]
    fn invoice_value_equals_the_capture_group() {
        let pieces = [
            "invoice", "inv", "rechnung", "rechnungs", " ", "\n", "_", ".", "-", "#", ":", "|", "number", "nummer", "num", "no",
            "nr", "id", "ref", "numberx", "x", "5", "a-1", "f-10000", "/", "é", "no.", "2026-03-12", "_x",
        ];
        let (mut fast, mut n) = (0, 0);
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in ["", " 12", ": a7", "-x"] {
                        let t = format!("{a}{b}{c}{d}");
                        for caps in INVOICE_NO_RE.captures_iter(&t) {
                            let m = caps.get(0).unwrap();
                            if let Some(v) = invoice_value(&t, m.range()) {
                                assert_eq!(v, caps.name("v").unwrap().range(), "{t:?}");
                                fast += 1;
                            }
                            n += 1;
                        }
                    }
                }
            }
        }
        assert!(fast > n * 9 / 10, "{fast} of {n}");
    }

    #[test]
    fn phone_groups_equal_the_capture_groups() {
        let pieces = [
            "tel", "Tel.", "phone", "telephone", "telefon", "mobile", "mob", "cell", "fax", "call us at", "call on", "no.",
            " number", ": ", "|", " ", "\t", "\n", "+", "(", ")", "0", "12", "30 123 456", "+49 (0)30 1234-56", "/", ".", "-",
            "x", "_", "é", "1234567890123456789012345",
        ];
        let re = &*PHONE_RE;
        let mut n = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let text = format!("{a}{b}{c}").to_lowercase();
                    let hay = text.as_bytes();
                    for start in 0..text.len() {
                        let input = regex_automata::Input::new(&text).span(start..text.len()).anchored(regex_automata::Anchored::Yes);
                        let mut caps = re.create_captures();
                        re.search_captures(&input, &mut caps);
                        let Some(m) = caps.get_match() else { continue };
                        let want = (keywords::group(&caps, "label"), keywords::group(&caps, "num").or(keywords::group(&caps, "intl")).unwrap());
                        assert_eq!(phone_groups(hay, m.range()), want, "{text:?} at {start}");
                        n += 1;
                    }
                }
            }
        }
        assert!(n > 4_000, "{n}");
    }

    #[test]
    fn phones_and_emails() {
        let t = "Tel: 030 1234567\nFax: +49 30 7654321\nCall +1 (555) 123-4567 or write to Info@Acme.example.com.\nDate 12.03.2026";
        assert_eq!(with_folded(t, phones), vec!["0301234567", "+15551234567"]);
        let mut e = Vec::new();
        emails(t, &mut e);
        assert_eq!(e, vec!["info@acme.example.com"]);
    }
}
