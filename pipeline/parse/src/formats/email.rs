//! `message/rfc822`: headers From/To/Cc/Subject/Date plus the text body,
//! through mail-parser. An HTML-only message goes through the HTML path.

use super::{html::html_to_text, normalize, Extracted, Hints};
use crate::error::ParseError;
use crate::limits::ParseLimits;
use mail_parser::{Address, MessageParser, MimeHeaders, PartType};

/// Parses an e-mail. The text starts with the rendered headers
/// (`From:`, `To:`, `Cc:`, `Subject:`, `Date:` as ISO), a blank line, then
/// the body; [`Hints::body_offset`] says where the body starts.
pub fn parse(body: &[u8], limits: &ParseLimits) -> Result<Extracted, ParseError> {
    let msg = MessageParser::default()
        .parse(body)
        .ok_or_else(|| ParseError::Email("no RFC 822 header block found".to_string()))?;
    if msg.from().is_none() && msg.subject().is_none() && msg.to().is_none() {
        return Err(ParseError::Email("message has none of From, To, Subject".to_string()));
    }
    let mut warnings = Vec::new();
    let mut hints = Hints::default();
    let mut head = String::new();
    hints.sender_name = msg.from().and_then(|a| a.first()).and_then(|a| a.name()).map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    for (label, addr) in [("From", msg.from()), ("To", msg.to()), ("Cc", msg.cc())] {
        if let Some(a) = addr {
            head.push_str(label);
            head.push_str(": ");
            head.push_str(&render_addresses(a, &mut hints.addresses));
            head.push('\n');
        }
    }
    if let Some(s) = msg.subject() {
        let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
        head.push_str("Subject: ");
        head.push_str(&s);
        head.push('\n');
        hints.subject = Some(s);
    }
    if let Some(d) = msg.date() {
        if chrono::NaiveDate::from_ymd_opt(d.year as i32, d.month as u32, d.day as u32).is_some() {
            let iso = format!("{:04}-{:02}-{:02}", d.year, d.month, d.day);
            head.push_str("Date: ");
            head.push_str(&iso);
            head.push('\n');
            hints.header_date = Some(iso);
        }
    } else if let Some(raw) = msg.header_raw("Date") {
        // Not an RFC 2822 date (a printed e-mail saying `Date: 12/03/2026`):
        // keep it as text; the extractor reads it with the locale hint.
        head.push_str("Date: ");
        head.push_str(raw.trim());
        head.push('\n');
    }
    // Prefer the text part; an HTML-only message goes through our HTML path.
    let mut body_text = String::new();
    if let Some(part) = msg.text_body.first().and_then(|&id| msg.part(id)) {
        match &part.body {
            PartType::Text(t) => body_text = normalize(t),
            PartType::Html(h) => body_text = html_to_text(h),
            _ => {}
        }
    }
    if body_text.is_empty() {
        if let Some(part) = msg.html_body.first().and_then(|&id| msg.part(id)) {
            if let PartType::Html(h) = &part.body {
                body_text = html_to_text(h);
            }
        }
    }
    let attached = attachments(&msg, limits, &mut warnings);
    if body_text.is_empty() && attached.text.is_empty() {
        warnings.push("empty_body".to_string());
    }
    let mut text = normalize(&head);
    text.push_str("\n\n");
    hints.body_offset = text.len();
    text.push_str(&body_text);
    if !attached.text.is_empty() {
        // Attachments follow the body: their fields are the document's.
        text.push_str("\n\n");
        text.push_str(&attached.text);
    }
    if text.len() > limits.max_text_bytes {
        return Err(ParseError::TextTooLarge { limit: limits.max_text_bytes });
    }
    Ok(Extracted { text, warnings, hints, einvoice: attached.einvoice })
}

/// The [`Hints`] of a text [`parse`] rendered, read back from its header
/// block (`From:`, `To:`, `Cc:`, `Subject:`, `Date:` lines, a blank line,
/// the body): what a later stage that holds only the parsed text needs to
/// see the document as the parser saw it. `None` when the text does not
/// start with such a block.
pub fn hints_of_rendered(text: &str) -> Option<Hints> {
    let head_len = text.find("\n\n")?;
    let mut hints = Hints { body_offset: head_len + 2, ..Hints::default() };
    for line in text[..head_len].lines() {
        // An empty header (`To:`) loses its trailing space to normalisation.
        let (label, value) = line.split_once(':')?;
        let value = value.trim_start();
        match label {
            "From" | "To" | "Cc" => {
                if label == "From" {
                    hints.sender_name = value.split_once(" <").map(|(n, _)| n.trim().to_string()).filter(|n| !n.is_empty());
                }
                for part in value.split(", ") {
                    let email = part.rsplit_once('<').map_or(part, |(_, e)| e.trim_end_matches('>')).trim();
                    if email.contains('@') {
                        hints.addresses.push(email.to_ascii_lowercase());
                    }
                }
            }
            "Subject" => hints.subject = Some(value.to_string()),
            "Date" => hints.header_date = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").ok().map(|_| value.to_string()),
            _ => return None,
        }
    }
    Some(hints)
}

