//! The nesting pre-check of JSON input, the twin of `msgpack_check`: one
//! linear pass over the bytes, counting open arrays and objects outside
//! strings, so a value nested deeper than the limit is refused (`too_deep`)
//! whatever key it hides under. (serde_json skips unknown keys without a
//! depth limit, so without this a 10,000-deep array under an unknown key
//! was accepted in JSON while the same in MessagePack was refused.)

use super::CodecError;

/// Fails with [`CodecError::TooDeep`] if containers nest deeper than `max_depth`.
pub(super) fn check(bytes: &[u8], max_depth: usize) -> Result<(), CodecError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(CodecError::TooDeep { limit: max_depth });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_containers_outside_strings() {
        assert!(check(br#"{"a": [[1]], "s": "[[[[[[{{{{"}"#, 3).is_ok());
        assert!(matches!(check(br#"{"a": [[[1]]]}"#, 3), Err(CodecError::TooDeep { limit: 3 })));
        assert!(check(br#"{"s": "\"[[[[", "t": 1}"#, 1).is_ok());
    }
}
