//! docflow-parse: documents to normalised text plus business fields, with
//! no Kafka in sight (the `parse` stage wraps this library).
//!
//! Where things are:
//! - [`parse_document`] / [`parse_document_with_deadline`]: the entry points
//!   (this file); [`ParseOutput`] is what they return.
//! - [`limits`]: [`ParseLimits`] (size, PDF pages, JSON depth, deadline).
//! - [`error`]: [`ParseError`] with a snake_case `kind()` and the conversion
//!   to [`docflow_core::StageError`] (user input → DLQ, no retry).
//! - [`sniff`]: content-type normalisation and body sniffing.
//! - [`formats`]: one module per format (text, HTML via html5gum, JSON via
//!   serde_json, e-mail via mail-parser, PDF via pdf-extract/lopdf).
//! - [`extract`]: field extraction (dates, money, total, currency, vendor,
//!   invoice number, line items, IBAN, e-mails, phones, parties, doc type).
//! - [`deadline`]: running a PDF parse on its own thread with a deadline.
//! - [`identity`]: the id and record-key checks made before parsing.
//! - [`bench`]: `bench_parse`, docs/s per core.
//! - [`eval`]: extraction measured on labelled documents, the ranker's fit.
//! - `bytes`: SSE2 byte scans shared by the hot paths (plain loops off x86-64).

pub mod bench;
mod bytes;
pub mod deadline;
pub mod error;
pub mod eval;
pub mod extract;
pub mod formats;
pub mod identity;
pub mod limits;
pub mod sniff;
#[cfg(test)]
mod test_inputs;

pub use deadline::{parse_document_with_deadline, parse_learned_with_deadline};
pub use error::ParseError;
pub use identity::check_identity;
pub use extract::extract_fields;
pub use limits::ParseLimits;
pub use sniff::Format;

use docflow_schemas::{BusinessFields, RawDocument};

/// A parsed document: the format used, normalised text, fields, warnings.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseOutput {
    /// Canonical MIME type actually used (after sniffing).
    pub content_type: String,
    /// Normalised visible text.
    pub text: String,
    pub fields: BusinessFields,
    /// Non-fatal findings (`invalid_utf8`, `attachments_ignored`, …).
    pub warnings: Vec<String>,
}

/// Which format a raw document will be parsed as.
pub fn format_of(raw: &RawDocument) -> Result<Format, ParseError> {
    match raw.content_type.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(ct) => sniff::from_content_type(ct),
        None => Ok(sniff::sniff(&raw.body)),
    }
}

/// Parses one document synchronously on the calling thread. Use
/// [`parse_document_with_deadline`] from async code or for untrusted PDFs.
pub fn parse_document(raw: &RawDocument, limits: &ParseLimits) -> Result<ParseOutput, ParseError> {
    Ok(prepare(raw, limits)?.output(extract::rank::Weights::shipped()))
}

/// [`parse_document`], reading documents of layouts `learned` knows where
/// their corrections said, and every document with the ranker updated
/// from them ([`extract::corrections`]).
pub fn parse_document_learned(raw: &RawDocument, limits: &ParseLimits, learned: &extract::corrections::LayoutHints) -> Result<ParseOutput, ParseError> {
    Ok(prepare(raw, limits)?.output_learned(learned.ranker(), learned))
}

/// A document read and its field candidates listed, before the ranker
/// chooses: what evaluation and fitting score under many weights.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub content_type: String,
    pub extracted: formats::Extracted,
    /// The label rules' fields (the ranker's `legacy_rule` feature and the unranked fields).
    pub rules: BusinessFields,
    pub candidates: extract::rank::DocCandidates,
}

impl Prepared {
    /// The fields the ranker chooses with `weights`, e-invoice fields over them.
    pub fn fields(&self, weights: &extract::rank::Weights) -> BusinessFields {
        self.fields_learned(weights, &extract::corrections::LayoutHints::default())
    }

    /// [`Prepared::fields`], then where `learned` knows this document's
    /// layout from a correction, the fields read there; e-invoice fields
    /// over all.
    pub fn fields_learned(&self, weights: &extract::rank::Weights, learned: &extract::corrections::LayoutHints) -> BusinessFields {
        let mut fields = self.rules.clone();
        extract::apply_ranked(&mut fields, &self.candidates, weights, &self.extracted.hints);
        learned.apply(self, &mut fields);
        if let Some(inv) = &self.extracted.einvoice {
            extract::einvoice::apply(&mut fields, inv);
        }
        fields
    }

    /// The parse output with `weights`.
    pub fn output(self, weights: &extract::rank::Weights) -> ParseOutput {
        self.output_learned(weights, &extract::corrections::LayoutHints::default())
    }

    /// The parse output with `weights` and the layouts learned from corrections.
    pub fn output_learned(self, weights: &extract::rank::Weights, learned: &extract::corrections::LayoutHints) -> ParseOutput {
        let fields = self.fields_learned(weights, learned);
        ParseOutput { content_type: self.content_type, text: self.extracted.text, fields, warnings: self.extracted.warnings }
    }
}

/// A parsed document's text seen again as [`prepare`] saw it (the same
/// lines, candidates and layout fingerprint), for a stage that holds only
/// the parse output: the learner reads a corrected document's layout from
/// it. `content_type` is the one the parser used, `locale` the raw
/// document's hint. E-invoice XML fields are not read again (they come
/// from the XML, never from a layout).
pub fn prepare_parsed(content_type: &str, text: &str, locale: Option<&str>) -> Prepared {
    let format = sniff::from_content_type(content_type).unwrap_or(Format::Text);
    let hints = match format {
        Format::Email => formats::email::hints_of_rendered(text).unwrap_or_default(),
        _ => formats::Hints::default(),
    };
    let ex = formats::Extracted { text: text.to_string(), warnings: Vec::new(), hints, einvoice: None };
    prepared_from(ex, format, locale)
}

/// Reads a document and lists its field candidates (see [`Prepared`]).
pub fn prepare(raw: &RawDocument, limits: &ParseLimits) -> Result<Prepared, ParseError> {
    if raw.body.len() > limits.max_document_bytes {
        return Err(ParseError::TooLarge { size: raw.body.len(), limit: limits.max_document_bytes });
    }
    if raw.body.is_empty() {
        return Err(ParseError::Empty);
    }
    let format = format_of(raw)?;
    let ex = match format {
        Format::Text => formats::text::parse(&raw.body),
        Format::Html => formats::html::parse(&raw.body),
        Format::Json => formats::json::parse(&raw.body, limits.max_json_depth)?,
        Format::Email => formats::email::parse(&raw.body, limits)?,
        Format::Pdf => formats::pdf::parse(&raw.body, limits)?,
        Format::Xml => {
            let (mut ex, inv) = formats::einvoice::parse(&raw.body)?;
            ex.einvoice = inv;
            ex
        }
    };
    if ex.text.len() > limits.max_text_bytes {
        return Err(ParseError::TextTooLarge { limit: limits.max_text_bytes });
    }
    Ok(prepared_from(ex, format, raw.metadata.get("locale").map(String::as_str)))
}

fn prepared_from(ex: formats::Extracted, format: Format, locale: Option<&str>) -> Prepared {
    let body = ex.text.get(ex.hints.body_offset..).unwrap_or(&ex.text);
    let doc = extract::rank::doc::Doc::new(body, ex.hints.sender_name.clone(), locale);
    let rules = extract::rule_fields(&ex.text, &ex.hints, locale, doc.heading);
    let candidates = extract::rank::candidates(&doc, &rules);
    drop(doc);
    Prepared { content_type: format.mime().to_string(), extracted: ex, rules, candidates }
}
