//! Rule-based document type: `invoice | receipt | email | contract | other`.
//! Title words near the top weigh most; mail headers make an `email` unless
//! the body is clearly an invoice, receipt or contract. The patterns are
//! lower case and run on [`Folded::lower`].

use super::{keywords, Folded};
use regex::Regex;
use std::sync::LazyLock;

struct Rules {
    title: Regex,
    /// Every match starts at one of [`CUE_STARTS`] (same rule).
    cues: keywords::Regex,
}

/// Per rule (in [`RULES`] order), words one of which a title needs and
/// words one of which a cue needs: a cheap check that skips a regex pass.
const WORDS: [(&[&str], &[&str]); 3] = [
    (&["invoice", "rechnung", "facture", "bill"], &["invoice", "bill", "due", "payment terms", "please pay"]),
    (
        &["receipt", "kassenbon", "quittung"],
        &["thank you for", "cash", "card payment", "paid by", "visa", "mastercard", "till", "register", "receipt"],
    ),
    (
        &["agreement", "contract", "memorandum of understanding", "terms of service", "lease"],
        &[
            "hereinafter", "whereas", "witness whereof", "governing law", "terminat", "the parties", "party", "parties",
            "shall", "obligations", "effective date", "signature",
        ],
    ),
];

/// Per rule, the words its cue alternatives start with.
const CUE_STARTS: [&[&str]; 3] = [
    &["invoice", "bill", "amount", "total", "balance", "due", "payment", "please"],
    &["thank", "cash", "change", "card", "paid", "visa", "mastercard", "till", "register", "receipt"],
    &[
        "hereinafter", "whereas", "witness", "governing", "terminat", "the parties", "party", "parties", "shall",
        "obligations", "effective", "signature",
    ],
];

/// [`WORDS`] and [`CUE_STARTS`] as keyword masks: (title, cue, cue starts) per rule.
static MASKS: LazyLock<[(keywords::Mask, keywords::Mask, keywords::Mask); 3]> = LazyLock::new(|| {
    std::array::from_fn(|i| (keywords::mask(WORDS[i].0), keywords::mask(WORDS[i].1), keywords::mask(CUE_STARTS[i])))
});

static RULES: LazyLock<[(&str, Rules); 3]> = LazyLock::new(|| {
    let r = |t: &str, c: &str| Rules { title: Regex::new(t).unwrap(), cues: keywords::regex(c) };
    [
        (
            "invoice",
            r(
                r"(?-u:\b)(?:(?:tax |commercial |proforma )?invoice|rechnung|facture|bill)(?-u:\b)",
                r"(?-u:\b)(?:invoice[[\t\n\x0B\x0C\r\x20]_.\-]*(?:number|no|#|date)|bill(?:ed)? to|amount due|total due|balance due|due date|payment terms|please pay)(?-u:\b)",
            ),
        ),
        (
            "receipt",
            r(
                r"(?-u:\b)(?:(?:sales |payment |cash )?receipt|kassenbon|quittung)(?-u:\b)",
                r"(?-u:\b)(?:thank you for (?:your purchase|shopping|your visit)|cashier|change due|cash|card payment|paid by|visa|mastercard|till|register|receipt (?:no|number|#))(?-u:\b)",
            ),
        ),
        (
            "contract",
            r(
                r"(?-u:\b)(?:agreement|contract|memorandum of understanding|terms of service|lease)(?-u:\b)",
                r"(?-u:\b)(?:hereinafter|whereas|witness whereof|governing law|terminat(?:e|ion)|the parties|party|parties|shall|obligations|effective date|signature)(?-u:\b)",
            ),
        ),
    ]
});

/// The most a rule after the first (`invoice`, the only one with the
/// invoice-number bonus) can score: a title (3) and four cues.
const MAX_SCORE_AFTER_FIRST: usize = 3 + 4;

/// Classifies `body` (the text after any mail headers); `mail` says the
/// document came with mail headers; `title` is the kind a title line in
/// the head names in any of the six languages ([`Heading`](super::rank::heading::Heading)),
/// counted like a title the rules know.
pub fn classify(folded: Folded, mail: bool, has_invoice_number: bool, title: Option<&str>) -> &'static str {
    classify_counting(folded, mail, has_invoice_number, title, true)
}

