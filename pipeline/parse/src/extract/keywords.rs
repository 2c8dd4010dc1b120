//! One keyword scan per document, and anchored regex searches at its hits.
//!
//! Every label regex of the extractor either needs a keyword (`total`,
//! `vendor`, `tel`, …) or starts at one. Instead of one `str::contains` per
//! keyword and one regex pass over the whole text per field, the lower-cased
//! text is scanned once for every occurrence of every keyword (overlapping
//! ones included: `telephone` holds `tel` and `phone`): an AVX2 pre-filter
//! (Teddy-style nibble tables over the first three bytes, 32 positions a
//! step) lets about one position in ten through, and there the three bytes
//! are looked up in a small hash table of the keywords' first three bytes,
//! whose few keywords are compared (without AVX2, a 4 KiB trigram bit table
//! picks the candidates). (An overlapping Aho-Corasick DFA took 3× as long
//! as the scalar scan, and a SIMD prefix search restarted at every hit
//! longer still: common prefixes such as `the`, `par` and `con` hit too
//! often.) A field
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
/// (`+`, the one shorter keyword, is tested on its own), a hash table from
/// those three bytes to the keywords that start with them, shortest first
/// (so the hits at one position come out ordered by end), and a vectorised
/// pre-filter.
struct Scanner {
    trigrams: [u64; 512],
    /// Open addressing on [`prefix_key`]: (key, first index in `by_prefix`,
    /// count); key 0 is an empty slot (no keyword starts with a NUL).
    prefix_slots: [(u32, u8, u8); 256],
    /// Keyword indices grouped by their first three bytes, each group shortest first.
    by_prefix: Vec<u8>,
    /// Nibble tables of the pre-filter, as in Teddy (Hyperscan's literal
    /// matcher): the keywords fall into 8 buckets by first byte, and
    /// `tables[2k]` (low nibble) and `tables[2k + 1]` (high nibble) give the
    /// buckets whose keywords may have that byte at offset `k` (k < 3). A
    /// position where one bucket passes all six lookups is a candidate; a
    /// keyword's start always is, so no hit is lost.
    tables: [[u8; 16]; 6],
    /// Whether this CPU runs the AVX2 pre-filter.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    avx2: bool,
}

/// A 15-bit digest of three bytes: the low five bits of each, which tell
/// lower-case letters (and the space) apart; other bytes may collide with
/// them, which only costs a comparison.
#[inline(always)]
fn trigram(a: u8, b: u8, c: u8) -> usize {
    ((a as usize & 31) << 10) | ((b as usize & 31) << 5) | (c as usize & 31)
}

/// Index of `+` in [`KEYWORDS`].
const fn plus_index() -> u8 {
    let mut i = 0;
    while KEYWORDS[i].len() != 1 || KEYWORDS[i].as_bytes()[0] != b'+' {
        i += 1;
    }
    i as u8
}
const PLUS: u8 = plus_index();

