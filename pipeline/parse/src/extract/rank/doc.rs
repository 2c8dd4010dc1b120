//! The view of a document the candidate generators share: its lines, each
//! with an ASCII-lower-cased twin (same byte offsets), and the few
//! document-wide facts several features need.

/// One non-empty line.
#[derive(Debug, Clone)]
pub struct Line<'a> {
    pub text: &'a str,
    /// `text` with ASCII letters lower-cased: byte offsets are `text`'s.
    pub lower: String,
}

/// A document as lines.
#[derive(Debug, Clone)]
pub struct Doc<'a> {
    pub lines: Vec<Line<'a>>,
    /// The sender's display name (`From: Acme Billing <…>`), when an e-mail.
    pub sender_name: Option<String>,
    /// Domains of the e-mail and web addresses the document mentions (lower case).
    pub domains: Vec<String>,
    /// The document prefers month-first for `a/b/yyyy` dates (US style).
    pub month_first: bool,
}

impl<'a> Doc<'a> {
    /// Splits `text` into its non-empty lines (at most `max_lines`: the
    /// ranker reads the head of very long documents only).
    pub fn new(text: &'a str, sender_name: Option<String>, locale: Option<&str>) -> Doc<'a> {
        const MAX_LINES: usize = 400;
        let lines: Vec<Line<'a>> = text
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
            .take(MAX_LINES)
            .map(|t| Line { text: t, lower: t.to_ascii_lowercase() })
            .collect();
        let mut domains = Vec::new();
        for l in &lines {
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
        Doc { lines, sender_name, domains, month_first }
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
