//! `message/rfc822` through mail-builder: plain-text, HTML-only or
//! multipart/alternative bodies; non-ASCII bodies get quoted-printable or
//! base64 as a real mail client would.

use super::{body_lines, email_body_lines, html::lines_to_html, text::lines_to_text, DocFormat};
use crate::model::{Class, DocModel};
use chrono::NaiveTime;
use mail_builder::MessageBuilder;

/// Renders `m` as an e-mail. The envelope `Date` is the document date for
/// e-mails and the (later) sending date for documents sent by mail.
pub fn render(m: &DocModel, id: &str) -> Vec<u8> {
    let lines = if m.class == Class::Email {
        let mut l = Vec::new();
        email_body_lines(m, &mut l);
        l
    } else {
        body_lines(m, DocFormat::Email)
    };
    let envelope_date = if m.class == Class::Email { m.date } else { m.sent_date };
    let ts = envelope_date.and_time(NaiveTime::from_hms_opt(9, 30, 0).unwrap()).and_utc().timestamp();
    let to: Vec<(&str, &str)> = m.recipients.iter().map(|p| (p.name.as_str(), p.email.as_str())).collect();
    let mut b = MessageBuilder::new()
        .from((m.sender.name.as_str(), m.sender.email.as_str()))
        .to(to)
        .subject(m.subject.as_str())
        .date(ts)
        .message_id(format!("{id}@docflow.test"));
    if !m.cc.is_empty() {
        let cc: Vec<(&str, &str)> = m.cc.iter().map(|p| (p.name.as_str(), p.email.as_str())).collect();
        b = b.cc(cc);
    }
    let text = lines_to_text(m, &lines);
    b = match m.style.variant {
        // HTML only: the parser must take its HTML path.
        1 => b.html_body(lines_to_html(m, &lines)),
        2 => b.text_body(text).html_body(lines_to_html(m, &lines)),
        _ => b.text_body(text),
    };
    let bytes = b.write_to_vec().expect("writing to a Vec cannot fail");
    deterministic_boundaries(bytes, id)
}

/// mail-builder draws MIME boundaries at random; replace them so the same
/// seed always yields the same bytes.
fn deterministic_boundaries(bytes: Vec<u8>, id: &str) -> Vec<u8> {
    let mut text = String::from_utf8(bytes).expect("mail-builder writes ASCII");
    let mut n = 0;
    while let Some(pos) = text.find("boundary=\"").map(|p| p + "boundary=\"".len()) {
        let Some(len) = text[pos..].find('"') else { break };
        let old = text[pos..pos + len].to_string();
        if old.starts_with("docflow-") {
            break;
        }
        text = text.replace(&old, &format!("docflow-{id}-{n}"));
        n += 1;
    }
    text.into_bytes()
}
