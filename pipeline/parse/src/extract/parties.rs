//! Contract parties: `between X ("Provider") and Y ("Client")`, or labelled
//! lines `Party A: X`, `Provider: X`, `client.name: Y`. The patterns are
//! lower case and run on [`Folded::lower`].

use super::Folded;
use regex::Regex;
use std::sync::LazyLock;

static LABEL_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?m)^[\t\n\x0B\x0C\r\x20]*(?:[a-z_]+\.)*(?:party[[\t\n\x0B\x0C\r\x20]_]*(?:a|b|1|2|one|two)|provider|service[[\t\n\x0B\x0C\r\x20]_]provider|client|contractor|customer|licensor|licensee|buyer|seller|supplier|landlord|tenant|lessor|lessee)(?:[[\t\n\x0B\x0C\r\x20]_.]*name)?[\t\n\x0B\x0C\r\x20]*[:|][\t\n\x0B\x0C\r\x20]*(?P<v>\S.*?)[\t\n\x0B\x0C\r\x20]*$",
    )
    .unwrap()
});

static BETWEEN_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?-u:\b)between(?-u:\b)[[\t\n\x0B\x0C\r\x20]:]+").unwrap());

/// Cuts a party clause down to the name: role parentheticals, quotes,
/// `, a company registered …` and trailing punctuation go.
fn clean(s: &str) -> Option<String> {
    let mut s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    for cut in [" (", "(", ", a ", ", an ", ", registered", ", with ", ", having", ", hereinafter", " hereinafter", ", whose", ", of "] {
        if let Some(i) = s.find(cut) {
            s.truncate(i);
        }
    }
    let s = s.trim().trim_start_matches("the ").trim_matches(|c: char| c == ',' || c == ';' || c == '"' || c == '“' || c == '”' || c.is_whitespace());
    let s = match s.strip_suffix('.') {
        // A sentence's full stop goes; an abbreviation's (`Inc.`, `S.A.`) stays.
        Some(x) if !super::vendor::ends_with_abbreviation(x) => x,
        _ => s,
    };
    (s.len() >= 2 && s.len() <= 120 && s.chars().next().is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())).then(|| s.to_string())
}

/// End of the clause that holds party B: `;`, a line break, or a full stop
/// that does not belong to an abbreviation (`Inc.`, `B.V.`).
fn sentence_end(s: &str) -> usize {
    for (i, c) in s.char_indices() {
        match c {
            ';' | '\n' => return i,
            '.' => {
                let prefix = &s[..i];
                let last = prefix.rsplit([' ', '(']).next().unwrap_or("");
                // `B.V`, `S.A`: single letters joined by dots are abbreviations.
                let dotted = !last.is_empty() && last.split('.').all(|p| p.len() == 1);
                let next = s[i + 1..].chars().next();
                let ends = next.is_none_or(|n| n.is_whitespace() || n == '"' || n == ')');
                if ends && !super::vendor::ends_with_abbreviation(prefix) && !dotted {
                    return i;
                }
            }
            _ => {}
        }
    }
    s.len()
}

/// Splits `X (…) and Y (…)` at the first ` and ` outside parentheses.
fn split_and(s: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    let lower = s.to_ascii_lowercase();
    let b = lower.as_bytes();
    for i in 0..b.len() {
        match b[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b' ' | b'\n' if depth <= 0 && lower[i..].starts_with(" and ") || lower[i..].starts_with("\nand ") => {
                return Some((&s[..i], &s[i + 5..]));
            }
            _ => {}
        }
    }
    None
}

/// The parties of a contract, in order of appearance.
pub fn parties(f: Folded) -> Vec<String> {
    let text = f.text;
    let mut out: Vec<String> = Vec::new();
    let push = |p: String, out: &mut Vec<String>| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    if let Some(m) = BETWEEN_RE.find(f.lower) {
        let rest = &text[m.end()..];
        let rest = rest[..super::date::floor_char(rest, 400)].replace('\n', " ");
        let rest = rest.as_str();
        if let Some((a, b)) = split_and(rest) {
            // B ends at the end of its clause.
            let b = &b[..sentence_end(b)];
            if let (Some(a), Some(b)) = (clean(a), clean(b)) {
                push(a, &mut out);
                push(b, &mut out);
            }
        }
    }
    if out.is_empty() {
        for c in LABEL_RE.captures_iter(f.lower) {
            if let Some(p) = clean(&text[c.name("v").unwrap().range()]) {
                push(p, &mut out);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    fn parties(t: &str) -> Vec<String> {
        super::super::with_folded(t, super::parties)
    }

    #[test]
    fn between_and_labels() {
        assert_eq!(
            parties("This Agreement is made between Acme Ltd, a company registered in England (\"Provider\") and Beta GmbH (the \"Client\")."),
            vec!["Acme Ltd", "Beta GmbH"]
        );
        assert_eq!(parties("Party A: Smith & Co. Inc.\nParty B: Jones LLC\n"), vec!["Smith & Co. Inc.", "Jones LLC"]);
        assert_eq!(parties("provider.name: Acme AG\nclient.name: Beta Ltd"), vec!["Acme AG", "Beta Ltd"]);
    }
}
