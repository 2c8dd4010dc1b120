//! Which layout a document has: the key corrections are learned under.
//! Stable identifiers of the sender come first (its e-mail domain, its
//! IBAN); otherwise the shape of the document's first lines, where a
//! sender prints its name and address the same way on every document.

use docflow_schemas::BusinessFields;

/// Lines from the top that make a layout's shape.
const TOP_LINES: usize = 2;

/// The layout fingerprint of a document: `domain:…`, `iban:…` or `top:…`.
pub fn of(text: &str, sender_email: Option<&str>, fields: &BusinessFields) -> Option<String> {
    if let Some(domain) = sender_email.and_then(|e| e.rsplit_once('@')).map(|(_, d)| d.trim().trim_end_matches('>').to_ascii_lowercase()) {
        if domain.contains('.') {
            return Some(format!("domain:{domain}"));
        }
    }
    if let Some(iban) = &fields.iban {
        return Some(format!("iban:{}", iban.split_whitespace().collect::<String>().to_ascii_uppercase()));
    }
    let top: Vec<String> = text.lines().map(shape_of_name).filter(|l| l.len() >= 3).take(TOP_LINES).collect();
    (!top.is_empty()).then(|| format!("top:{}", top.join("|")))
}

/// A line reduced to its letters, lower case, single spaces: numbers,
/// punctuation and spacing vary between documents of one sender.
fn shape_of_name(line: &str) -> String {
    let mut out = String::new();
    for word in line.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_first_then_the_top_lines() {
        let f = BusinessFields::default();
        assert_eq!(of("x", Some("Billing <bill@acme.example>"), &f).as_deref(), Some("domain:acme.example"));
        let with_iban = BusinessFields { iban: Some("DE89 3704 0044 0532 0130 00".into()), ..Default::default() };
        assert_eq!(of("x", None, &with_iban).as_deref(), Some("iban:DE89370400440532013000"));
        let a = of("KEDAI MAJU S/B (12345-A)\n  No 5, Jalan 1\nTOTAL 5.00", None, &f);
        let b = of("Kedai Maju S/B (12345-A)\nNo 17, Jalan 1\nTOTAL 9.90", None, &f);
        assert_eq!(a, b);
        assert_ne!(a, of("Other Shop\nNo 5, Jalan 1", None, &f));
    }
}
