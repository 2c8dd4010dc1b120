//! Fuzz target: an e-mail whose attachment is the fuzz input, declared in
//! turn as a PDF, an XML e-invoice and HTML: the attachment path (MIME
//! structure, base64, the attached format's parser) gives fields or a
//! typed error, never a crash. Panics inside pdf-extract/lopdf are caught
//! by the parser (catch_unwind, `invalid_pdf`), so libfuzzer's
//! abort-on-panic hook is replaced by the default one; a panic that escapes
//! the parser still aborts and is reported.
#![no_main]

use docflow_parse::{parse_document, ParseLimits};
use docflow_schemas::RawDocument;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| drop(std::panic::take_hook()));
    for (ct, name) in [("application/pdf", "a.pdf"), ("application/xml", "factur-x.xml"), ("text/html", "a.html")] {
        let mut body = format!(
            "From: a@example.com\r\nTo: b@example.com\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
             --b1\r\nContent-Type: {ct}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n--b1--\r\n");
        let raw = RawDocument { id: "fuzz".into(), content_type: Some("message/rfc822".into()), body, metadata: Default::default(), created_at_ms: 0 };
        let _ = parse_document(&raw, &ParseLimits::default());
    }
});