static SCANNER: LazyLock<Scanner> = LazyLock::new(|| {
    assert!(KEYWORDS.len() <= 128);
    assert!(KEYWORDS.iter().all(|k| k.len() >= 3 || *k == "+"));
    assert!(KEYWORDS.iter().all(|k| k.is_ascii()));
    let mut sc = Scanner {
        trigrams: [0; 512],
        prefix_slots: [(0, 0, 0); 256],
        by_prefix: Vec::new(),
        tables: [[0; 16]; 6],
        avx2: avx2_available(),
    };
    // Buckets: `+` alone in bucket 0 (any two bytes may follow it), the
    // other keywords by first byte over buckets 1..8: an assignment that
    // lets few positions of invoice text through (a local search over
    // generated invoices: 11% of positions, where letters in alphabet
    // order, three to a bucket, let 20% through). Any assignment finds
    // every hit; a first byte not listed goes by its value.
    let bucket = |a: u8| match a {
        b'b' | b'f' | b'k' | b'p' => 1,
        b'e' | b'h' => 2,
        b'c' | b'g' | b'l' => 3,
        b'd' | b'i' | b'm' => 4,
        b'a' | b'o' => 5,
        b's' | b't' => 6,
        b'q' | b'r' | b'v' | b'w' => 7,
        _ => 1 + a as usize % 7,
    };
    sc.tables[0][(b'+' & 15) as usize] |= 1;
    sc.tables[1][(b'+' >> 4) as usize] |= 1;
    for t in &mut sc.tables[2..] {
        for x in t.iter_mut() {
            *x |= 1;
        }
    }
    for k in KEYWORDS {
        if let [a, b, c, ..] = *k.as_bytes() {
            let t = trigram(a, b, c);
            sc.trigrams[t >> 6] |= 1 << (t & 63);
            let bit = 1u8 << bucket(a);
            for (j, x) in [a, b, c].into_iter().enumerate() {
                sc.tables[2 * j][(x & 15) as usize] |= bit;
                sc.tables[2 * j + 1][(x >> 4) as usize] |= bit;
            }
        }
    }
    // Groups by first three bytes, shortest keyword first, then one slot each.
    let mut long: Vec<u8> = (0..KEYWORDS.len() as u8).filter(|&i| KEYWORDS[i as usize].len() >= 3).collect();
    long.sort_by_key(|&i| (prefix_key(KEYWORDS[i as usize].as_bytes()), KEYWORDS[i as usize].len()));
    for group in long.chunk_by(|&x, &y| prefix_key(KEYWORDS[x as usize].as_bytes()) == prefix_key(KEYWORDS[y as usize].as_bytes())) {
        let key = prefix_key(KEYWORDS[group[0] as usize].as_bytes());
        let mut h = slot_of(key);
        while sc.prefix_slots[h].0 != 0 {
            h = (h + 1) & 255;
        }
        sc.prefix_slots[h] = (key, sc.by_prefix.len() as u8, group.len() as u8);
        sc.by_prefix.extend_from_slice(group);
    }
    assert!(sc.by_prefix.len() < 256 && sc.prefix_slots.iter().filter(|s| s.0 != 0).count() < 192);
    sc
});

/// The first three bytes of `b` as a hash key (non-zero for keywords).
#[inline(always)]
fn prefix_key(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], 0])
}

/// The home slot of a key in `prefix_slots` (multiplicative hashing).
#[inline(always)]
fn slot_of(key: u32) -> usize {
    (key.wrapping_mul(0x9E37_79B1) >> 24) as usize
}

fn avx2_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One keyword occurrence: byte offsets in the whole document and the keyword's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub start: u32,
    pub end: u32,
    pub word: u8,
}

/// Every keyword occurrence in `lower`, ordered by start, then end.
pub fn scan(lower: &str, out: &mut Vec<Hit>) {
    out.clear();
    let sc = &*SCANNER;
    let b = lower.as_bytes();
    #[cfg(target_arch = "x86_64")]
    if sc.avx2 {
        // SAFETY: the CPU has AVX2 (checked when the scanner was built).
        unsafe { scan_avx2(sc, b, out) };
        return;
    }
    scan_scalar(sc, b, 0, out);
}

/// The hits starting at `s`, a candidate position (any position is fine:
/// this is the exact test).
#[inline(always)]
fn hits_at(sc: &Scanner, b: &[u8], s: usize, out: &mut Vec<Hit>) {
    if b[s] == b'+' {
        out.push(Hit { start: s as u32, end: s as u32 + 1, word: PLUS });
        return;
    }
    if s + 2 >= b.len() {
        return;
    }
    let key = prefix_key(&b[s..]);
    let mut h = slot_of(key);
    let (first, n) = loop {
        match sc.prefix_slots[h] {
            (0, _, _) => return, // no keyword starts with these three bytes
            (k, first, n) if k == key => break (first as usize, n as usize),
            _ => h = (h + 1) & 255,
        }
    };
    let rest = &b[s..];
    for &i in &sc.by_prefix[first..first + n] {
        let k = KEYWORDS[i as usize].as_bytes();
        // A byte loop: these are short, and a memcmp call costs more.
        if rest.len() >= k.len() && k[3..].iter().zip(&rest[3..]).all(|(x, y)| x == y) {
            out.push(Hit { start: s as u32, end: (s + k.len()) as u32, word: i });
        }
    }
}

