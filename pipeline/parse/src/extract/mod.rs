//! Field extraction from normalised text: [`extract_fields`] fills
//! [`BusinessFields`]; every field is absent unless stated in the document.
//!
//! Speed (the parse stage's budget is tens of microseconds per document):
//! regexes are compiled once (`LazyLock`), never per document; the text is
//! ASCII-lower-cased once ([`Folded`]) and the case-insensitive patterns are
//! written in lower case and run on that copy, whose byte offsets are the
//! original's, so values are read from the original text. One keyword scan
//! ([`keywords`]) tells which label words are present (a regex that needs
//! one runs only when it is) and where, and label regexes run anchored at
//! the positions where a match can start rather than over the whole text.

pub mod corrections;
pub mod date;
pub mod doctype;
pub mod einvoice;
pub mod ident;
pub mod items;
pub mod keywords;
pub mod money;
pub mod parties;
pub mod rank;
pub mod vendor;

use crate::formats::Hints;
use docflow_schemas::BusinessFields;
use regex::Regex;
use rust_decimal::Decimal;
use std::sync::LazyLock;

/// A text and its ASCII-lower-cased twin. Lower-casing ASCII keeps every
/// byte offset and char boundary, so a match found in `lower` is read from
/// `text` at the same range. (Unicode case folding is not applied: the
/// labels matched this way are ASCII words.) It also carries the document's
/// keyword hits ([`keywords`]): which keywords lie in this range, and where.
#[derive(Debug, Clone, Copy)]
pub struct Folded<'a> {
    pub text: &'a str,
    pub lower: &'a str,
    /// Keyword occurrences of the whole document (document offsets).
    hits: &'a [keywords::Hit],
    /// Positions of the document's line feeds (document offsets), ascending.
    newlines: &'a [u32],
    /// Document offset of `text[0]`.
    base: usize,
    /// Keywords wholly inside this range.
    present: keywords::Mask,
}

impl<'a> Folded<'a> {
    /// The byte range `start..` of both texts, or `None` off a char boundary.
    pub fn from(&self, start: usize) -> Option<Folded<'a>> {
        self.slice(start, self.text.len())
    }

    /// The byte range `..end` of both texts, or `None` off a char boundary.
    pub fn to(&self, end: usize) -> Option<Folded<'a>> {
        self.slice(0, end)
    }

    fn slice(&self, start: usize, end: usize) -> Option<Folded<'a>> {
        let (text, lower) = (self.text.get(start..end)?, self.lower.get(start..end)?);
        let present = if start == 0 && end == self.text.len() {
            self.present
        } else {
            keywords::present(self.hits, self.base + start, self.base + end)
        };
        Some(Folded { text, lower, hits: self.hits, newlines: self.newlines, base: self.base + start, present })
    }

    /// Whether the lower-cased text contains any of the keywords in `mask`
    /// (built with `keywords::words!`).
    pub fn has(&self, mask: keywords::Mask) -> bool {
        self.present & mask != 0
    }

    /// The lines of this text as `(start, end)` byte ranges: what
    /// `text.lines()` gives (split at `\n`, a `\r` before it dropped, no
    /// empty last line), from the document's line-feed index instead of a
    /// search per line.
    pub fn lines(&self) -> Lines<'a> {
        let (lo, hi) = (self.base, self.base + self.text.len());
        let from = self.newlines.partition_point(|&p| (p as usize) < lo);
        let to = self.newlines.partition_point(|&p| (p as usize) < hi);
        Lines { bytes: self.text.as_bytes(), newlines: self.newlines[from..to].iter(), base: lo, start: 0 }
    }

    /// Start of the line holding byte `at` (an offset in this text):
    /// `keywords::line_start(text, at)`, from the line-feed index.
    pub fn line_start(&self, at: usize) -> usize {
        let (lo, at_doc) = (self.base, self.base + at);
        let i = self.newlines.partition_point(|&p| (p as usize) < at_doc);
        match i.checked_sub(1).map(|j| self.newlines[j] as usize) {
            Some(p) if p >= lo => p + 1 - lo,
            _ => 0,
        }
    }

    /// End of the line holding byte `at` (an offset in this text), as
    /// [`Folded::lines`] ends it: before its `\n` (and a `\r` before that),
    /// or at the end of the text.
    pub fn line_end(&self, at: usize) -> usize {
        let (lo, hi) = (self.base, self.base + self.text.len());
        let i = self.newlines.partition_point(|&p| (p as usize) < lo + at);
        match self.newlines.get(i).map(|&p| p as usize) {
            Some(p) if p < hi => {
                let nl = p - lo;
                if nl > self.line_start(at) && self.text.as_bytes()[nl - 1] == b'\r' { nl - 1 } else { nl }
            }
            _ => self.text.len(),
        }
    }

    /// Starts (offsets in this text) of the occurrences of the keywords in
    /// `mask` that lie wholly inside this text, ascending.
    pub fn starts(&self, mask: keywords::Mask) -> impl Iterator<Item = usize> + 'a {
        let (base, end) = (self.base, self.base + self.text.len());
        let bytes = mask.to_le_bytes();
        self.hits
            .iter()
            .filter(move |h| in_mask(&bytes, h.word) && h.start as usize >= base && h.end as usize <= end)
            .map(move |h| h.start as usize - base)
    }

    /// Whether one of the keywords in `mask` occurs as a whole word: an
    /// ASCII word boundary (`(?-u:\b)`) before and after it.
    pub fn has_whole_word(&self, mask: keywords::Mask) -> bool {
        let (base, end) = (self.base, self.base + self.text.len());
        let b = self.lower.as_bytes();
        let is_word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
        let bytes = mask.to_le_bytes();
        self.hits.iter().any(|h| {
            let (s, e) = (h.start as usize, h.end as usize);
            in_mask(&bytes, h.word)
                && s >= base
                && e <= end
                && (s == base || !is_word(b[s - base - 1]) || !is_word(b[s - base]))
                && (e == end || !is_word(b[e - base]) || !is_word(b[e - base - 1]))
        })
    }
}

