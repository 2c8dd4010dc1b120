//! One keyword scan per document, and anchored regex searches at its hits.
//!
//! Every label regex of the extractor either needs a keyword (`total`,
//! `vendor`, `tel`, …) or starts at one. Instead of one `str::contains` per
//! keyword and one regex pass over the whole text per field, the lower-cased
//! text is scanned once for every occurrence of every keyword (overlapping
//! ones included: `telephone` holds `tel` and `phone`): each position's
//! three bytes are looked up in a 4 KiB bit table of the keywords' first
//! three bytes, and the few keywords with that first byte are compared
//! where the bit is set. (An overlapping Aho-Corasick DFA took 3× as long,
//! and a SIMD prefix search restarted at every hit longer still: common
//! prefixes such as `the`, `par` and `con` hit too often.) A field
//! then asks whether a keyword is present ([`Folded::has`]) with a bit test,
//! and runs its regex only *anchored* at the few positions where a match can
//! start ([`anchored_iter`]), which reproduces `find_iter` exactly as long
//! as those positions include every possible match start.
//!
//! [`Folded::has`]: super::Folded::has

pub use regex_automata::meta::Regex;
use regex_automata::util::captures::Captures;
use regex_automata::{Anchored, Input};
use std::sync::LazyLock;

/// Every keyword any field looks for (lower case, at most 128). The index
/// of a word is its bit in a [`Mask`].
pub const KEYWORDS: &[&str] = &[
    // document type: titles and cues
    "invoice", "rechnung", "facture", "bill", "due", "payment terms", "please pay",
    "receipt", "kassenbon", "quittung", "thank you for", "cash", "card payment", "paid by", "visa", "mastercard", "till",
    "register", "agreement", "contract", "memorandum of understanding", "terms of service", "lease",
    "hereinafter", "whereas", "witness whereof", "governing law", "terminat", "the parties", "party", "parties", "shall",
    "obligations", "effective date", "signature",
    // cue match starts not listed above
    "amount", "total", "balance", "payment", "please", "thank", "change", "card", "paid", "part", "witness",
    "governing", "effective",
    // totals
    "grand", "gesamtbetrag",
    // vendor labels
    "vendor", "seller", "supplier", "merchant", "issued", "store", "company",
    // phones (match starts, `fax` included: a fax number is skipped but still consumes its text)
    "+", "tel", "phone", "mob", "cell", "call", "fax",
    // dates, currency, mail headers
    "date", "datum", "sent", "currency", "subject", "from", "sender",
    // date label starts: `as` followed by each byte of `[\s_]` (keywords have three bytes or more)
    "issue", "document", "made", "entered", "as ", "as\t", "as\n", "as\x0b", "as\x0c", "as\r", "as_",
    // line-item header words
    "desc", "item", "product", "service", "article", "particular",
];

/// A set of [`KEYWORDS`], one bit each.
pub type Mask = u128;

/// The mask of `words`, each of which must be in [`KEYWORDS`] (a missing
/// word panics: masks are built once, in statics, so tests catch it).
pub fn mask(words: &[&str]) -> Mask {
    words.iter().fold(0, |m, w| m | 1u128 << KEYWORDS.iter().position(|k| k == w).unwrap_or_else(|| panic!("{w} not in KEYWORDS")))
}

/// `words!["a", "b"]`: the [`Mask`] of those keywords, computed once.
macro_rules! words {
    ($($w:literal),+ $(,)?) => {{
        static M: std::sync::LazyLock<$crate::extract::keywords::Mask> =
            std::sync::LazyLock::new(|| $crate::extract::keywords::mask(&[$($w),+]));
        *M
    }};
}
pub(crate) use words;

/// The scanner: a bit per [`trigram`] of the keywords' first three bytes
/// (`+`, the one shorter keyword, is found by `match_indices`), and per
/// first byte the keywords that start with it.
struct Scanner {
    trigrams: [u64; 512],
    /// (second byte, third byte, keyword index) of the keywords starting with a byte.
    by_first: [Vec<(u8, u8, u8)>; 256],
}

/// A 15-bit digest of three bytes: the low five bits of each, which tell
/// lower-case letters (and the space) apart; other bytes may collide with
/// them, which only costs a comparison.
#[inline(always)]
fn trigram(a: u8, b: u8, c: u8) -> usize {
    ((a as usize & 31) << 10) | ((b as usize & 31) << 5) | (c as usize & 31)
}

static SCANNER: LazyLock<Scanner> = LazyLock::new(|| {
    assert!(KEYWORDS.len() <= 128);
    assert!(KEYWORDS.iter().all(|k| k.len() >= 3 || *k == "+"));
    let mut sc = Scanner { trigrams: [0; 512], by_first: std::array::from_fn(|_| Vec::new()) };
    for (i, k) in KEYWORDS.iter().enumerate() {
        if let [a, b, c, ..] = *k.as_bytes() {
            let t = trigram(a, b, c);
            sc.trigrams[t >> 6] |= 1 << (t & 63);
            sc.by_first[a as usize].push((b, c, i as u8));
        }
    }
    sc
});

/// One keyword occurrence: byte offsets in the whole document and the keyword's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub start: u32,
    pub end: u32,
    pub word: u8,
}

