//! [`ParseError`]: every way a document can fail to parse, each with a
//! stable snake_case [`ParseError::kind`] that becomes the DLQ reason.

use docflow_core::StageError;

/// Why a document could not be parsed. All variants are properties of the
/// record itself (retrying never helps) except [`ParseError::Busy`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is larger than [`crate::ParseLimits::max_document_bytes`].
    #[error("document is {size} bytes, above the limit of {limit} bytes (raise parse.max_document_bytes or split the document)")]
    TooLarge { size: usize, limit: usize },
    /// The body is empty.
    #[error("document body is empty")]
    Empty,
    /// A content type docflow cannot parse.
    #[error("unsupported content type {0:?} (supported: text/plain, text/html, application/json, message/rfc822, application/pdf, application/xml)")]
    UnsupportedContentType(String),
    /// JSON that does not parse.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// JSON nested deeper than [`crate::ParseLimits::max_json_depth`].
    #[error("JSON nesting exceeds the limit of {limit} levels")]
    JsonTooDeep { limit: usize },
    /// An e-mail that mail-parser cannot read.
    #[error("invalid e-mail message: {0}")]
    Email(String),
    /// A PDF that cannot be read (broken structure, encrypted, crashed the reader).
    #[error("invalid PDF: {0}")]
    Pdf(String),
    /// A PDF with more pages than [`crate::ParseLimits::max_pdf_pages`].
    #[error("PDF has {pages} pages, above the limit of {limit}")]
    PdfTooManyPages { pages: usize, limit: usize },
    /// A PDF whose pages carry no text layer (scanned images): needs OCR, which docflow does not do.
    #[error("PDF has no text layer ({pages} pages, no extractable text); it needs OCR upstream")]
    PdfNoText { pages: usize },
    /// XML that does not parse (or refers to an entity it never declares).
    #[error("invalid XML: {0}")]
    Xml(String),
    /// XML with a DOCTYPE: refused, so that no entity is ever expanded (billion laughs).
    #[error("XML with a DOCTYPE declaration is refused (entities are never expanded; e-invoices carry none)")]
    XmlDoctype,
    /// XML nested deeper than the limit.
    #[error("XML nesting exceeds the limit of {limit} levels")]
    XmlTooDeep { limit: usize },
    /// XML with more elements than the limit.
    #[error("XML has more than {limit} elements")]
    XmlTooLarge { limit: usize },
    /// Extracted text above [`crate::ParseLimits::max_text_bytes`] (a decompression bomb or a huge file).
    #[error("extracted text exceeds the limit of {limit} bytes")]
    TextTooLarge { limit: usize },
    /// A PDF stream decodes to more than [`crate::ParseLimits::max_inflated_bytes`]
    /// (a decompression bomb); refused while inflating, memory unchanged.
    #[error("PDF streams inflate beyond the limit of {limit} bytes (a decompression bomb; raise parse.max_inflated_bytes if the document is genuine)")]
    DecompressionBomb { limit: usize },
    /// Parsing did not finish within [`crate::ParseLimits::deadline_ms`].
    #[error("parsing did not finish within {ms} ms and was abandoned")]
    Deadline { ms: u64 },
    /// The envelope id is empty or has control characters.
    #[error("invalid document id: {0}")]
    InvalidId(String),
    /// The envelope id is longer than [`crate::identity::MAX_ID_BYTES`].
    #[error("document id is {len} bytes, above the limit of {limit} bytes")]
    IdTooLong { len: usize, limit: usize },
    /// The record key is set and differs from the envelope id.
    #[error("record key {key:?} differs from the envelope id {id:?} (set the key to the id, or leave it empty)")]
    KeyIdMismatch { key: String, id: String },
    /// Too many abandoned PDF workers are still running; try again later.
    #[error("{0} abandoned PDF parser threads are still running; retry later")]
    Busy(usize),
}