/// The scan from `from` on without SIMD: 64 positions at a time, a mask of
/// the candidates without branches (trigram bit or `+`), then only the
/// candidates are looked at.
fn scan_scalar(sc: &Scanner, b: &[u8], from: usize, out: &mut Vec<Hit>) {
    for block in (from..b.len()).step_by(64) {
        let mut m = 0u64;
        let window = &b[block..(block + 66).min(b.len())];
        for (j, w) in window.windows(3).enumerate() {
            let t = trigram(w[0], w[1], w[2]);
            m |= (sc.trigrams[t >> 6] >> (t & 63) & 1 | (w[0] == b'+') as u64) << j;
        }
        // The last two positions of the text have no three bytes: only `+`.
        let tail = window.len().saturating_sub(2);
        for (j, &c) in window.iter().enumerate().take(64).skip(tail) {
            m |= ((c == b'+') as u64) << j;
        }
        while m != 0 {
            let s = block + m.trailing_zeros() as usize;
            m &= m - 1;
            hits_at(sc, b, s, out);
        }
    }
}

/// The scan with the AVX2 pre-filter: 32 positions per step, six nibble
/// lookups (`vpshufb`) and two ANDs give the candidates; the last
/// positions (fewer than 34 bytes left) go to [`scan_scalar`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scan_avx2(sc: &Scanner, b: &[u8], out: &mut Vec<Hit>) {
    use std::arch::x86_64::*;
    let t: [__m256i; 6] = std::array::from_fn(|i| _mm256_broadcastsi128_si256(_mm_loadu_si128(sc.tables[i].as_ptr().cast())));
    let low = _mm256_set1_epi8(0x0f);
    let zero = _mm256_setzero_si256();
    let mut i = 0;
    while i + 34 <= b.len() {
        let mut acc = _mm256_set1_epi8(-1);
        for k in 0..3 {
            // SAFETY: i + k + 32 <= b.len().
            let v = _mm256_loadu_si256(b.as_ptr().add(i + k).cast());
            let lo = _mm256_and_si256(v, low);
            let hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
            let r = _mm256_and_si256(_mm256_shuffle_epi8(t[2 * k], lo), _mm256_shuffle_epi8(t[2 * k + 1], hi));
            acc = _mm256_and_si256(acc, r);
        }
        let mut m = !(_mm256_movemask_epi8(_mm256_cmpeq_epi8(acc, zero)) as u32);
        while m != 0 {
            let s = i + m.trailing_zeros() as usize;
            m &= m - 1;
            hits_at(sc, b, s, out);
        }
        i += 32;
    }
    scan_scalar(sc, b, i, out);
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

/// The match ranges [`anchored_iter`] would give, without capture groups:
/// only the lazy DFA's half search (an anchored match starts where it was
/// searched; the half search gives its end), for callers that need no group.
pub fn anchored_matches<'r, I: IntoIterator<Item = usize>>(re: &'r Regex, hay: &'r str, starts: I) -> AnchoredMatches<'r, I::IntoIter> {
    AnchoredMatches { re, hay, starts: starts.into_iter(), pos: 0 }
}

pub struct AnchoredMatches<'r, I> {
    re: &'r Regex,
    hay: &'r str,
    starts: I,
    /// End of the last match: the next one starts at or after it.
    pos: usize,
}

impl<I: Iterator<Item = usize>> Iterator for AnchoredMatches<'_, I> {
    type Item = std::ops::Range<usize>;

    fn next(&mut self) -> Option<std::ops::Range<usize>> {
        for s in self.starts.by_ref() {
            if s < self.pos || s >= self.hay.len() || !self.hay.is_char_boundary(s) {
                continue;
            }
            let input = Input::new(self.hay).span(s..self.hay.len()).anchored(Anchored::Yes);
            if let Some(end) = self.re.search_half(&input).map(|h| h.offset()) {
                self.pos = end;
                return Some(s..end);
            }
        }
        None
    }
}

