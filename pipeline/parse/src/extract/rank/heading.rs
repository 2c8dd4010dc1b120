//! What the head of a document says it is, read with the six-language
//! lexicon: a title line (`FATTURA`, `Factuur 2024-17`, `Kassenbon`) and
//! whether a document-number label follows. The rule-based document type
//! knows titles in a few languages only; this gives it the others.

use super::lexicon::{self, Group};

/// Non-empty lines read from the top.
const HEAD_LINES: usize = 12;

/// Title words that name a receipt; every other title word names an
/// invoice (credit notes included: they are invoices with a negative total).
const RECEIPT_TITLES: &[&str] = &["receipt", "quittung", "kassenbon", "reçu", "recibo", "ricevuta", "scontrino", "bon", "kassabon"];

/// The head of a document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Heading {
    /// `invoice` or `receipt`, when a short head line starts with a title word.
    pub title: Option<&'static str>,
    /// A document-number label (`Rechnungsnummer`, `N° de facture`, …) in the head.
    pub number_label: bool,
}

impl Heading {
    /// An invoice title with a document-number label: what the rules count
    /// as an invoice number when deciding the type.
    pub fn numbered_invoice(&self) -> bool {
        self.title == Some("invoice") && self.number_label
    }
}

/// Reads the head of `text`.
pub fn read(text: &str) -> Heading {
    let lines: Vec<(String, Vec<lexicon::Hit>)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(HEAD_LINES)
        .map(|l| {
            let lower = l.to_ascii_lowercase();
            let hits = lexicon::hits(&lower);
            (lower, hits)
        })
        .collect();
    of_lines(lines.iter().map(|(l, h)| (l.as_str(), h.as_slice())))
}

/// The heading of lines already lower-cased and searched for labels
/// (`(lower, hits)`, non-empty lines from the top).
pub fn of_lines<'a>(lines: impl Iterator<Item = (&'a str, &'a [lexicon::Hit])>) -> Heading {
    let mut h = Heading::default();
    for (lower, hits) in lines.take(HEAD_LINES) {
        h.number_label |= hits.iter().any(|x| x.group == Group::Number);
        if h.title.is_none() && lower.trim().len() <= 48 && !hits.iter().any(|x| x.group == Group::Buyer) {
            if let Some((kind, end)) = title_kind(lower, hits) {
                h.title = Some(kind);
                // `CREDIT NOTE CN-2024-7`: the title labels the number after it.
                h.number_label |= lower[end..].bytes().any(|b| b.is_ascii_digit());
            }
        }
    }
    h
}

/// Words that may stand before a title word (`Tax Invoice`, `Sales Receipt`).
const QUALIFIERS: &[&str] = &["tax", "commercial", "proforma", "pro-forma", "sales", "cash", "vat", "final", "original", "copy", "simplified", "credit"];

/// The kind named by a title that starts `lower` (after a qualifier at
/// most), and where the title ends.
fn title_kind(lower: &str, hits: &[lexicon::Hit]) -> Option<(&'static str, usize)> {
    let mut words = lower.split_whitespace();
    let first = words.next()?;
    let offset = |w: &str| w.as_ptr() as usize - lower.as_ptr() as usize;
    let mut starts = vec![offset(first)];
    if QUALIFIERS.contains(&first.trim_end_matches([':', '.'])) {
        starts.extend(words.next().map(offset));
    }
    for hit in hits.iter().filter(|x| x.group == Group::Title) {
        // Which title word (multi-word ones included) ends there.
        let Some(word) = lexicon::TITLE_WORDS_WORDS.iter().filter(|w| lower[..hit.end].ends_with(*w)).max_by_key(|w| w.len()) else {
            continue;
        };
        if starts.contains(&(hit.end - word.len())) {
            return Some((if RECEIPT_TITLES.contains(word) { "receipt" } else { "invoice" }, hit.end));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_in_six_languages() {
        assert_eq!(read("Fornitore: X S.r.l.\nVia Roma 1\n\nFATTURA\nNumero fattura: IT/1").title, Some("invoice"));
        assert_eq!(read("FACTUUR 2024-17\nFactuurdatum: 1-2-2024").title, Some("invoice"));
        assert_eq!(read("Bäckerei Korn\nKassenbon\nBrot 2,50").title, Some("receipt"));
        assert_eq!(read("Tax Invoice\nNo 5").title, Some("invoice"));
        assert!(read("Fornitore: X\nFATTURA\nNumero fattura: IT/1").number_label);
        assert_eq!(read("NOTA DE CRÉDITO\nNº factura: 7").title, Some("invoice"));
        assert!(read("Acme Ltd\nCREDIT NOTE CN-2024-7").numbered_invoice());
    }

    #[test]
    fn buyer_lines_and_prose_are_no_title() {
        assert_eq!(read("Bill To:\nACME").title, None);
        assert_eq!(read("Please find our invoice attached for the work in May.").title, None);
        assert_eq!(read("Hello,\nthe invoice follows").title, None);
    }
}
