//! Vendor candidates: the lines near the top, the lines after a seller
//! label, and an e-mail sender's display name; features say how much each
//! looks like an organisation's name (legal form, capitals, few digits, no
//! address or document words) and where it stands.

use super::doc::{Doc, Line};
use super::lexicon::{Group, NOT_NAME_WORDS, ORG_WORDS, ORG_WORDS_WORDS};
use super::Candidate;

/// Feature names, in the order of a candidate's feature vector.
pub const FEATURES: &[&str] = &[
    "bias",
    "line_rank",
    "first_text_line",
    "org_word",
    "upper_ratio",
    "digit_ratio",
    "letters",
    "not_name_word",
    "after_seller_label",
    "after_buyer_label",
    "sender_name",
    "in_web_domain",
    "repeats",
    "ends_with_colon",
    "legacy_rule",
    "many_words",
    "legal_form",
    "priced_line",
];

/// Expert prior for each feature.
pub const PRIOR: &[f32] = &[0.0, 2.0, 1.0, 2.0, 0.5, -3.0, 0.3, -2.0, 1.5, -3.0, 1.0, 1.5, 0.3, -2.0, 2.0, -1.5, PRIOR_LEGAL_FORM, -2.0];

/// A registered company name (`… SDN BHD`, `… GmbH`) over a trading name
/// printed above it (`SARANG CAFE` / `TRENDY FOODS SDN BHD`): the issuer of
/// an invoice is the legal entity, which is what a vendor master holds.
const PRIOR_LEGAL_FORM: f32 = 1.0;

const RANK: usize = 1;
const FIRST: usize = 2;
pub(crate) const ORG: usize = 3;
const UPPER: usize = 4;
const DIGITS: usize = 5;
const LETTERS: usize = 6;
const NOT_NAME: usize = 7;
const SELLER: usize = 8;
const BUYER: usize = 9;
const SENDER: usize = 10;
const DOMAIN: usize = 11;
const REPEATS: usize = 12;
const COLON: usize = 13;
pub(super) const LEGACY: usize = 14;
const MANY_WORDS: usize = 15;
const LEGAL_FORM: usize = 16;
const PRICED: usize = 17;

/// How many lines from the top are candidates.
const TOP_LINES: usize = 12;

/// A line's name part: after a seller `Label:` prefix, cut before wide
/// gaps (the next column) and trailing punctuation.
fn name_part<'a>(line: &Line<'a>) -> &'a str {
    let mut s = line.text.trim();
    if let Some(colon) = line.text.find(':') {
        let rest = line.text[colon + 1..].trim();
        if line.last_end(Group::Seller, colon).is_some() && !rest.is_empty() {
            s = rest;
        }
    }
    let cut = s.find("   ").or_else(|| s.find(" | ")).unwrap_or(s.len());
    s[..cut].trim().trim_end_matches([',', ';', ':', '-', '|']).trim()
}

/// Whether a line holds a price (`12.00`, `RM7,50`): `CAFE CREME  12.00
/// 2  24.00` is an item line, whatever business word it starts with.
/// Dates and phone numbers (`05.22.95.66.66`) have more than one separator
/// and are no price.
fn holds_price(line: &str) -> bool {
    line.split_whitespace().any(|token| {
        let token = token.trim_start_matches(|c: char| c.is_ascii_alphabetic() || c == '-').trim_end_matches(|c: char| !c.is_ascii_digit());
        let mut parts = token.split(['.', ',']);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(int), Some(cents), None) => !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) && cents.len() == 2 && cents.bytes().all(|b| b.is_ascii_digit()),
            _ => false,
        }
    })
}

/// Whether a word of `group` ends inside `span` of line `l`.
fn group_in(l: &Line, group: Group, span: std::ops::Range<usize>) -> bool {
    l.hits.iter().any(|h| h.group == group && h.end > span.start && h.end <= span.end)
}

