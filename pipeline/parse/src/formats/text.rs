//! `text/plain`: UTF-8, decoded lossily (flagged `invalid_utf8`) when broken.

use super::{normalize, Extracted};

/// Decodes and normalises a plain-text body.
pub fn parse(body: &[u8]) -> Extracted {
    let mut warnings = Vec::new();
    let text = match std::str::from_utf8(body) {
        Ok(s) => normalize(s),
        Err(_) => {
            warnings.push("invalid_utf8".to_string());
            normalize(&String::from_utf8_lossy(body))
        }
    };
    Extracted { text, warnings, ..Default::default() }
}

/// Decodes bytes as UTF-8, lossily with an `invalid_utf8` warning.
pub fn decode(body: &[u8], warnings: &mut Vec<String>) -> String {
    match std::str::from_utf8(body) {
        Ok(s) => s.to_string(),
        Err(_) => {
            warnings.push("invalid_utf8".to_string());
            String::from_utf8_lossy(body).into_owned()
        }
    }
}
