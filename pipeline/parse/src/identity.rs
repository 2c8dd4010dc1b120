//! The document's identity, checked at the door: the envelope `id` must be
//! a usable key (non-empty, at most [`MAX_ID_BYTES`] bytes of UTF-8, no
//! control characters) and the Kafka record key, when there is one, must
//! equal it. A record breaking either is dead-lettered before parsing,
//! embedding and scoring spend anything on it.
//!
//! Rule for keys: an absent (or empty) key means "use the id"; any other key
//! must be byte-equal to the id (`key_id_mismatch` otherwise), since results
//! are keyed and stored by the id and a document must keep its partition.

use crate::error::ParseError;
pub use docflow_schemas::MAX_ID_BYTES;

/// Checks `id` and, when present, the record `key` against it.
pub fn check_identity(id: &str, key: Option<&[u8]>) -> Result<(), ParseError> {
    if id.is_empty() {
        return Err(ParseError::InvalidId("the id is empty".to_string()));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(ParseError::IdTooLong { len: id.len(), limit: MAX_ID_BYTES });
    }
    if id.chars().any(char::is_control) {
        return Err(ParseError::InvalidId("the id contains control characters".to_string()));
    }
    match key {
        Some(k) if !k.is_empty() && k != id.as_bytes() => {
            let shown: String = String::from_utf8_lossy(&k[..k.len().min(64)]).chars().filter(|c| !c.is_control()).collect();
            Err(ParseError::KeyIdMismatch { key: shown, id: id.chars().take(64).collect() })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_keys() {
        assert_eq!(check_identity("inv-1", None), Ok(()));
        assert_eq!(check_identity("inv-1", Some(b"")), Ok(()));
        assert_eq!(check_identity("inv-1", Some(b"inv-1")), Ok(()));
        assert_eq!(check_identity("inv-1", Some(b"inv-2")).unwrap_err().kind(), "key_id_mismatch");
        assert_eq!(check_identity("", None).unwrap_err().kind(), "invalid_id");
        assert_eq!(check_identity("a\nb", None).unwrap_err().kind(), "invalid_id");
        assert_eq!(check_identity(&"x".repeat(MAX_ID_BYTES), None), Ok(()));
        assert_eq!(check_identity(&"x".repeat(MAX_ID_BYTES + 1), None).unwrap_err().kind(), "id_too_long");
    }
}
