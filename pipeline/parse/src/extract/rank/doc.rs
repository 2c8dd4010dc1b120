//! The view of a document the candidate generators share: its lines, each
//! with an ASCII-lower-cased twin (same byte offsets), and the few
//! document-wide facts several features need.

/// One non-empty line.
#[derive(Debug, Clone)]
pub struct Line<'a> {
    pub text: &'a str,
    /// `text` with ASCII letters lower-cased: byte offsets are `text`'s.
    pub lower: String,
    /// The dates written on the line (day first where ambiguous), read
    /// once for every generator.
    pub dates: Vec<super::dates::Found>,
    /// Its label words ([`super::lexicon::hits`]), by end.
    pub hits: Vec<super::lexicon::Hit>,
}

impl Line<'_> {
    /// End of the last label of `group` that ends at or before `at`.
    pub fn last_end(&self, group: super::lexicon::Group, at: usize) -> Option<usize> {
        super::lexicon::last_end_in(&self.hits, group, at)
    }

    /// Whether the line holds a label of `group`.
    pub fn has(&self, group: super::lexicon::Group) -> bool {
        self.hits.iter().any(|h| h.group == group)
    }
}

/// The ranker reads the head of very long documents only.
const MAX_LINES: usize = 400;

/// The lines of `text` the ranker numbers: non-empty, right-trimmed, at
/// most [`MAX_LINES`]. A candidate's `line` indexes these.
pub fn line_texts(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).take(MAX_LINES)
}

/// A document as lines.
#[derive(Debug, Clone)]
pub struct Doc<'a> {
    pub lines: Vec<Line<'a>>,
    /// The sender's display name (`From: Acme Billing <…>`), when an e-mail.
    pub sender_name: Option<String>,
    /// Domains of the e-mail and web addresses the document mentions (lower case).
    pub domains: Vec<String>,
    /// What its head says it is (title line, number label).
    pub heading: super::heading::Heading,
    /// The document prefers month-first for `a/b/yyyy` dates (US style).
    pub month_first: bool,
}

impl<'a> Doc<'a> {
    /// Splits `text` into its non-empty lines (at most `max_lines`: the
    /// ranker reads the head of very long documents only).
    pub fn new(text: &'a str, sender_name: Option<String>, locale: Option<&str>) -> Doc<'a> {
        let lines: Vec<Line<'a>> = line_texts(text)
            .map(|t| {
                let lower = t.to_ascii_lowercase();
                let dates = super::dates::dates_in_line(&lower, false);
                let hits = super::lexicon::hits(&lower);
                Line { text: t, lower, dates, hits }
            })
            .collect();
        let mut domains = Vec::new();
        for l in lines.iter().filter(|l| l.lower.contains('@') || l.lower.contains("www.") || l.lower.contains("http")) {
            for word in l.lower.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '(' | ')' | ',' | ';')) {
                let host = if let Some((_, d)) = word.split_once('@') {
                    d
                } else if let Some(rest) = word.strip_prefix("www.") {
                    rest
                } else if let Some(rest) = word.strip_prefix("https://").or_else(|| word.strip_prefix("http://")) {
                    rest.trim_start_matches("www.").split('/').next().unwrap_or("")
                } else {
                    continue;
                };
                let host = host.trim_end_matches(['.', ':']);
                if host.contains('.') && !domains.iter().any(|d: &String| d == host) {
                    domains.push(host.to_string());
                }
            }
        }
        let month_first = match locale {
            Some(l) => l.to_ascii_lowercase().replace('_', "-").ends_with("-us"),
            None => lines.iter().any(|l| l.text.contains('$') || l.lower.contains("usd")),
        };
        let heading = super::heading::of_lines(lines.iter().map(|l| (l.lower.as_str(), l.hits.as_slice())));
        Doc { lines, sender_name, domains, month_first, heading }
    }

    /// Position of line `i` in the document, from 0 (first) to 1 (last).
    pub fn rel(&self, i: usize) -> f32 {
        if self.lines.len() <= 1 {
            0.0
        } else {
            i as f32 / (self.lines.len() - 1) as f32
        }
    }
}
