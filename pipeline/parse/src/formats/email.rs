//! `message/rfc822`: headers From/To/Cc/Subject/Date plus the text body,
//! through mail-parser. An HTML-only message goes through the HTML path.

use super::{html::html_to_text, normalize, Extracted, Hints};
use crate::error::ParseError;
use mail_parser::{Address, MessageParser, PartType};

/// Parses an e-mail. The text starts with the rendered headers
/// (`From:`, `To:`, `Cc:`, `Subject:`, `Date:` as ISO), a blank line, then
/// the body; [`Hints::body_offset`] says where the body starts.
pub fn parse(body: &[u8]) -> Result<Extracted, ParseError> {
    let msg = MessageParser::default()
        .parse(body)
        .ok_or_else(|| ParseError::Email("no RFC 822 header block found".to_string()))?;
    if msg.from().is_none() && msg.subject().is_none() && msg.to().is_none() {
        return Err(ParseError::Email("message has none of From, To, Subject".to_string()));
    }
    let mut warnings = Vec::new();
    let mut hints = Hints::default();
    let mut head = String::new();
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
    if !msg.attachments.is_empty() {
        warnings.push("attachments_ignored".to_string());
    }
    if body_text.is_empty() {
        warnings.push("empty_body".to_string());
    }
    let mut text = normalize(&head);
    text.push_str("\n\n");
    hints.body_offset = text.len();
    text.push_str(&body_text);
    Ok(Extracted { text, warnings, hints })
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
        let e = super::parse(mail).unwrap();
        assert_eq!(e.text, "From: Ann <ann@example.com>\nTo: bob@example.org\nSubject: Hello\nDate: 2026-03-12\n\nHi & bye");
        assert_eq!(e.hints.addresses, vec!["ann@example.com", "bob@example.org"]);
        assert_eq!(e.hints.header_date.as_deref(), Some("2026-03-12"));
    }
}
