//! The LZ4 frame around large MessagePack payloads (`docflow-codec: msgpack+lz4`).
//!
//! ```text
//! offset  size  field
//! 0       4     magic, ASCII "DFL4" (0x44 0x46 0x4C 0x34)
//! 4       4     decompressed length, u32 little-endian
//! 8       n     one LZ4 *block* (lz4_flex::block format: no frame header,
//!               no checksum; Kafka's record CRC covers the bytes)
//! ```
//!
//! Decoding checks the claimed length against [`Limits::max_decoded_bytes`]
//! and against the most the block could expand to (LZ4 emits at most 255
//! bytes per input byte) *before* allocating, then checks the real
//! decompressed size equals the claim.

use super::{CodecError, Limits};

/// The four magic bytes opening every frame.
pub const MAGIC: [u8; 4] = *b"DFL4";
/// Magic plus the length field.
pub const HEADER_LEN: usize = 8;
/// Upper bound on LZ4 expansion per compressed byte (a match-length extension
/// byte adds at most 255 bytes of output), plus slack for the last sequence.
const MAX_RATIO: u64 = 255;
const RATIO_SLACK: u64 = 64;

/// Frames `raw` (which must be at most `u32::MAX` bytes).
pub fn encode(raw: &[u8]) -> Result<Vec<u8>, CodecError> {
    let len = u32::try_from(raw.len()).map_err(|_| CodecError::TooLarge {
        what: "decoded",
        size: raw.len(),
        limit: u32::MAX as usize,
    })?;
    let block = lz4_flex::block::compress(raw);
    let mut out = Vec::with_capacity(HEADER_LEN + block.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&block);
    Ok(out)
}

/// Unframes and decompresses, allocating at most the (checked) claimed length.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Vec<u8>, CodecError> {
    let magic_seen = &bytes[..bytes.len().min(MAGIC.len())];
    if magic_seen != &MAGIC[..magic_seen.len()] {
        return Err(CodecError::BadFrame(format!(
            "bad magic {magic_seen:02x?}, expected \"DFL4\""
        )));
    }
    if bytes.len() < HEADER_LEN {
        return Err(CodecError::Truncated);
    }
    let claimed = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as u64;
    let block = &bytes[HEADER_LEN..];
    if claimed > limits.max_decoded_bytes as u64 {
        return Err(CodecError::DecompressionBomb {
            claimed,
            limit: limits.max_decoded_bytes,
        });
    }
    let possible = (block.len() as u64)
        .saturating_mul(MAX_RATIO)
        .saturating_add(RATIO_SLACK);
    if claimed > possible {
        return Err(CodecError::DecompressionBomb {
            claimed,
            limit: possible.min(limits.max_decoded_bytes as u64) as usize,
        });
    }
    // `claimed` ≤ max_decoded_bytes (a usize), so the cast is lossless.
    let mut out = vec![0u8; claimed as usize];
    let n = lz4_flex::block::decompress_into(block, &mut out)
        .map_err(|e| CodecError::BadFrame(format!("corrupt LZ4 block: {e}")))?;
    if n as u64 != claimed {
        return Err(CodecError::BadFrame(format!(
            "block decompresses to {n} bytes, frame claims {claimed}"
        )));
    }
    Ok(out)
}