/// Whether keyword `word` is in the mask whose little-endian bytes are
/// `bytes`: one byte load and a shift, where `mask & 1 << word` shifts
/// both halves of a `u128` by a variable amount (the filters over every
/// hit of a document run this many times).
#[inline(always)]
fn in_mask(bytes: &[u8; 16], word: u8) -> bool {
    bytes[(word >> 3) as usize & 15] >> (word & 7) & 1 != 0
}

/// [`Folded::lines`]: line ranges (offsets in the folded text).
pub struct Lines<'a> {
    bytes: &'a [u8],
    newlines: std::slice::Iter<'a, u32>,
    /// Document offset of `bytes[0]`.
    base: usize,
    /// Start of the next line.
    start: usize,
}

impl Iterator for Lines<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        match self.newlines.next() {
            Some(&p) => {
                let (start, nl) = (self.start, p as usize - self.base);
                self.start = nl + 1;
                // `\r\n` ends a line as `\n` does.
                let end = if nl > start && self.bytes[nl - 1] == b'\r' { nl - 1 } else { nl };
                Some((start, end))
            }
            None if self.start < self.bytes.len() => {
                let start = std::mem::replace(&mut self.start, self.bytes.len());
                Some((start, self.bytes.len()))
            }
            None => None,
        }
    }
}

/// A lower-cased copy of a text, its keyword hits and its line feeds: what
/// a [`Folded`] borrows.
#[derive(Debug, Default)]
pub struct FoldedBuf {
    lower: String,
    hits: Vec<keywords::Hit>,
    newlines: Vec<u32>,
}

impl FoldedBuf {
    /// Folds `text` and scans it for keywords and line feeds.
    pub fn new(text: &str) -> FoldedBuf {
        let lower = text.to_ascii_lowercase();
        // Room for the usual number of hits and lines: no regrowing.
        let mut hits = Vec::with_capacity(lower.len() / 16);
        keywords::scan(&lower, &mut hits);
        // (One per 16 bytes: short lines such as table rows and labels
        // overran one per 32, and each regrowing copies the list.)
        let mut newlines = Vec::with_capacity(lower.len() / 16 + 1);
        crate::bytes::positions(lower.as_bytes(), b'\n', 0, &mut newlines);
        FoldedBuf { lower, hits, newlines }
    }