/// Most attachments read per message (the rest are skipped with a warning).
pub const MAX_ATTACHMENTS: usize = 16;

/// The text and e-invoice of a message's invoice-like attachments (PDF,
/// XML, HTML, plain text), each within the document limits; others are
/// skipped. A broken attachment is a warning, not a failed message.
fn attachments(msg: &mail_parser::Message, limits: &ParseLimits, warnings: &mut Vec<String>) -> Extracted {
    let mut out = Extracted::default();
    for (n, part) in msg.attachments().enumerate() {
        if n == MAX_ATTACHMENTS {
            warnings.push("attachments_skipped".to_string());
            break;
        }
        let bytes = part.contents();
        if bytes.is_empty() {
            continue;
        }
        if bytes.len() > limits.max_document_bytes {
            warnings.push("attachment_too_large".to_string());
            continue;
        }
        let name = part.attachment_name().unwrap_or("").to_ascii_lowercase();
        let ct = part
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")).to_ascii_lowercase())
            .unwrap_or_default();
        let parsed = if ct.ends_with("/pdf") || name.ends_with(".pdf") || bytes.starts_with(b"%PDF-") {
            super::pdf::parse(bytes, limits).map(Some)
        } else if ct.ends_with("/xml") || name.ends_with(".xml") || super::einvoice::looks_like_einvoice(bytes) {
            super::einvoice::parse(bytes).map(|(mut ex, inv)| {
                ex.einvoice = inv;
                Some(ex)
            })
        } else if ct == "text/html" || name.ends_with(".html") || name.ends_with(".htm") {
            Ok(Some(Extracted { text: html_to_text(&String::from_utf8_lossy(bytes)), ..Default::default() }))
        } else {
            Ok(None) // images, archives, calendars: not documents docflow reads
        };
        match parsed {
            Ok(Some(ex)) => {
                if out.einvoice.is_none() {
                    out.einvoice = ex.einvoice;
                }
                if !ex.text.is_empty() && out.text.len() + ex.text.len() <= limits.max_text_bytes {
                    if !out.text.is_empty() {
                        out.text.push_str("\n\n");
                    }
                    out.text.push_str(&ex.text);
                }
            }
            Ok(None) => warnings.push("attachments_ignored".to_string()),
            Err(e) => warnings.push(format!("attachment_unreadable:{}", e.kind())),
        }
    }
    warnings.dedup();
    out
}

fn render_addresses(a: &Address, out: &mut Vec<String>) -> String {
    let mut parts = Vec::new();
    for addr in a.iter() {
        let email = addr.address().map(str::trim).filter(|s| s.contains('@'));
        if let Some(e) = email {
            out.push(e.to_ascii_lowercase());
        }
        match (addr.name(), email) {
            (Some(n), Some(e)) => parts.push(format!("{n} <{e}>")),
            (None, Some(e)) => parts.push(e.to_string()),
            (Some(n), None) => parts.push(n.to_string()),
            (None, None) => {}
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn headers_and_html_only_body() {
        let mail = b"From: Ann <ann@example.com>\r\nTo: bob@example.org\r\nSubject: Hello\r\n\
            Date: Thu, 12 Mar 2026 10:00:00 +0000\r\nContent-Type: text/html\r\n\r\n<p>Hi &amp; bye</p>";
        let e = super::parse(mail, &crate::ParseLimits::default()).unwrap();
        assert_eq!(e.text, "From: Ann <ann@example.com>\nTo: bob@example.org\nSubject: Hello\nDate: 2026-03-12\n\nHi & bye");
        assert_eq!(e.hints.addresses, vec!["ann@example.com", "bob@example.org"]);
        assert_eq!(super::hints_of_rendered(&e.text).as_ref(), Some(&e.hints));
        assert_eq!(e.hints.header_date.as_deref(), Some("2026-03-12"));
    }
}
