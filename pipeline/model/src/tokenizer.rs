//! Text → token ids with the model's own `tokenizer.json` (the `tokenizers`
//! crate, the same Rust code the Python `tokenizers`/`transformers` run),
//! truncated the way sentence-transformers does it: at most `max_tokens`
//! ids (256 for MiniLM) *including* `[CLS]` and `[SEP]`, no padding.
//!
//! Long documents can instead be cut into overlapping windows
//! ([`BertTokenizer::encode_chunks`]) whose embeddings are averaged
//! (`crate::pooling::combine_chunks`).

use std::path::Path;

use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::{EncoderError, PackedBatch};

/// sentence-transformers' `max_seq_length` for all-MiniLM-L6-v2.
pub const DEFAULT_MAX_TOKENS: usize = 256;

/// Bytes of text looked at first per wanted token. No WordPiece token of a
/// BERT vocabulary is near this long, so one round almost always suffices;
/// see [`BertTokenizer::encode`] for why the cut never changes the result.
const BYTES_PER_TOKEN: usize = 64;

/// How long documents are cut into windows for `chunk-mean`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkParams {
    /// Tokens shared by consecutive windows (must be below the window's
    /// content length, `max_tokens - 2`).
    pub overlap: usize,
    /// At most this many windows per document; the rest is dropped, which
    /// bounds the work any one document can cause.
    pub max_chunks: usize,
}

impl Default for ChunkParams {
    fn default() -> Self {
        ChunkParams { overlap: 32, max_chunks: 16 }
    }
}

/// The model's WordPiece tokenizer with sentence-transformers truncation.
#[derive(Clone)]
pub struct BertTokenizer {
    /// Truncates to `max_tokens` with the post-processor's special tokens.
    truncating: Tokenizer,
    /// The same, untruncated: for chunking.
    whole: Tokenizer,
    max_tokens: usize,
    /// Ids the post-processor puts before / after a single sequence
    /// (`[CLS]` / `[SEP]` for BERT).
    prefix: Vec<u32>,
    suffix: Vec<u32>,
}

impl std::fmt::Debug for BertTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertTokenizer").field("max_tokens", &self.max_tokens).finish_non_exhaustive()
    }
}

impl BertTokenizer {
    /// Loads `tokenizer.json`, replacing its own truncation and padding
    /// settings (MiniLM's file says 128 and pad-to-128; sentence-transformers
    /// overrides both the same way).
    pub fn from_file(path: &Path, max_tokens: usize) -> Result<Self, EncoderError> {
        let bytes = std::fs::read(path)
            .map_err(|source| EncoderError::ModelFile { path: path.into(), source })?;
        Self::from_bytes(&bytes, max_tokens)
            .map_err(|e| EncoderError::Model(format!("{}: {e}", path.display())))
    }