    /// The view of `text`, which must be the text this was made from.
    pub fn get<'a>(&'a self, text: &'a str) -> Folded<'a> {
        debug_assert_eq!(text.len(), self.lower.len());
        let present = keywords::present(&self.hits, 0, text.len());
        Folded { text, lower: &self.lower, hits: &self.hits, newlines: &self.newlines, base: 0, present }
    }
}

/// Runs `f` on `text` with its lower-cased twin (for the per-field entry points).
pub fn with_folded<R>(text: &str, f: impl FnOnce(Folded) -> R) -> R {
    let buf = FoldedBuf::new(text);
    f(buf.get(text))
}

/// Total labels, strongest first (lower case, run on [`Folded::lower`]).
/// Subtotals, tax totals and net totals are excluded.
/// Every match starts at a line start or at a `|` (see [`total_starts`]).
static TOTAL_RES: LazyLock<[keywords::Regex; 2]> = LazyLock::new(|| {
    [
        keywords::regex(r"(?m)(?:^|\|[\t\n\x0B\x0C\r\x20]*)[ \t]*(?:[a-z_]+\.)*(?:total[[\t\n\x0B\x0C\r\x20]_.]*(?:amount[[\t\n\x0B\x0C\r\x20]_.]*)?(?:due|payable|to[[\t\n\x0B\x0C\r\x20]_]pay)|amount[[\t\n\x0B\x0C\r\x20]_.]*(?:due|payable)|balance[[\t\n\x0B\x0C\r\x20]_.]*due|grand[[\t\n\x0B\x0C\r\x20]_.]*total|please[[\t\n\x0B\x0C\r\x20]_]pay|gesamtbetrag|totals?[[\t\n\x0B\x0C\r\x20]_.]*grand[[\t\n\x0B\x0C\r\x20]_.]*total|totaldue|amountdue|grandtotal)(?-u:\b)"),
        keywords::regex(r"(?m)(?:^|\|[\t\n\x0B\x0C\r\x20]*)[ \t]*(?:[a-z_]+\.)*(?:(?:invoice|order|receipt)[[\t\n\x0B\x0C\r\x20]_.]*)?total(?:[[\t\n\x0B\x0C\r\x20]_.]*(?:amount|sum|incl\.?(?:uding)?[[\t\n\x0B\x0C\r\x20]_.]*(?:vat|tax)|\(incl[^)]*\)))?(?-u:\b)(?:[[\t\n\x0B\x0C\r\x20]_.]*(?:\((?P<c1>[a-z€$£]{1,3})\)|(?P<c2>[a-z]{3})(?-u:\b)))?"),
    ]
});

/// Words one of which each of [`TOTAL_RES`] needs, right after the match's
/// optional `key.` prefixes: without them it cannot match.
static TOTAL_WORDS: LazyLock<[keywords::Mask; 2]> =
    LazyLock::new(|| [keywords::mask(&["total", "amount", "balance", "grand", "please", "gesamtbetrag"]), keywords::mask(&["total"])]);

