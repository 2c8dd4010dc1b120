//! Validation of a scored record before anything is written: a record that
//! breaks a limit here is rejected whole ([`StoreError::Invalid`] naming the
//! field and the reason), so a document is never written half-way.

use docflow_schemas::{BusinessFields, ScoredDocument};

use crate::error::StoreError;

/// Byte limits of stored strings.
pub mod limits {
    /// The contract's id limit (also checked by the parse stage).
    pub const ID: usize = docflow_schemas::MAX_ID_BYTES;
    pub const CLASS: usize = 128;
    pub const VENDOR: usize = 512;
    pub const INVOICE_NUMBER: usize = 128;
    pub const SHORT_TEXT: usize = 1024;
    pub const CONTENT_TYPE: usize = 128;
    pub const ENCODER_VERSION: usize = 256;
    pub const LIST_ITEMS: usize = 1000;
    pub const REASONS: usize = 32;
    /// Floats in an embedding (MiniLM has 384).
    pub const EMBEDDING_DIMS: usize = 4096;
    /// `fields_json` as stored.
    pub const FIELDS_JSON: usize = 256 * 1024;
    /// Audit note.
    pub const NOTE: usize = 4096;
    /// 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z in ms.
    pub const MIN_CREATED_AT_MS: i64 = 946_684_800_000;
    pub const MAX_CREATED_AT_MS: i64 = 4_102_444_800_000;
}

/// Anomaly reasons the score stage may emit (the envelope's documented enum).
pub const KNOWN_REASONS: [&str; 5] =
    ["amount_outlier", "total_mismatch", "duplicate_invoice_number", "duplicate_content", "unusual_for_class"];
/// `BusinessFields::doc_type_hint` values.
pub const KNOWN_DOC_TYPES: [&str; 5] = ["invoice", "receipt", "email", "contract", "other"];

/// Checks every stored field of `doc`.
pub fn validate_scored(doc: &ScoredDocument) -> Result<(), StoreError> {
    let p = &doc.embedded.parsed;
    text("id", &p.id, limits::ID, true)?;
    if p.id.chars().any(char::is_control) {
        return Err(StoreError::invalid("id", "contains control characters"));
    }
    text("class", &doc.class, limits::CLASS, true)?;
    unit_interval("class_confidence", doc.class_confidence)?;
    unit_interval("anomaly_score", doc.anomaly_score)?;
    if doc.anomaly_reasons.len() > limits::REASONS {
        return Err(StoreError::invalid("anomaly_reasons", format!("{} reasons, at most {}", doc.anomaly_reasons.len(), limits::REASONS)));
    }
    for (i, r) in doc.anomaly_reasons.iter().enumerate() {
        one_of(&format!("anomaly_reasons[{i}].reason"), &r.reason, &KNOWN_REASONS)?;
        if !r.value.is_finite() {
            return Err(StoreError::invalid(format!("anomaly_reasons[{i}].value"), format!("{} is not finite", r.value)));
        }
        unit_interval(&format!("anomaly_reasons[{i}].contribution"), r.contribution)?;
    }
    if doc.model_version > i64::MAX as u64 {
        return Err(StoreError::invalid("model_version", "exceeds the CQL bigint range"));
    }
    text("content_type", &p.content_type, limits::CONTENT_TYPE, false)?;
    text("encoder_version", &doc.embedded.encoder_version, limits::ENCODER_VERSION, false)?;
    if !(limits::MIN_CREATED_AT_MS..limits::MAX_CREATED_AT_MS).contains(&p.created_at_ms) {
        return Err(StoreError::invalid("created_at_ms", format!("{} is outside years 2000..2100", p.created_at_ms)));
    }
    let emb = &doc.embedded.embedding_f32le;
    if !emb.len().is_multiple_of(4) {
        return Err(StoreError::invalid("embedding_f32le", format!("{} bytes is not a whole number of f32", emb.len())));
    }
    if emb.len() / 4 > limits::EMBEDDING_DIMS {
        return Err(StoreError::invalid("embedding_f32le", format!("{} dims, at most {}", emb.len() / 4, limits::EMBEDDING_DIMS)));
    }
    if emb.chunks_exact(4).any(|c| !f32::from_le_bytes([c[0], c[1], c[2], c[3]]).is_finite()) {
        return Err(StoreError::invalid("embedding_f32le", "contains NaN or infinity"));
    }
    validate_fields(&p.fields)
}

fn validate_fields(f: &BusinessFields) -> Result<(), StoreError> {
    if let Some(t) = &f.doc_type_hint {
        one_of("fields.doc_type_hint", t, &KNOWN_DOC_TYPES)?;
    }
    opt_text("fields.vendor", &f.vendor, limits::VENDOR)?;
    opt_text("fields.invoice_number", &f.invoice_number, limits::INVOICE_NUMBER)?;
    if let Some(d) = &f.date {
        if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
            return Err(StoreError::invalid("fields.date", format!("{d:?} is not YYYY-MM-DD")));
        }
    }
    if let Some(c) = &f.currency {
        if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(StoreError::invalid("fields.currency", format!("{c:?} is not an ISO 4217 code")));
        }
    }
    opt_text("fields.iban", &f.iban, 34)?;
    opt_text("fields.subject", &f.subject, limits::SHORT_TEXT)?;
    list("fields.line_items", f.line_items.iter().map(|l| l.description.as_str()), f.line_items.len())?;
    list("fields.invalid_ibans", f.invalid_ibans.iter().map(String::as_str), f.invalid_ibans.len())?;
    list("fields.emails", f.emails.iter().map(String::as_str), f.emails.len())?;
    list("fields.phones", f.phones.iter().map(String::as_str), f.phones.len())?;
    list("fields.parties", f.parties.iter().map(String::as_str), f.parties.len())?;
    Ok(())
}