/// Features of a name: `lower` is `text` lower-cased; `org` and `not_name`
/// say whether it holds a legal form or a word no name holds.
fn features_of(doc: &Doc, text: &str, lower: &str, rank: usize, org: bool, not_name: bool) -> Vec<f32> {
    let mut x = vec![0.0; FEATURES.len()];
    x[0] = 1.0;
    x[RANK] = 1.0 / (1.0 + rank as f32);
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let uppers = text.chars().filter(|c| c.is_uppercase()).count();
    let digits = text.chars().filter(|c| c.is_ascii_digit()).count();
    let visible = text.chars().filter(|c| !c.is_whitespace()).count().max(1);
    x[ORG] = org as u8 as f32;
    x[UPPER] = uppers as f32 / letters.max(1) as f32;
    x[DIGITS] = digits as f32 / visible as f32;
    x[LETTERS] = (letters as f32 / 20.0).min(1.5);
    x[NOT_NAME] = not_name as u8 as f32;
    if !doc.domains.is_empty() {
        let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() >= 4).collect();
        x[DOMAIN] = doc.domains.iter().any(|d| {
            let host = d.split('.').rev().nth(1).unwrap_or(d);
            words.iter().any(|w| host.contains(w) || (host.len() >= 4 && w.contains(host)))
        }) as u8 as f32;
    }
    x[COLON] = text.trim_end().ends_with(':') as u8 as f32;
    // A sentence, not a name.
    x[MANY_WORDS] = (text.split_whitespace().count() > 6) as u8 as f32;
    x[LEGAL_FORM] = has_legal_form(text, lower) as u8 as f32;
    x
}

/// Legal forms as words (`SDN BHD`, `GmbH`, `Pvt. Ltd.`): words no other
/// line of a letterhead holds.
const LEGAL_FORM_WORDS: &[&str] = &[
    "sdn", "bhd", "gmbh", "mbh", "ltd", "limited", "inc", "incorporated", "llc", "llp", "plc", "corp", "corporation",
    "sarl", "srl", "spa", "bv", "nv", "pty", "pvt",
];
/// Words that complete a legal form but also mean other things (`CO NO.`,
/// `KG. BATU`): part of a wrapped legal form only.
const LEGAL_FORM_TAILS: &[&str] = &["ag", "kg", "co", "ohg", "ug", "sa", "sas", "sl", "private", "public"];

/// The words of a name, lower case, without registration numbers and single letters.
fn name_words(lower: &str) -> impl Iterator<Item = &str> {
    lower.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() > 1 && !w.bytes().any(|b| b.is_ascii_digit()))
}

/// Whether a name (`text`, and `lower`, its lower-case twin) holds a legal
/// form: one of [`LEGAL_FORM_WORDS`], or in a name written in mixed case, a
/// tail in capitals (`Nordwind Hosting AG`; an all-capitals receipt's
/// `KG.BATU` is a place).
fn has_legal_form(text: &str, lower: &str) -> bool {
    if lower.contains("s/b") || name_words(lower).any(|w| LEGAL_FORM_WORDS.contains(&w)) || dotted_legal_form(lower) {
        return true;
    }
    let mixed_case = text.chars().any(char::is_lowercase);
    mixed_case && name_words(text).any(|w| w.chars().all(|c| c.is_ascii_uppercase()) && LEGAL_FORM_TAILS.contains(&w.to_ascii_lowercase().as_str()))
}

/// Whether `lower` holds a legal form written as dotted initials (`S.A.`,
/// `B.V.`, `S.p.A.`, `S.R.L.`), which [`name_words`] reads as single
/// letters. The dots make even a short form such as `S.A.` unambiguous.
fn dotted_legal_form(lower: &str) -> bool {
    lower.split_whitespace().any(|token| {
        let token = token.trim_matches(|c: char| !c.is_alphanumeric() && c != '.');
        let joined: String = token.chars().filter(|&c| c != '.').collect();
        token.trim_end_matches('.').contains('.')
            && joined.chars().all(char::is_alphabetic)
            && (LEGAL_FORM_WORDS.contains(&joined.as_str()) || LEGAL_FORM_TAILS.contains(&joined.as_str()))
    })
}

/// Whether a line holds a legal form and nothing else of a name (`SDN BHD`,
/// `S/B (123456-A)`, `GmbH & Co. KG`): a narrow receipt or letterhead
/// wrapped the company's name before its legal form.
fn legal_form_only(lower: &str) -> bool {
    has_legal_form(lower, lower) && name_words(lower).all(|w| LEGAL_FORM_WORDS.contains(&w) || LEGAL_FORM_TAILS.contains(&w))
}