/// Where a [`TOTAL_RES`] match can start, given the starts of its keywords
/// (ascending): the keyword's line start (`^`), a `|` before it on its line,
/// or a `|` followed by nothing but whitespace up to that line (`\|\s*`).
/// Between the match start and the keyword there are only blanks and
/// `key.` prefixes, which hold no line break. Ascending, no duplicates.
fn total_starts(f: Folded, keyword_starts: impl Iterator<Item = usize>) -> Vec<usize> {
    let b = f.lower.as_bytes();
    // (Room for the usual few starts: no regrowing from an empty list.)
    let mut out = Vec::with_capacity(16);
    let mut pipes = Vec::new();
    let (mut line, mut piped_to) = (usize::MAX, 0);
    for p in keyword_starts {
        let ls = f.line_start(p);
        if ls != line {
            line = ls;
            piped_to = ls;
            out.push(ls);
            let mut i = ls;
            while i > 0 && matches!(b[i - 1], b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ') {
                i -= 1;
            }
            if i > 0 && b[i - 1] == b'|' {
                out.push(i - 1);
            }
        }
        // Pipes not yet collected on this line: each line's bytes are read once.
        let from = piped_to.max(ls);
        if from < p {
            // (16 bytes at a time: a line of prose can be long.)
            pipes.clear();
            crate::bytes::positions(&b[from..p], b'|', from as u32, &mut pipes);
            out.extend(pipes.iter().map(|&i| i as usize));
        }
        piped_to = piped_to.max(p);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Printed or mapped mail headers (`From:`, `from.email:` and `Subject:`)
/// near the top (lower case, run on [`Folded::lower`]).
static MAIL_FROM_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)^[\t\n\x0B\x0C\r\x20]*(?:from|sender)(?:[._][a-z_]+)?[\t\n\x0B\x0C\r\x20]*[:|]").unwrap());
static MAIL_TO_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)^[\t\n\x0B\x0C\r\x20]*to(?:[._][a-z_]+)?[\t\n\x0B\x0C\r\x20]*[:|]").unwrap());
static MAIL_SUBJECT_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)^[\t\n\x0B\x0C\r\x20]*subject[\t\n\x0B\x0C\r\x20]*[:|]").unwrap());

/// Words after `total` that make it some other total.
const NOT_TOTAL: [&str; 12] =
    ["tax", "vat", "net", "excl", "before", "items", "qty", "quantity", "paid", "discount", "savings", "weight"];

/// `currency: EUR` (lower case, run on [`Folded::lower`]).
static CURRENCY_LABEL_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^[\t\n\x0B\x0C\r\x20]*(?:[a-z_.]*[[\t\n\x0B\x0C\r\x20]_.])?currency(?:[[\t\n\x0B\x0C\r\x20]_]code)?[\t\n\x0B\x0C\r\x20]*[:|][\t\n\x0B\x0C\r\x20]*(?P<c>[a-z€$£¥]{1,16})[\t\n\x0B\x0C\r\x20]*$").unwrap());