/// Validates an auditor's note.
pub fn validate_note(note: Option<&str>) -> Result<(), StoreError> {
    match note {
        Some(n) => text("note", n, limits::NOTE, false),
        None => Ok(()),
    }
}

/// Validates and normalises the arguments of an invoice-number claim;
/// returns the claim key `(vendor, invoice_number)`.
pub fn claim_args(vendor: &str, invoice_number: &str, doc_id: &str) -> Result<(String, String), StoreError> {
    text("vendor", vendor, limits::VENDOR, true)?;
    text("invoice_number", invoice_number, limits::INVOICE_NUMBER, true)?;
    text("doc_id", doc_id, limits::ID, true)?;
    let v = crate::plan::normalize_vendor(vendor);
    let n = crate::plan::normalize_invoice_number(invoice_number);
    if v.is_empty() || n.is_empty() {
        return Err(StoreError::invalid("invoice_number", "vendor and invoice number must not be blank"));
    }
    Ok((v, n))
}

/// A minimum score for the anomaly listing must be a number in [0, 1].
pub fn check_min_score(min_score: f64) -> Result<(), StoreError> {
    unit_interval("min_score", min_score)
}

fn text(field: &str, value: &str, max: usize, required: bool) -> Result<(), StoreError> {
    if required && value.trim().is_empty() {
        return Err(StoreError::invalid(field, "is empty"));
    }
    if value.len() > max {
        return Err(StoreError::invalid(field, format!("{} bytes, at most {max}", value.len())));
    }
    Ok(())
}

fn opt_text(field: &str, value: &Option<String>, max: usize) -> Result<(), StoreError> {
    value.as_deref().map_or(Ok(()), |v| text(field, v, max, false))
}

fn list<'a>(field: &str, items: impl Iterator<Item = &'a str>, len: usize) -> Result<(), StoreError> {
    if len > limits::LIST_ITEMS {
        return Err(StoreError::invalid(field, format!("{len} items, at most {}", limits::LIST_ITEMS)));
    }
    for (i, s) in items.enumerate() {
        text(&format!("{field}[{i}]"), s, limits::SHORT_TEXT, false)?;
    }
    Ok(())
}

fn unit_interval(field: &str, v: f64) -> Result<(), StoreError> {
    if !v.is_finite() {
        return Err(StoreError::invalid(field, format!("{v} is not a finite number")));
    }
    if !(0.0..=1.0).contains(&v) {
        return Err(StoreError::invalid(field, format!("{v} is outside [0, 1]")));
    }
    Ok(())
}

fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<(), StoreError> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(StoreError::invalid(field, format!("unknown value {v:?} (expected one of {})", allowed.join(", "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::synthetic_scored;

    fn field_of(e: StoreError) -> String {
        match e {
            StoreError::Invalid { field, .. } => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn synthetic_documents_are_valid() {
        for i in 0..200 {
            validate_scored(&synthetic_scored("t", i)).unwrap();
        }
    }

    #[test]
    fn nan_and_infinite_scores_are_rejected() {
        let mut d = synthetic_scored("t", 1);
        d.anomaly_score = f64::NAN;
        assert_eq!(field_of(validate_scored(&d).unwrap_err()), "anomaly_score");
        d.anomaly_score = f64::INFINITY;
        assert_eq!(field_of(validate_scored(&d).unwrap_err()), "anomaly_score");
        d.anomaly_score = 1.5;
        assert_eq!(field_of(validate_scored(&d).unwrap_err()), "anomaly_score");
    }

    #[test]
    fn too_long_strings_are_rejected() {
        let mut d = synthetic_scored("t", 2);
        d.embedded.parsed.fields.vendor = Some("v".repeat(limits::VENDOR + 1));
        assert_eq!(field_of(validate_scored(&d).unwrap_err()), "fields.vendor");
        let mut d = synthetic_scored("t", 2);
        d.embedded.parsed.id = "x".repeat(limits::ID + 1);
        assert_eq!(field_of(validate_scored(&d).unwrap_err()), "id");
    }

    #[test]
    fn unknown_enum_values_are_rejected() {
        let mut d = synthetic_scored("t", 3);
        d.anomaly_reasons[0].reason = "vibes".into();
        assert_eq!(field_of(validate_scored(&d).unwrap_err()), "anomaly_reasons[0].reason");
        let mut d = synthetic_scored("t", 3);
        d.embedded.parsed.fields.doc_type_hint = Some("memo".into());
        assert_eq!(field_of(validate_scored(&d).unwrap_err()), "fields.doc_type_hint");
    }

    #[test]
    fn broken_embeddings_and_dates_are_rejected() {
        let mut d = synthetic_scored("t", 4);
        d.embedded.embedding_f32le.pop();
        assert_eq!(field_of(validate_scored(&d).unwrap_err()), "embedding_f32le");
        let mut d = synthetic_scored("t", 4);
        d.embedded.embedding_f32le[..4].copy_from_slice(&f32::NAN.to_le_bytes());
        assert_eq!(field_of(validate_scored(&d).unwrap_err()), "embedding_f32le");
        let mut d = synthetic_scored("t", 4);
        d.embedded.parsed.created_at_ms = -1;
        assert_eq!(field_of(validate_scored(&d).unwrap_err()), "created_at_ms");
        let mut d = synthetic_scored("t", 4);
        d.embedded.parsed.fields.date = Some("31/12/2024".into());
        assert_eq!(field_of(validate_scored(&d).unwrap_err()), "fields.date");
    }
}