/// A name without the registration number printed after it
/// (`KEDAI MAJU S/B (123456-A)` names `KEDAI MAJU S/B`): the number is an
/// identifier of its own, and a vendor master keys names without it. The
/// features are still those of the whole line.
fn without_registration_number(name: &str) -> &str {
    let trimmed = name.trim_end();
    let Some(inner) = trimmed.strip_suffix(')') else { return without_bare_registration_number(name) };
    let Some(open) = inner.rfind('(') else { return name };
    let (head, number) = (inner[..open].trim_end().trim_end_matches([',', '-', ' ']), &inner[open + 1..]);
    let is_number = number.bytes().any(|b| b.is_ascii_digit()) && !number.contains(')');
    let balanced = head.matches('(').count() == head.matches(')').count();
    if is_number && head.chars().filter(|c| c.is_alphabetic()).count() >= 2 && balanced {
        return without_bare_registration_number(head);
    }
    without_bare_registration_number(name)
}

/// A registration number printed after a legal form without brackets
/// (`… SDN BHD 123456-U`).
fn without_bare_registration_number(name: &str) -> &str {
    let trimmed = name.trim_end();
    let Some((head, last)) = trimmed.rsplit_once(' ') else { return name };
    let digits = last.bytes().take_while(u8::is_ascii_digit).count();
    let rest = last[digits..].trim_start_matches('-');
    let is_number = digits >= 4 && rest.len() == 1 && rest.bytes().all(|b| b.is_ascii_uppercase());
    if is_number && has_legal_form(head, &head.to_lowercase()) {
        head.trim_end()
    } else {
        name
    }
}

/// Whether a line (lower case) continues the name read on the line above:
/// a legal form alone (`SDN BHD`), a line that opens with `&` or `(`
/// (`& TEA LEAF (M) SDN BHD`, `(SEMENYIH) SDN BHD`), a name above that ends
/// in `&`, or a business word that opens a line ending the name with its
/// legal form (`ENTERPRISE (SETIA ALAM) SDN BHD`).
fn continues_name(prev: &Candidate, this: &str) -> bool {
    let this = this.trim();
    let first_word = this.split_whitespace().next().unwrap_or("");
    prev.x[NOT_NAME] == 0.0
        && (legal_form_only(this)
            || (this.starts_with('&') && this.chars().filter(|c| c.is_alphabetic()).count() >= 2)
            || (this.starts_with('(') && has_legal_form(this, this))
            || prev.value.trim_end().ends_with('&')
            || (ORG_WORDS_WORDS.contains(&first_word) && has_legal_form(this, this) && prev.x[LEGAL_FORM] == 0.0))
}