/// Every keyword occurrence in `lower`, ordered by start (then end).
pub fn scan(lower: &str, out: &mut Vec<Hit>) {
    out.clear();
    let sc = &*SCANNER;
    let b = lower.as_bytes();
    let n = b.len().saturating_sub(2); // positions with three bytes
    // 64 positions at a time: a mask of the candidates without branches,
    // then only the candidates are looked at.
    for block in (0..n).step_by(64) {
        let mut m = 0u64;
        let window = &b[block..(block + 66).min(b.len())];
        for (j, w) in window.windows(3).enumerate() {
            let t = trigram(w[0], w[1], w[2]);
            m |= (sc.trigrams[t >> 6] >> (t & 63) & 1) << j;
        }
        while m != 0 {
            let s = block + m.trailing_zeros() as usize;
            m &= m - 1;
            for &(b1, b2, i) in &sc.by_first[b[s] as usize] {
                if b1 != b[s + 1] || b2 != b[s + 2] {
                    continue;
                }
                let k = KEYWORDS[i as usize].as_bytes();
                let rest = &b[s..];
                // A byte loop: these are short, and a memcmp call costs more.
                if rest.len() >= k.len() && k[3..].iter().zip(&rest[3..]).all(|(x, y)| x == y) {
                    out.push(Hit { start: s as u32, end: (s + k.len()) as u32, word: i });
                }
            }
        }
    }
    let plus = KEYWORDS.iter().position(|k| *k == "+").expect("+ is a keyword") as u8;
    let before = out.len();
    out.extend(lower.match_indices('+').map(|(i, _)| Hit { start: i as u32, end: i as u32 + 1, word: plus }));
    if out.len() > before {
        out.sort_unstable_by_key(|h| (h.start, h.end));
    }
}

/// The keywords wholly inside `start..end` of the document.
pub fn present(hits: &[Hit], start: usize, end: usize) -> Mask {
    hits.iter().filter(|h| h.start as usize >= start && h.end as usize <= end).fold(0, |m, h| m | 1u128 << h.word)
}

/// Compiles a regex for [`anchored_iter`] (same syntax and semantics as `regex::Regex`).
pub fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap()
}

/// The matches `re.captures_iter(hay)` would give, found by anchored
/// searches at `starts` (ascending; duplicates and positions off a char
/// boundary are fine). Exact when every match of `re` starts at one of
/// `starts` and `re` cannot match the empty string. Look-behind (`^`, `\b`)
/// sees the whole haystack, as with `captures_at`.
pub fn anchored_iter<'r, I: IntoIterator<Item = usize>>(re: &'r Regex, hay: &'r str, starts: I) -> AnchoredIter<'r, I::IntoIter> {
    AnchoredIter { re, hay, starts: starts.into_iter(), pos: 0 }
}

pub struct AnchoredIter<'r, I> {
    re: &'r Regex,
    hay: &'r str,
    starts: I,
    /// End of the last match: the next one starts at or after it.
    pos: usize,
}

impl<I: Iterator<Item = usize>> Iterator for AnchoredIter<'_, I> {
    type Item = Captures;

    fn next(&mut self) -> Option<Captures> {
        for s in self.starts.by_ref() {
            if s < self.pos || s >= self.hay.len() || !self.hay.is_char_boundary(s) {
                continue;
            }
            let input = Input::new(self.hay).span(s..self.hay.len()).anchored(Anchored::Yes);
            // Most candidates fail: the lazy DFA says so without capture groups.
            if self.re.search_half(&input).is_none() {
                continue;
            }
            let mut caps = self.re.create_captures();
            self.re.search_captures(&input, &mut caps);
            if let Some(m) = caps.get_match() {
                self.pos = m.end();
                return Some(caps);
            }
        }
        None
    }
}

/// The byte range of group `name` in `caps`.
pub fn group(caps: &Captures, name: &str) -> Option<std::ops::Range<usize>> {
    caps.get_group_by_name(name).map(|s| s.range())
}

/// Start of the line holding byte `at`.
pub fn line_start(hay: &str, at: usize) -> usize {
    match hay.get(..at) {
        // `rfind(char)` is a vectorised memrchr; text lines can be long.
        Some(s) => s.rfind('\n').map_or(0, |i| i + 1),
        None => hay.as_bytes()[..at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_unique_and_fit_a_mask() {
        assert!(KEYWORDS.len() <= 128);
        for (i, w) in KEYWORDS.iter().enumerate() {
            assert_eq!(KEYWORDS.iter().position(|k| k == w), Some(i), "duplicate {w}");
            assert_eq!(w.to_ascii_lowercase(), *w);
        }
    }

    #[test]
    fn overlapping_hits_are_all_found() {
        let mut hits = Vec::new();
        scan("total due: telephone +1", &mut hits);
        let words: Vec<&str> = hits.iter().map(|h| KEYWORDS[h.word as usize]).collect();
        assert_eq!(words, ["total", "due", "tel", "phone", "+"]);
        assert_eq!(present(&hits, 0, 9), mask(&["total", "due"]));
    }

    #[test]
    fn anchored_iteration_equals_find_iter() {
        let pattern = r"(?-u:\b)(?:tel|phone)(?-u:\b)[: ]*(?P<n>[0-9]+)|\+[0-9]+";
        let hay = "tel: 12 phone 34 +56 tel+78 xphone 9";
        let re = regex(pattern);
        let starts = (0..hay.len()).filter(|&i| hay[i..].starts_with(['t', 'p', '+']));
        let got: Vec<_> = anchored_iter(&re, hay, starts).map(|c| c.get_match().unwrap().range()).collect();
        let want: Vec<_> = regex::Regex::new(pattern).unwrap().find_iter(hay).map(|m| m.range()).collect();
        assert_eq!(got, want);
    }
}