impl ParseError {
    /// Short snake_case kind: the DLQ `error_kind` and a metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            ParseError::TooLarge { .. } => "too_large",
            ParseError::Empty => "empty",
            ParseError::UnsupportedContentType(_) => "unsupported_content_type",
            ParseError::Json(_) => "invalid_json",
            ParseError::JsonTooDeep { .. } => "json_too_deep",
            ParseError::Email(_) => "invalid_email",
            ParseError::Pdf(_) => "invalid_pdf",
            ParseError::PdfTooManyPages { .. } => "pdf_too_many_pages",
            ParseError::PdfNoText { .. } => "pdf_no_text",
            ParseError::Xml(_) => "invalid_xml",
            ParseError::XmlDoctype => "xml_doctype",
            ParseError::XmlTooDeep { .. } => "xml_too_deep",
            ParseError::XmlTooLarge { .. } => "xml_too_large",
            ParseError::TextTooLarge { .. } => "text_too_large",
            ParseError::DecompressionBomb { .. } => "decompression_bomb",
            ParseError::Deadline { .. } => "deadline",
            ParseError::InvalidId(_) => "invalid_id",
            ParseError::IdTooLong { .. } => "id_too_long",
            ParseError::KeyIdMismatch { .. } => "key_id_mismatch",
            ParseError::Busy(_) => "busy",
        }
    }

    /// Every [`kind`](Self::kind), as listed in `schemas/README.md`.
    pub const KINDS: [&'static str; 21] = [
        "too_large",
        "empty",
        "unsupported_content_type",
        "invalid_json",
        "json_too_deep",
        "invalid_email",
        "invalid_pdf",
        "pdf_too_many_pages",
        "pdf_no_text",
        "invalid_xml",
        "xml_doctype",
        "xml_too_deep",
        "xml_too_large",
        "text_too_large",
        "decompression_bomb",
        "deadline",
        "invalid_id",
        "id_too_long",
        "key_id_mismatch",
        "busy",
        "parse_panic",
    ];
}

impl From<ParseError> for StageError {
    fn from(e: ParseError) -> Self {
        match e {
            // Capacity, not the record's fault: retry with backoff.
            ParseError::Busy(_) => StageError::external(e.kind(), e.to_string()),
            _ => StageError::user_input(e.kind(), e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ParseError as E;

    #[test]
    fn kinds_lists_every_variant() {
        let all = [
            E::TooLarge { size: 2, limit: 1 },
            E::Empty,
            E::UnsupportedContentType(String::new()),
            E::Json(String::new()),
            E::JsonTooDeep { limit: 1 },
            E::Email(String::new()),
            E::Pdf(String::new()),
            E::PdfTooManyPages { pages: 2, limit: 1 },
            E::PdfNoText { pages: 1 },
            E::Xml(String::new()),
            E::XmlDoctype,
            E::XmlTooDeep { limit: 1 },
            E::XmlTooLarge { limit: 1 },
            E::TextTooLarge { limit: 1 },
            E::DecompressionBomb { limit: 1 },
            E::Deadline { ms: 1 },
            E::InvalidId(String::new()),
            E::IdTooLong { len: 2, limit: 1 },
            E::KeyIdMismatch { key: String::new(), id: String::new() },
            E::Busy(1),
        ];
        for e in &all {
            // A new variant fails to compile here until it is listed above.
            match e {
                E::TooLarge { .. } | E::Empty | E::UnsupportedContentType(_) | E::Json(_) | E::JsonTooDeep { .. } => {}
                E::Email(_) | E::Pdf(_) | E::PdfTooManyPages { .. } | E::PdfNoText { .. } | E::TextTooLarge { .. } => {}
                E::DecompressionBomb { .. } | E::Deadline { .. } | E::InvalidId(_) | E::IdTooLong { .. } => {}
                E::KeyIdMismatch { .. } | E::Busy(_) => {}
                E::Xml(_) | E::XmlDoctype | E::XmlTooDeep { .. } | E::XmlTooLarge { .. } => {}
            }
        }
        let kinds: Vec<&str> = all.iter().map(E::kind).collect();
        // `parse_panic` is the stage's (a panic in a parser library).
        assert_eq!(kinds, E::KINDS[..E::KINDS.len() - 1]);
    }
}
