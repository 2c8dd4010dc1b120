//! `application/pdf`: the text layer of every page through pdf-extract
//! (lopdf underneath), laid out by position ([`super::pdf_layout`]). Runs synchronously; the caller
//! ([`crate::parse_document_with_deadline`]) puts it on its own thread with a
//! deadline. Panics inside the PDF crates are caught and reported as
//! `invalid_pdf`.

use super::{normalize, Extracted};
use crate::error::ParseError;
use crate::limits::ParseLimits;
use pdf_extract::{MediaBox, OutputDev, OutputError, Transform};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Parses a PDF body.
pub fn parse(body: &[u8], limits: &ParseLimits) -> Result<Extracted, ParseError> {
    match catch_unwind(AssertUnwindSafe(|| parse_inner(body, limits))) {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(ParseError::Pdf(format!("the PDF reader crashed on this file: {what}")))
        }
    }
}

fn parse_inner(body: &[u8], limits: &ParseLimits) -> Result<Extracted, ParseError> {
    super::pdf_guard::check_raw(body, limits)?;
    let mut doc = lopdf::Document::load_mem(body).map_err(|e| ParseError::Pdf(e.to_string()))?;
    if doc.is_encrypted() && doc.decrypt("").is_err() {
        return Err(ParseError::Pdf("encrypted with a password".to_string()));
    }
    if doc.encryption_state.is_some() {
        super::pdf_guard::check_document(&doc, limits)?;
    }
    let pages = doc.get_pages();
    if pages.len() > limits.max_pdf_pages {
        return Err(ParseError::PdfTooManyPages { pages: pages.len(), limit: limits.max_pdf_pages });
    }
    if pages.is_empty() {
        return Err(ParseError::Pdf("document has no pages".to_string()));
    }
    let mut sink = TextSink::new(limits.max_text_bytes);
    let mut warnings = Vec::new();
    let mut failed_pages = 0usize;
    for &num in pages.keys() {
        sink.page_break();
        if let Err(e) = pdf_extract::output_doc_page(&doc, &mut sink, num) {
            if sink.overflow {
                return Err(ParseError::TextTooLarge { limit: limits.max_text_bytes });
            }
            // One broken page must not lose the others; say so.
            failed_pages += 1;
            if failed_pages == pages.len() {
                return Err(ParseError::Pdf(e.to_string()));
            }
        }
    }
    if failed_pages > 0 {
        warnings.push("unreadable_pages".to_string());
    }
    let (einvoice, attachment_error) = super::pdf_attachments::embedded_einvoice(&doc);
    if attachment_error.is_some() && einvoice.is_none() {
        warnings.push("unreadable_embedded_file".to_string());
    }
    let text = normalize(&sink.finish());
    if text.trim().is_empty() && einvoice.is_none() {
        return Err(ParseError::PdfNoText { pages: pages.len() });
    }
    Ok(Extracted { text, warnings, einvoice, ..Default::default() })
}

/// Collects each page's glyphs with their positions and lays them out as
/// lines in reading order when the page ends ([`pdf_layout`](super::pdf_layout)).
struct TextSink {
    out: String,
    limit: usize,
    overflow: bool,
    page_height: f64,
    /// The current page's glyphs and their text.
    glyphs: Vec<super::pdf_layout::Glyph>,
    page_text: String,
}

impl TextSink {
    fn new(limit: usize) -> Self {
        Self { out: String::new(), limit, overflow: false, page_height: 0.0, glyphs: Vec::new(), page_text: String::new() }
    }

    fn page_break(&mut self) {
        self.flush_page();
        if !self.out.is_empty() {
            self.out.push_str("\n\n");
        }
    }

    /// Lays out the glyphs collected so far (also what a failed page drew).
    fn flush_page(&mut self) {
        super::pdf_layout::lay_out(&self.glyphs, &self.page_text, &mut self.out);
        self.glyphs.clear();
        self.page_text.clear();
    }

    /// The text of every page.
    fn finish(mut self) -> String {
        self.flush_page();
        self.out
    }
}

impl OutputDev for TextSink {
    fn begin_page(&mut self, _n: u32, media_box: &MediaBox, _art: Option<(f64, f64, f64, f64)>) -> Result<(), OutputError> {
        self.page_height = media_box.ury - media_box.lly;
        Ok(())
    }
    fn end_page(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    fn output_character(&mut self, trm: &Transform, width: f64, _spacing: f64, font_size: f64, ch: &str) -> Result<(), OutputError> {
        // Spaces only separate: the gaps between glyphs say where words end.
        if ch.trim().is_empty() {
            return Ok(());
        }
        // Device position with y flipped to grow downwards.
        let (x, y) = (trm.m31, self.page_height - trm.m32);
        let (vx, vy) = (font_size * trm.m11 + font_size * trm.m21, font_size * trm.m12 + font_size * trm.m22);
        let size = (vx * vy).abs().sqrt().max(1e-6);
        let start = self.page_text.len() as u32;
        self.page_text.push_str(ch);
        if self.out.len() + self.page_text.len() + 2 * self.glyphs.len() > self.limit {
            self.overflow = true;
            return Err(OutputError::FormatError(std::fmt::Error));
        }
        self.glyphs.push(super::pdf_layout::Glyph { x, y, end: x + width * size, size, start, len: ch.len() as u32 });
        Ok(())
    }
    fn begin_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
}