/// [`classify`]; `stop_at_max` ends the first rule's cue count once its
/// score reaches [`MAX_SCORE_AFTER_FIRST`] (`false`: the reference, four
/// cues at most, that the tests compare it with). From that score on the
/// result is the same: the first rule is best whatever its score, the later
/// rules are skipped, and any score >= 5 names it. An invoice with a title
/// and a number needs one cue, where four cost four anchored searches and
/// the failed ones between.
fn classify_counting(folded: Folded, mail: bool, has_invoice_number: bool, title: Option<&str>, stop_at_max: bool) -> &'static str {
    let body = folded.lower;
    // The head: the first six non-empty lines, where titles sit.
    let mut head_end = body.len();
    let mut seen = 0;
    for (i, end) in folded.lines() {
        // (`lines` drops a `\r` before the `\n`: `trim` would have.)
        if !body[i..end].trim().is_empty() {
            seen += 1;
            if seen > 6 {
                head_end = i;
                break;
            }
        }
    }
    let head = &body[..head_end];
    let mut best = ("other", 0usize);
    for (rank, ((name, rules), &(title_words, cue_words, cue_starts))) in RULES.iter().zip(MASKS.iter()).enumerate() {
        if best.1 >= MAX_SCORE_AFTER_FIRST {
            break; // no later rule can score more (an invoice with a title, a number and a cue)
        }
        let mut score = 0;
        // A title is a short line of the head; a mention in prose counts little.
        let is_title = |l: &str| {
            let l = l.trim().trim_end_matches([':', '.']);
            l.len() <= 48 && rules.title.find_iter(l).any(|m| m.start() == 0 || m.end() == l.len())
        };
        // Every title match holds a title word, so only the head lines
        // that hold one (a keyword hit) are tried.
        let title_line = |p: usize| is_title(&head[folded.line_start(p)..folded.line_end(p)]);
        if !folded.has(title_words) {
        } else if folded.starts(title_words).take_while(|&p| p < head_end).any(title_line) {
            score += 3;
        } else if folded.has_whole_word(title_words) {
            // = `rules.title.is_match(body)`: a title match holds its title
            // word between word boundaries, and the word alone matches.
            score += 1;
        }
        if score < 3 && title == Some(*name) {
            score = 3;
        }
        if *name == "invoice" && has_invoice_number {
            score += 3;
        }
        if folded.has(cue_words) {
            // Every cue starts with `\b` before a letter.
            let starts = folded.starts(cue_starts).filter(|&p| keywords::word_start(body.as_bytes(), p));
            let cues = if stop_at_max && rank == 0 { 4.min(MAX_SCORE_AFTER_FIRST.saturating_sub(score)) } else { 4 };
            score += keywords::anchored_matches(&rules.cues, body, starts).take(cues).count();
        }
        if score > best.1 {
            best = (name, score);
        }
    }
    match best {
        (name, s) if s >= 5 => name,
        (name, s) if s >= 3 && !mail => name,
        _ if mail => "email",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    fn classify(t: &str, mail: bool, inv: bool) -> &'static str {
        super::super::with_folded(t, |f| super::classify(f, mail, inv, None))
    }

    #[test]
    fn whole_title_words_equal_the_title_regexes() {
        for t in [
            "please pay", "lease", "a lease.", "released", "subcontract", "contract_x", "the contract", "invoices",
            "tax invoice", "x-invoice-y", "rebill", "bill", "receipts", "receipt1", "terms of service", "memorandum of understanding",
            "kassenbon", "quittung:", "facture", "rechnung", "",
        ] {
            super::super::with_folded(t, |f| {
                for (rule, masks) in super::RULES.iter().zip(super::MASKS.iter()) {
                    assert_eq!(f.has_whole_word(masks.0), rule.1.title.is_match(f.lower), "{t:?} {}", rule.0);
                }
            });
        }
    }

    /// Stopping the first rule's cue count at the score that decides gives
    /// the full count's kind, on generated documents of every class and
    /// format and on the field-extraction fuzz inputs (when present).
    #[test]
    fn stopping_at_the_deciding_score_equals_the_full_count() {
        use docflow_corpus::DocFormat;
        let mut texts: Vec<String> = crate::test_inputs::generated(11, 600, &DocFormat::ALL)
            .iter()
            .filter_map(|raw| crate::parse_document(raw, &crate::ParseLimits::default()).ok())
            .map(|o| o.text)
            .collect();
        assert!(texts.len() > 500, "the generated documents parse");
        texts.extend(crate::test_inputs::fuzz_corpus("extract_fields"));
        for t in &texts {
            for mail in [false, true] {
                for inv in [false, true] {
                    super::super::with_folded(t, |f| {
                        for title in [None, Some("invoice"), Some("receipt")] {
                            assert_eq!(
                                super::classify_counting(f, mail, inv, title, true),
                                super::classify_counting(f, mail, inv, title, false),
                                "{t:?}"
                            );
                        }
                    });
                }
            }
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(classify("INVOICE\nInvoice No: 1\nBill to: X\nTotal due: 5", false, true), "invoice");
        assert_eq!(classify("Corner Shop\nRECEIPT\n2 x Tea 3.00\nTOTAL 3.00\nCash 5.00", false, false), "receipt");
        assert_eq!(classify("SERVICE AGREEMENT\nbetween A and B\nThe parties agree", false, false), "contract");
        assert_eq!(classify("Hi Bob,\nplease find the invoice attached.\nRegards", true, false), "email");
        assert_eq!(classify("Meeting notes", false, false), "other");
        assert_eq!(classify("Hello,\nno invoice here, just a note.", false, false), "other");
    }
}
