//! Content-type handling: normalise a declared MIME type to one of the five
//! supported formats, or sniff the format from the body when none is given.

use crate::error::ParseError;

/// The formats docflow parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Text,
    Html,
    Json,
    Email,
    Pdf,
    /// XML; an e-invoice (CII or UBL) gives exact fields.
    Xml,
}

impl Format {
    /// The canonical MIME type reported in `ParsedDocument::content_type`.
    pub const fn mime(self) -> &'static str {
        match self {
            Format::Text => "text/plain",
            Format::Html => "text/html",
            Format::Json => "application/json",
            Format::Email => "message/rfc822",
            Format::Pdf => "application/pdf",
            Format::Xml => "application/xml",
        }
    }

    /// All formats, in a stable order (reports, tests).
    pub const ALL: [Format; 6] = [Format::Text, Format::Html, Format::Json, Format::Email, Format::Pdf, Format::Xml];
}

/// Maps a declared content type (parameters and case ignored) to a format.
pub fn from_content_type(ct: &str) -> Result<Format, ParseError> {
    let base = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let f = match base.as_str() {
        "text/plain" | "text/csv" | "text/markdown" | "text/x-markdown" => Format::Text,
        "text/html" | "application/xhtml+xml" => Format::Html,
        "application/json" | "text/json" => Format::Json,
        "message/rfc822" | "application/mbox" => Format::Email,
        "application/pdf" | "application/x-pdf" => Format::Pdf,
        "application/xml" | "text/xml" => Format::Xml,
        b if b.starts_with("application/") && b.ends_with("+xml") => Format::Xml,
        b if b.starts_with("application/") && b.ends_with("+json") => Format::Json,
        _ => return Err(ParseError::UnsupportedContentType(ct.to_string())),
    };
    Ok(f)
}

/// Header names that may open an RFC 822 message.
const MAIL_HEADERS: [&str; 12] = [
    "from", "to", "subject", "date", "received", "return-path", "message-id", "mime-version",
    "delivered-to", "reply-to", "cc", "x-mailer",
];

/// Guesses the format of a body with no declared content type.
pub fn sniff(body: &[u8]) -> Format {
    let head = &body[..body.len().min(1024)];
    if find(head, b"%PDF-").is_some() {
        return Format::Pdf;
    }
    let trimmed = trim_start(head);
    match trimmed.first() {
        Some(b'{') | Some(b'[') => return Format::Json,
        Some(b'<') => {
            let lower: Vec<u8> = trimmed.iter().take(512).map(|b| b.to_ascii_lowercase()).collect();
            const TAGS: [&[u8]; 8] =
                [b"<!doctype html", b"<html", b"<head", b"<body", b"<div", b"<p", b"<table", b"<!--"];
            if crate::formats::einvoice::looks_like_einvoice(body) {
                return Format::Xml;
            }
            if TAGS.iter().any(|t| lower.starts_with(t)) || find(&lower, b"</").is_some() {
                if lower.starts_with(b"<?xml") && find(&lower, b"<html").is_none() {
                    return Format::Xml;
                }
                return Format::Html;
            }
            if lower.starts_with(b"<?xml") {
                return Format::Xml;
            }
        }
        _ => {}
    }
    if looks_like_mail(trimmed) {
        return Format::Email;
    }
    Format::Text
}

/// At least two leading `Name: value` lines that are known mail headers,
/// one of them `From` (or a transport header such as `Received`), every
/// line a header field (any RFC 5322 field name) or a folded continuation,
/// up to a blank line or the end of the sniffed head (transport headers
/// can fill the first kilobyte).
fn looks_like_mail(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let mut known = 0;
    let mut has_from = false;
    let mut transport = false;
    for line in text.lines() {
        if line.trim().is_empty() {
            return known >= 2 && has_from;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            // A folded header continuation, unless it is itself an indented
            // header (`  To: …`): then this is a printout, not a message.
            let inner = line.trim_start().split(':').next().unwrap_or("").to_ascii_lowercase();
            if line.contains(':') && MAIL_HEADERS.contains(&inner.as_str()) {
                return false;
            }
            continue;
        }
        let Some((name, _)) = line.split_once(':') else { return false };
        let name = name.to_ascii_lowercase();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return false;
        }
        if MAIL_HEADERS.contains(&name.as_str()) {
            known += 1;
            has_from |= name == "from";
            transport |= matches!(name.as_str(), "received" | "return-path" | "delivered-to" | "message-id");
        }
    }
    // The head ended inside the header block.
    head.len() >= 1024 && known >= 2 && (has_from || transport)
}

fn trim_start(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_each_format() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Format::Pdf);
        let long_transport = format!("Return-Path: <a@b.c>\nDelivered-To: d@e.f\nReceived: {}\nDKIM-Signature: v=1\n", "x".repeat(1100));
        assert_eq!(sniff(long_transport.as_bytes()), Format::Email);
        assert_eq!(sniff(b"Note: this\nTo do: that\n\nbody"), Format::Text);
        assert_eq!(sniff(b"  {\"a\": 1}"), Format::Json);
        assert_eq!(sniff(b"<!DOCTYPE html><html></html>"), Format::Html);
        assert_eq!(sniff(b"From: a@b.c\nSubject: hi\n\nbody"), Format::Email);
        assert_eq!(sniff(b"Invoice\nTotal: 3 EUR"), Format::Text);
        assert_eq!(sniff(b"Note: this\nFrom: x\n\n"), Format::Text);
    }

    #[test]
    fn content_type_parameters_ignored() {
        assert_eq!(from_content_type("Text/HTML; charset=utf-8").unwrap(), Format::Html);
        assert_eq!(from_content_type("application/vnd.x+json").unwrap(), Format::Json);
        assert_eq!(from_content_type("image/png").unwrap_err().kind(), "unsupported_content_type");
    }
}
