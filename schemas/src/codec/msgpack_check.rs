//! A structural pre-check of MessagePack input, run before serde decodes it.
//!
//! It walks exactly one value with an explicit stack (no recursion) and fails on:
//! - a declared str/bin/ext length, or array/map element count, larger than the
//!   bytes that remain (every element takes at least one byte) → `Truncated`;
//! - nesting deeper than the limit → `TooDeep`;
//! - the reserved marker `0xc1`, or bytes after the value → `Malformed`.
//!
//! After it passes, no length prefix serde sees can exceed the input length,
//! so no decoder can be talked into a huge pre-allocation, and recursion depth
//! is bounded. Cost: one linear pass without allocation beyond the small stack.

use super::CodecError;

/// Checks that `bytes` holds exactly one well-formed MessagePack value.
pub(super) fn check(bytes: &[u8], max_depth: usize) -> Result<(), CodecError> {
    let mut r = Reader { bytes, pos: 0 };
    // Remaining child values of each open container, innermost last.
    let mut open: Vec<u64> = Vec::new();
    loop {
        let children = r.value_header()?;
        if children > 0 {
            if open.len() >= max_depth {
                return Err(CodecError::TooDeep { limit: max_depth });
            }
            // Each child takes at least one byte.
            if children > r.remaining() as u64 {
                return Err(CodecError::Truncated);
            }
            open.push(children);
            continue;
        }
        // A value is complete: close every container it completes.
        loop {
            match open.last_mut() {
                None => {
                    return match r.remaining() {
                        0 => Ok(()),
                        n => Err(CodecError::Malformed(format!(
                            "{n} trailing bytes after the message"
                        ))),
                    }
                }
                Some(left) => {
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                    open.pop();
                }
            }
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8], CodecError> {
        if n > self.remaining() {
            return Err(CodecError::Truncated);
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Big-endian unsigned length of `n` bytes (1, 2 or 4).
    fn len(&mut self, n: usize) -> Result<u64, CodecError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn skip(&mut self, n: u64) -> Result<(), CodecError> {
        let n = usize::try_from(n).map_err(|_| CodecError::Truncated)?;
        self.take(n).map(|_| ())
    }

    /// Reads one value's marker and skips its scalar payload; returns how many
    /// child values follow (0 for scalars, n for arrays, 2n for maps).
    fn value_header(&mut self) -> Result<u64, CodecError> {
        let marker = self.take(1)?[0];
        let children = match marker {
            // positive/negative fixint, nil, false, true
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => 0,
            0x80..=0x8f => u64::from(marker & 0x0f) * 2,
            0x90..=0x9f => u64::from(marker & 0x0f),
            0xa0..=0xbf => return self.skip(u64::from(marker & 0x1f)).map(|_| 0),
            0xc1 => return Err(CodecError::Malformed("reserved marker 0xc1".into())),
            // bin 8/16/32, str 8/16/32
            0xc4 | 0xd9 => return self.len(1).and_then(|n| self.skip(n)).map(|_| 0),
            0xc5 | 0xda => return self.len(2).and_then(|n| self.skip(n)).map(|_| 0),
            0xc6 | 0xdb => return self.len(4).and_then(|n| self.skip(n)).map(|_| 0),
            // ext 8/16/32: length, type byte, data
            0xc7 => return self.len(1).and_then(|n| self.skip(n + 1)).map(|_| 0),
            0xc8 => return self.len(2).and_then(|n| self.skip(n + 1)).map(|_| 0),
            0xc9 => return self.len(4).and_then(|n| self.skip(n + 1)).map(|_| 0),
            // float 32/64, uint 8..64, int 8..64
            0xca => return self.skip(4).map(|_| 0),
            0xcb => return self.skip(8).map(|_| 0),
            0xcc | 0xd0 => return self.skip(1).map(|_| 0),
            0xcd | 0xd1 => return self.skip(2).map(|_| 0),
            0xce | 0xd2 => return self.skip(4).map(|_| 0),
            0xcf | 0xd3 => return self.skip(8).map(|_| 0),
            // fixext 1/2/4/8/16: type byte + data
            0xd4 => return self.skip(2).map(|_| 0),
            0xd5 => return self.skip(3).map(|_| 0),
            0xd6 => return self.skip(5).map(|_| 0),
            0xd7 => return self.skip(9).map(|_| 0),
            0xd8 => return self.skip(17).map(|_| 0),
            0xdc => self.len(2)?,
            0xdd => self.len(4)?,
            0xde => self.len(2)? * 2,
            0xdf => self.len(4)? * 2,
        };
        Ok(children)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(b: &[u8]) -> bool {
        check(b, 8).is_ok()
    }

    #[test]
    fn accepts_well_formed_values() {
        assert!(ok(&[0x01]));
        assert!(ok(&[0x90])); // []
        assert!(ok(&[0x80])); // {}
        assert!(ok(&[0x92, 0x01, 0x91, 0xc0])); // [1, [nil]]
        assert!(ok(&[0x81, 0xa1, b'a', 0x92, 0xc3, 0xc2])); // {"a": [true, false]}
        assert!(ok(&[0xc4, 0x02, 0xaa, 0xbb])); // bin8
        assert!(ok(&[0xd6, 0x01, 0, 0, 0, 0])); // fixext4
        assert!(ok(&[0xc7, 0x01, 0x05, 0xff])); // ext8
        assert!(ok(&[0xdc, 0x00, 0x01, 0x07])); // array16 [7]
    }

    #[test]
    fn rejects_what_the_input_cannot_hold() {
        assert!(matches!(check(&[], 8), Err(CodecError::Truncated)));
        assert!(matches!(
            check(&[0xdd, 0xff, 0xff, 0xff, 0xff], 8),
            Err(CodecError::Truncated)
        ));
        assert!(matches!(
            check(&[0xdf, 0xff, 0xff, 0xff, 0xff, 0x01], 8),
            Err(CodecError::Truncated)
        ));
        assert!(matches!(
            check(&[0xdb, 0xff, 0xff, 0xff, 0xff, b'a'], 8),
            Err(CodecError::Truncated)
        ));
        assert!(matches!(
            check(&[0xc6, 0xff, 0xff, 0xff, 0xff], 8),
            Err(CodecError::Truncated)
        ));
        assert!(matches!(
            check(&[0xc9, 0xff, 0xff, 0xff, 0xff, 0x01], 8),
            Err(CodecError::Truncated)
        ));
        assert!(matches!(
            check(&[0x92, 0x01], 8),
            Err(CodecError::Truncated)
        ));
        assert!(matches!(
            check(&[0xcb, 0, 0], 8),
            Err(CodecError::Truncated)
        ));
    }

    #[test]
    fn rejects_reserved_trailing_and_deep() {
        assert!(matches!(check(&[0xc1], 8), Err(CodecError::Malformed(_))));
        assert!(matches!(
            check(&[0x01, 0x02], 8),
            Err(CodecError::Malformed(_))
        ));
        let mut deep = vec![0x91; 9];
        deep.push(0x01);
        assert!(matches!(
            check(&deep, 8),
            Err(CodecError::TooDeep { limit: 8 })
        ));
        assert!(ok(&deep[1..]));
    }
}