/// The stated total due and the currency written next to it.
pub fn total(f: Folded) -> Option<(Decimal, Option<&'static str>)> {
    let (text, lower) = (f.text, f.lower);
    for (re, &words) in TOTAL_RES.iter().zip(TOTAL_WORDS.iter()) {
        if !f.has(words) {
            continue;
        }
        let mut found = None;
        for c in keywords::anchored_iter(re, lower, total_starts(f, f.starts(words))) {
            let m = c.get_match().expect("a match");
            let after = lower[m.end()..].trim_start_matches([' ', '\t', '_', '.']);
            if NOT_TOTAL.iter().any(|w| after.starts_with(w)) {
                continue; // `Total tax`, `Total paid`: not the total due
            }
            let label_ccy = keywords::group(&c, "c1").or(keywords::group(&c, "c2")).and_then(|x| money::currency_of(&text[x]));
            // The amount follows on the same line, or alone on the next one.
            let rest = &text[m.end()..];
            let line_end = rest.find('\n').unwrap_or(rest.len());
            let same_line = &rest[..line_end];
            let mut amounts = money::amounts(same_line);
            if amounts.is_empty() && same_line.trim().trim_matches([':', '|']).trim().is_empty() {
                let next = rest[line_end..].trim_start_matches('\n');
                let next = &next[..next.find('\n').unwrap_or(next.len())];
                amounts = money::amounts(next);
            }
            // The last amount on a total line is the total (`Total  3 items  12.50`).
            if let Some(a) = amounts.last() {
                found = Some((a.value, a.currency.or(label_ccy)));
            }
        }
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The document currency: an explicit `currency:` field, else the marker on
/// the total, else the only currency the document mentions.
pub fn currency(f: Folded, on_total: Option<&'static str>) -> Option<String> {
    if f.has(keywords::words!["currency"]) {
        if let Some(c) = CURRENCY_LABEL_RE.captures(f.lower) {
            if let Some(code) = money::currency_of(&f.text[c.name("c").unwrap().range()]) {
                return Some(code.to_string());
            }
        }
    }
    if let Some(c) = on_total {
        return Some(c.to_string());
    }
    let mut seen: Vec<&'static str> = Vec::new();
    for m in money::CURRENCY_RE.find_iter(f.text) {
        if let Some(c) = money::currency_of(m.as_str()) {
            if !seen.contains(&c) {
                seen.push(c);
            }
        }
    }
    (seen.len() == 1).then(|| seen[0].to_string())
}

/// Printed or mapped mail headers (`From:`, `To:`, `Subject:` lines).
fn has_mail_headers(f: Folded) -> bool {
    f.has(keywords::words!["from", "sender"])
        && f.has(keywords::words!["subject"])
        && MAIL_FROM_RE.is_match(f.lower)
        && MAIL_TO_RE.is_match(f.lower)
        && MAIL_SUBJECT_RE.is_match(f.lower)
}

/// Extracts business fields from normalised text. `hints` carries e-mail
/// headers; `locale` (e.g. `en-US`) resolves `03/04/2026`. Vendor, invoice
/// number, date and total are chosen by the ranker ([`rank`]) with the
/// shipped weights.
pub fn extract_fields(text: &str, hints: &Hints, locale: Option<&str>) -> BusinessFields {
    extract_fields_with(text, hints, locale, rank::Weights::shipped())
}

/// [`extract_fields`] with the given ranker weights (for evaluation and fitting).
pub fn extract_fields_with(text: &str, hints: &Hints, locale: Option<&str>, weights: &rank::Weights) -> BusinessFields {
    let body = text.get(hints.body_offset..).unwrap_or(text);
    let doc = rank::doc::Doc::new(body, hints.sender_name.clone(), locale);
    let mut f = rule_fields(text, hints, locale, doc.heading);
    let cands = rank::candidates(&doc, &f);
    apply_ranked(&mut f, &cands, weights, hints);
    f
}

/// Sets the ranked fields from the ranker's choices, with their
/// confidence and source, and the provenance of the header fields.
pub fn apply_ranked(f: &mut BusinessFields, cands: &rank::DocCandidates, weights: &rank::Weights, hints: &Hints) {
    // Plain e-mails and contracts name no vendor or total unless the text
    // says so after a label: the ranker then only fills fields it read
    // after their label.
    let business = matches!(f.doc_type_hint.as_deref(), Some("invoice" | "receipt" | "other") | None);
    for (field, c) in &cands.by_field {
        let choice = rank::choose(weights.get(*field), c);
        let name = field.name();
        let Some(choice) = choice else {
            if !business && rule_value(f, *field) {
                f.set_provenance(name, 0.6, "label");
                continue;
            }
            clear(f, *field);
            if *field == rank::Field::Date {
                if let Some(d) = &hints.header_date {
                    f.date = Some(d.clone());
                    f.set_provenance("date", 0.9, "header");
                }
            }
            continue;
        };
        let source = rank::source_of(*field, &c[choice.best]);
        // A document of no known type needs a label or a clear winner.
        // (A name without a legal form or business word needs more.)
        let org_name = c[choice.best].x.get(rank::vendors::ORG).is_some_and(|&v| v > 0.0);
        let needed = if *field == rank::Field::Vendor && !org_name { 0.6 } else { 0.5 };
        if f.doc_type_hint.as_deref() == Some("other") && source == "ranker" && choice.confidence < needed {
            clear(f, *field);
            continue;
        }
        if !business && (source != "label" || matches!(field, rank::Field::Vendor | rank::Field::InvoiceNumber)) {
            // A plain e-mail or a contract: the label rules' value stands.
            if rule_value(f, *field) {
                f.set_provenance(name, 0.6, "label");
            }
            continue;
        }
        match field {
            rank::Field::Vendor => f.vendor = Some(choice.value.clone()),
            rank::Field::InvoiceNumber => f.invoice_number = Some(choice.value.clone()),
            rank::Field::Date => f.date = Some(choice.value.clone()),
            rank::Field::Total => f.total = choice.value.parse().ok(),
        }
        f.set_provenance(name, choice.confidence as f64, source);
    }
    f.line_items_consistent = items::consistent(&f.line_items, f.total, None);
    if f.subject.is_some() {
        f.set_provenance("subject", if hints.subject.is_some() { 1.0 } else { 0.8 }, if hints.subject.is_some() { "header" } else { "label" });
    }
    if f.iban.is_some() {
        f.set_provenance("iban", 0.95, "label");
    }
    if f.currency.is_some() {
        f.set_provenance("currency", 0.8, "ranker");
    }
}

/// Whether the label rules found `field`.
fn rule_value(f: &BusinessFields, field: rank::Field) -> bool {
    match field {
        rank::Field::Vendor => f.vendor.is_some(),
        rank::Field::InvoiceNumber => f.invoice_number.is_some(),
        rank::Field::Date => f.date.is_some(),
        rank::Field::Total => f.total.is_some(),
    }
}

fn clear(f: &mut BusinessFields, field: rank::Field) {
    match field {
        rank::Field::Vendor => f.vendor = None,
        rank::Field::InvoiceNumber => f.invoice_number = None,
        rank::Field::Date => f.date = None,
        rank::Field::Total => f.total = None,
    }
}

/// The label rules' fields: what the ranker marks as one of its features
/// (and the fields it does not rank: currency, items, IBAN, contacts).
/// `heading` is what the head of the body says it is ([`rank::doc::Doc::heading`]).
pub fn rule_fields(text: &str, hints: &Hints, locale: Option<&str>, heading: rank::heading::Heading) -> BusinessFields {
    with_folded(text, |all| {
        let body = all.from(hints.body_offset).unwrap_or(all);
        let head = all.to(hints.body_offset).unwrap_or_else(|| all.to(0).expect("0 is a char boundary"));
        let mail = hints.body_offset > 0 || hints.subject.is_some() || has_mail_headers(all);
        let invoice_number = ident::invoice_number(all);
        let kind = doctype::classify(body, mail, invoice_number.is_some() || heading.numbered_invoice(), heading.title);
        let mut f = BusinessFields { doc_type_hint: Some(kind.to_string()), ..Default::default() };

        f.date = date::document_date(body, locale)
            .or_else(|| hints.header_date.clone())
            .or_else(|| date::document_date(head, locale));
        let tot = total(body);
        f.total = tot.map(|t| t.0);
        f.currency = currency(body, tot.and_then(|t| t.1));
        f.invoice_number = invoice_number;
        if matches!(kind, "invoice" | "receipt") {
            f.vendor = vendor::vendor(body);
            f.line_items = items::line_items(body);
        }
        if kind == "contract" {
            f.parties = parties::parties(body);
        }
        let (valid, invalid) = ident::ibans(body.text);
        f.iban = valid.into_iter().next();
        f.invalid_ibans = invalid;
        f.emails = hints.addresses.clone();
        ident::emails(body.text, &mut f.emails);
        f.phones = ident::phones(body);
        f.subject = hints.subject.clone().or_else(|| ident::subject(all));
        f
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_mask_equals_the_shift() {
        for mask in [0u128, 1, 1 << 127, u128::MAX, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210] {
            for w in 0..128u8 {
                assert_eq!(in_mask(&mask.to_le_bytes(), w), mask & 1u128 << w != 0);
            }
        }
    }

    #[test]
    fn line_index_equals_str_lines() {
        for text in ["", "\n", "a", "a\n", "a\r\nb\r", "\r\n\r\n", "ab\n\ncd\r\n\ré\nlast", "x\ry\n\rz\n\n"] {
            let buf = FoldedBuf::new(text);
            let all = buf.get(text);
            for start in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                for view in [all.from(start).unwrap(), all.to(start).unwrap()] {
                    let want: Vec<&str> = view.text.lines().collect();
                    let got: Vec<&str> = view.lines().map(|(s, e)| &view.text[s..e]).collect();
                    assert_eq!(got, want, "{text:?} from/to {start}");
                    for at in 0..view.text.len() {
                        assert_eq!(view.line_start(at), keywords::line_start(view.text, at), "{text:?} {start} {at}");
                        if view.text.as_bytes()[at] != b'\n' {
                            let (s, e) = (view.line_start(at), view.line_end(at));
                            assert!(want.iter().any(|l| l.as_ptr() as usize - view.text.as_ptr() as usize == s && l.len() == e - s));
                        }
                    }
                }
            }
        }
    }
}