    /// Same as [`from_file`](Self::from_file) on the JSON bytes.
    pub fn from_bytes(json: &[u8], max_tokens: usize) -> Result<Self, String> {
        let mut whole = Tokenizer::from_bytes(json).map_err(|e| format!("not a tokenizer.json: {e}"))?;
        whole.with_padding(None);
        whole.with_truncation(None).map_err(|e| e.to_string())?;
        let specials = whole.encode_fast("", true).map_err(|e| e.to_string())?;
        let specials = specials.get_ids();
        if specials.len() != 2 {
            return Err(format!(
                "the post-processor adds {} special tokens to a sequence; expected [CLS] and [SEP]",
                specials.len()
            ));
        }
        if max_tokens <= specials.len() {
            return Err(format!("max_tokens {max_tokens} leaves no room for text"));
        }
        let mut truncating = whole.clone();
        truncating
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_tokens,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| e.to_string())?;
        Ok(BertTokenizer {
            truncating,
            whole,
            max_tokens,
            prefix: vec![specials[0]],
            suffix: vec![specials[1]],
        })
    }

    /// Longest output, special tokens included.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.whole.get_vocab_size(true)
    }

    /// Token ids of `text`: `[CLS] …first max_tokens-2 pieces… [SEP]`.
    ///
    /// Only a prefix of a long text is tokenised: the text is cut at a
    /// split point of the BERT pre-tokenizer (ASCII whitespace or
    /// punctuation), so every word before the cut tokenises exactly as in
    /// the full text; if that prefix already overflows the limit, its first
    /// pieces *are* the full text's. Otherwise the prefix grows and the
    /// check repeats, ending at the whole text. So a 1 MB document costs
    /// about 16 KB of tokenising, and the ids equal the untruncated
    /// tokenizer's.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, EncoderError> {
        let mut limit = self.max_tokens * BYTES_PER_TOKEN;
        loop {
            let (prefix, is_whole) = cut_at_split_point(text, limit);
            let encoding = self
                .truncating
                .encode_fast(prefix, true)
                .map_err(|e| EncoderError::InvalidBatch(format!("tokenizer: {e}")))?;
            if is_whole || !encoding.get_overflowing().is_empty() {
                return Ok(encoding.get_ids().to_vec());
            }
            limit = limit.saturating_mul(4);
        }
    }

    /// [`encode`](Self::encode) of every text, in parallel on the current
    /// rayon pool.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, EncoderError> {
        texts.par_iter().map(|t| self.encode(t)).collect()
    }

    /// Tokenises and packs texts into one batch, in order.
    pub fn pack(&self, texts: &[&str]) -> Result<PackedBatch, EncoderError> {
        Ok(PackedBatch::from_sequences(&self.encode_batch(texts)?))
    }

    /// Windows of at most `max_tokens` ids (each `[CLS] … [SEP]`) covering
    /// the text, consecutive windows sharing `overlap` pieces; at least one
    /// window (`[CLS][SEP]` for an empty text), at most `max_chunks`. The
    /// first window equals [`encode`](Self::encode).
    pub fn encode_chunks(&self, text: &str, params: ChunkParams) -> Result<Vec<Vec<u32>>, EncoderError> {
        let window = self.max_tokens - self.prefix.len() - self.suffix.len();
        if params.overlap >= window || params.max_chunks == 0 {
            return Err(EncoderError::InvalidBatch(format!(
                "chunking needs overlap < {window} and max_chunks ≥ 1 (got {} and {})",
                params.overlap, params.max_chunks
            )));
        }
        let step = window - params.overlap;
        // Pieces needed for max_chunks full windows, plus one to know more follow.
        let wanted = window + (params.max_chunks - 1) * step + 1;
        let mut limit = wanted * BYTES_PER_TOKEN;
        let pieces = loop {
            let (prefix, is_whole) = cut_at_split_point(text, limit);
            let encoding = self
                .whole
                .encode_fast(prefix, false)
                .map_err(|e| EncoderError::InvalidBatch(format!("tokenizer: {e}")))?;
            if is_whole || encoding.len() >= wanted {
                break encoding.get_ids().to_vec();
            }
            limit = limit.saturating_mul(4);
        };
        let mut chunks = Vec::new();
        let mut start = 0;
        loop {
            let end = (start + window).min(pieces.len());
            let mut ids = Vec::with_capacity(end - start + 2);
            ids.extend_from_slice(&self.prefix);
            ids.extend_from_slice(&pieces[start..end]);
            ids.extend_from_slice(&self.suffix);
            chunks.push(ids);
            if end == pieces.len() || chunks.len() == params.max_chunks {
                return Ok(chunks);
            }
            start += step;
        }
    }
}

/// The longest prefix of `text` of at most `limit` bytes that ends just
/// before ASCII whitespace or punctuation (a split point of BERT's
/// pre-tokenizer), and whether it is the whole text. Texts with no such
/// point in range (one giant "word") are cut at a char boundary: such a
/// word is far over WordPiece's 100-char limit and becomes `[UNK]` either way.
fn cut_at_split_point(text: &str, limit: usize) -> (&str, bool) {
    if text.len() <= limit {
        return (text, true);
    }
    let bytes = text.as_bytes();
    // ASCII bytes are always char boundaries in UTF-8.
    if let Some(i) = (1..=limit).rev().find(|&i| bytes[i].is_ascii_whitespace() || bytes[i].is_ascii_punctuation()) {
        return (&text[..i], false);
    }
    let mut i = limit;
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    (&text[..i], false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_before_split_points() {
        assert_eq!(cut_at_split_point("abc def", 100), ("abc def", true));
        assert_eq!(cut_at_split_point("abc def ghi", 9), ("abc def", false));
        assert_eq!(cut_at_split_point("abc,def", 5), ("abc", false));
        // No split point: cut at a char boundary (é is two bytes).
        assert_eq!(cut_at_split_point("éééé", 3), ("é", false));
    }
}