/// Vendor candidates of `doc`.
pub fn candidates(doc: &Doc) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut seen_text = 0usize;
    let mut after_seller = false;
    let mut after_buyer = false;
    for (i, l) in doc.lines.iter().enumerate() {
        let lower = l.lower.trim();
        let is_label_line = lower.len() < 40 && lower.ends_with(':');
        let seller_here = l.has(Group::Seller) && lower.contains(':');
        let buyer_here = l.has(Group::Buyer) && (lower.contains(':') || lower.len() < 25);
        let name = name_part(l);
        let letters = name.chars().filter(|c| c.is_alphabetic()).count();
        let near_top = seen_text < TOP_LINES;
        if (near_top || after_seller || seller_here) && letters >= 2 && name.len() <= 80 {
            // (`name` is a slice of the line: its lower-case twin and label words are the line's.)
            let at = name.as_ptr() as usize - l.text.as_ptr() as usize;
            let span = at..at + name.len();
            let (org, not_name) = (group_in(l, Group::Org, span.clone()), group_in(l, Group::NotName, span.clone()));
            let mut x = features_of(doc, name, &l.lower[span.clone()], seen_text, org, not_name);
            x[FIRST] = (seen_text == 0) as u8 as f32;
            x[PRICED] = holds_price(l.text) as u8 as f32;
            x[SELLER] = (after_seller || (seller_here && name.len() < l.text.trim().len())) as u8 as f32;
            x[BUYER] = (after_buyer && !after_seller) as u8 as f32;
            // `NANDO'S CHICKENLAND MALAYSIA` / `SDN BHD`: a name wrapped
            // over two lines is read whole, in the first line's place (a
            // legal form alone names no one).
            let above = out.last().filter(|c| i > 0 && c.line == i - 1 && c.x[SENDER] == 0.0);
            match above {
                Some(prev) if continues_name(prev, &l.lower[span]) => {
                    let joined = format!("{} {name}", prev.value);
                    let org = org || prev.x[ORG] > 0.0;
                    let mut y = features_of(doc, &joined, &joined.to_lowercase(), seen_text.saturating_sub(1), org, prev.x[NOT_NAME] > 0.0 || not_name);
                    for k in [FIRST, SELLER, BUYER] {
                        y[k] = prev.x[k];
                    }
                    out.push(Candidate { value: without_registration_number(&joined).to_string(), line: i - 1, x: y });
                }
                _ => out.push(Candidate { value: without_registration_number(name).to_string(), line: i, x }),
            }
        }
        if letters >= 2 {
            seen_text += 1;
        }
        // A seller or buyer label governs the next few lines.
        if seller_here && is_label_line {
            after_seller = true;
            after_buyer = false;
        } else if buyer_here {
            after_buyer = true;
            after_seller = false;
        } else if is_label_line || l.text.trim().is_empty() {
            after_seller = false;
        }
    }
    if let Some(name) = doc.sender_name.as_deref().map(str::trim).filter(|n| n.chars().filter(|c| c.is_alphabetic()).count() >= 2) {
        let lower = name.to_ascii_lowercase();
        let mut x = features_of(doc, name, &lower, 0, ORG_WORDS.any(&lower), NOT_NAME_WORDS.any(&lower));
        x[SENDER] = 1.0;
        out.push(Candidate { value: name.to_string(), line: 0, x });
    }
    // How often each name occurs, searched in the whole text at once.
    let all: String = doc.lines.iter().map(|l| l.lower.as_str()).collect::<Vec<_>>().join("\n");
    for c in out.iter_mut() {
        let needle = c.value.to_ascii_lowercase();
        let n = memchr::memmem::find_iter(all.as_bytes(), needle.as_bytes()).count();
        c.x[REPEATS] = (n.saturating_sub(1) as f32 / 2.0).min(1.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_lines_score_features() {
        let doc = Doc::new("4410002\nKEDAI RUNCIT HARMONI S/B (123456-A)\nGST NO: 000111222333\nTAX INVOICE", None, None);
        let c = candidates(&doc);
        let f = c.iter().find(|c| c.value.starts_with("KEDAI")).unwrap();
        assert_eq!(f.x[ORG], 1.0);
        assert_eq!(f.x[FIRST], 1.0);
        let g = c.iter().find(|c| c.value.starts_with("GST")).unwrap();
        assert_eq!(g.x[NOT_NAME], 1.0);
    }

    #[test]
    fn an_item_line_is_priced() {
        let doc = Doc::new("STATION ELMIRA\nROUTE 9\nBOISSON    P.U.    TOTAL\nCAFE NOIR    8.00    2    16.00\nTEL 05.11.22.33.44", None, None);
        let c = candidates(&doc);
        let priced = |v: &str| c.iter().find(|c| c.value == v).unwrap().x[PRICED];
        assert_eq!(priced("CAFE NOIR"), 1.0);
        assert_eq!((priced("STATION ELMIRA"), priced("TEL 05.11.22.33.44")), (0.0, 0.0));
        assert!(holds_price("RM7,50") && !holds_price("12.03.2024") && !holds_price("1/A-42210"));
    }

    #[test]
    fn a_legal_form_on_its_own_line_joins_the_name_above() {
        let doc = Doc::new("PERI PERI GRILL\nSUNRISE POULTRY MALAYSIA\nSDN BHD\nLOT 5, JALAN 1", None, None);
        let c = candidates(&doc);
        let joined = c.iter().find(|c| c.value == "SUNRISE POULTRY MALAYSIA SDN BHD").expect("joined candidate");
        assert_eq!((joined.line, joined.x[ORG]), (1, 1.0));
        assert!(c.iter().all(|c| c.value != "SDN BHD"));
        assert!(legal_form_only("gmbh & co. kg") && legal_form_only("s/b (123456-a)") && !legal_form_only("acme gmbh"));
        assert_eq!(joined.x[LEGAL_FORM], 1.0);
        let legal = |t: &str| has_legal_form(t, &t.to_lowercase());
        assert!(!legal("(CO NO. 315481-T)") && !legal("KG. BATU") && legal("ACME PTY LTD"));
        assert!(legal("Nordwind Hosting AG") && !legal("Sa 14 Juni"));
        assert!(legal("Acme Paliwa S.A.") && legal("Van Dijk B.V.,") && legal("Ferro S.p.A.") && !legal("KG.BATU") && !legal("U.S.A. office"));
    }

    #[test]
    fn a_name_wrapped_over_two_lines_is_read_whole() {
        let read = |text: &str| candidates(&Doc::new(text, None, None)).into_iter().map(|c| c.value).collect::<Vec<_>>();
        assert!(read("THE PEPPER TREE\n& SPICE (M) SDN BHD\nLOT 5, JALAN 1").contains(&"THE PEPPER TREE & SPICE (M) SDN BHD".to_string()));
        assert!(read("PASAR BESAR MAJU\n(KAJANG) SDN BHD\nLOT 5").contains(&"PASAR BESAR MAJU (KAJANG) SDN BHD".to_string()));
        assert!(read("SINAR HARDWARE &\nELECTRICAL\nLOT 5").contains(&"SINAR HARDWARE & ELECTRICAL".to_string()));
        assert!(read("SINAR JAYA\nENTERPRISE (KLANG) SDN BHD\nLOT 5").contains(&"SINAR JAYA ENTERPRISE (KLANG) SDN BHD".to_string()));
        // A heading is not the start of a name, nor is a bracketed branch.
        assert!(!read("TAX INVOICE\nECO-MART TRADING SDN BHD\nLOT 5").iter().any(|v| v.starts_with("TAX INVOICE ")));
        assert!(!read("SINAR CITY\n(SINAR SHOP (9587))\nLOT 5").iter().any(|v| v.contains("CITY (")));
        // A trading name over a registered one stays two names.
        let two = read("SUNRISE CAFE\nMAJU FOODS SDN BHD\nLOT 5");
        assert!(two.contains(&"SUNRISE CAFE".to_string()) && two.contains(&"MAJU FOODS SDN BHD".to_string()));
    }

    #[test]
    fn a_registration_number_is_not_part_of_the_name() {
        assert_eq!(without_registration_number("KEDAI CO. (M) BHD (123456-H)"), "KEDAI CO. (M) BHD");
        assert_eq!(without_registration_number("KEDAI CAKE HOUSE SDN BHD 862725-U"), "KEDAI CAKE HOUSE SDN BHD");
        assert_eq!(without_registration_number("ROOM 4021-A"), "ROOM 4021-A");
        assert_eq!(without_registration_number("KEDAI MAJU S/B (123456-A)"), "KEDAI MAJU S/B");
        assert_eq!(without_registration_number("SINAR TRADING SDN BHD, (12345-V)"), "SINAR TRADING SDN BHD");
        assert_eq!(without_registration_number("Acme (Europe) Ltd"), "Acme (Europe) Ltd");
        assert_eq!(without_registration_number("(SHOP (9587))"), "(SHOP (9587))");
        assert_eq!(without_registration_number("(12345-A)"), "(12345-A)");
        let c = candidates(&Doc::new("KEDAI MAJU S/B (123456-A)\nNO 5, JALAN 1", None, None));
        assert_eq!(c[0].value, "KEDAI MAJU S/B");
    }

    #[test]
    fn seller_label_and_sender() {
        let doc = Doc::new("Bill to:\nBeta Ltd\nFrom: Vandelay Industries\n", Some("Acme Billing".into()), None);
        let c = candidates(&doc);
        assert_eq!(c.iter().find(|c| c.value == "Beta Ltd").unwrap().x[BUYER], 1.0);
        assert_eq!(c.iter().find(|c| c.value == "Vandelay Industries").unwrap().x[SELLER], 1.0);
        assert_eq!(c.iter().find(|c| c.value == "Acme Billing").unwrap().x[SENDER], 1.0);
    }
}