/// The byte range of group `name` in `caps`. The index is found by
/// comparing the pattern's few group names (`get_group_by_name` hashes the
/// name with SipHash at every call: ≈ 250 instructions, most of a phone's
/// group reads).
pub fn group(caps: &Captures, name: &str) -> Option<std::ops::Range<usize>> {
    let pid = caps.pattern()?;
    let index = caps.group_info().pattern_names(pid).position(|n| n == Some(name))?;
    caps.get_group(index).map(|s| s.range())
}

/// Whether an ASCII word boundary (`(?-u:\b)`) lies before `hay[s]`, a
/// word byte: `s` is 0 or the byte before is no `[0-9A-Za-z_]`. Lets a
/// caller skip the anchored searches of a regex that starts with `\b`.
pub fn word_start(hay: &[u8], s: usize) -> bool {
    s == 0 || !(hay[s - 1].is_ascii_alphanumeric() || hay[s - 1] == b'_')
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

    /// Every occurrence of every keyword, the slow way, ordered by (start, end).
    fn naive(lower: &str) -> Vec<Hit> {
        let mut out = Vec::new();
        for s in 0..lower.len() {
            for (i, k) in KEYWORDS.iter().enumerate() {
                if lower.as_bytes()[s..].starts_with(k.as_bytes()) {
                    out.push(Hit { start: s as u32, end: (s + k.len()) as u32, word: i as u8 });
                }
            }
        }
        out.sort_by_key(|h| (h.start, h.end));
        out
    }

    #[test]
    fn scan_finds_every_occurrence_in_order() {
        let sample = "invoice no. 12 +49 30 total due: 5,00 € telephone\tparties party item+description+ as of as_ \
                      the parties thank you for your purchase; mastercard … würde + ";
        let mut texts: Vec<String> = (0..sample.len()).filter(|&i| sample.is_char_boundary(i)).map(|i| sample[i..].to_string()).collect();
        texts.extend((0..100).map(|n| format!("{}+{}tel", "x".repeat(n), "+".repeat(n % 3))));
        texts.push(sample.repeat(5));
        texts.push(String::new());
        for t in &texts {
            let want = naive(t);
            let mut got = Vec::new();
            scan(t, &mut got);
            assert_eq!(got, want, "{t:?}");
            let mut scalar = Vec::new();
            scan_scalar(&SCANNER, t.as_bytes(), 0, &mut scalar);
            assert_eq!(scalar, want, "scalar {t:?}");
        }
    }

    #[test]
    fn anchored_iteration_equals_find_iter() {
        let pattern = r"(?-u:\b)(?:tel|phone)(?-u:\b)[: ]*(?P<n>[0-9]+)|\+[0-9]+";
        let hay = "tel: 12 phone 34 +56 tel+78 xphone 9";
        let re = regex(pattern);
        let starts = (0..hay.len()).filter(|&i| hay[i..].starts_with(['t', 'p', '+']));
        let got: Vec<_> = anchored_iter(&re, hay, starts.clone()).map(|c| c.get_match().unwrap().range()).collect();
        let want: Vec<_> = regex::Regex::new(pattern).unwrap().find_iter(hay).map(|m| m.range()).collect();
        assert_eq!(got, want);
        assert_eq!(anchored_matches(&re, hay, starts).collect::<Vec<_>>(), want);
    }

    #[test]
    fn group_equals_get_group_by_name() {
        let re = regex(r"(?P<a>x)?(?P<b>y)|(?P<c>z)(?P<a2>w)?");
        for hay in ["xy", "y", "z", "zw", "q", "xzw"] {
            let mut caps = re.create_captures();
            re.captures(hay, &mut caps);
            for name in ["a", "b", "c", "a2", "missing", ""] {
                assert_eq!(group(&caps, name), caps.get_group_by_name(name).map(|s| s.range()), "{hay} {name}");
            }
        }
    }
}
