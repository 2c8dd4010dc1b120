//! [`TextEncoder`]: texts in, embeddings out — the tokenizer in front of any
//! [`Encoder`], batching by a token budget, and the long-document policy
//! (`truncate` or `chunk-mean`).

use std::path::Path;

use crate::pooling::combine_chunks;
use crate::tokenizer::{BertTokenizer, ChunkParams, DEFAULT_MAX_TOKENS};
use crate::{Encoder, EncoderError, PackedBatch};

/// What to do with a document longer than the model's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LongText {
    /// Keep the first 256 tokens, as sentence-transformers does.
    #[default]
    Truncate,
    /// Embed overlapping windows and average them (then re-normalise).
    ChunkMean(ChunkParams),
}

/// Knobs of a [`TextEncoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextEncoderOptions {
    pub long_text: LongText,
    /// A batch handed to the encoder holds at most this many tokens (but
    /// always at least one sequence).
    pub batch_tokens: usize,
    /// Longest sequence, special tokens included.
    pub max_tokens: usize,
}

impl Default for TextEncoderOptions {
    fn default() -> Self {
        TextEncoderOptions { long_text: LongText::Truncate, batch_tokens: 4096, max_tokens: DEFAULT_MAX_TOKENS }
    }
}

/// Counters over the lifetime of a [`TextEncoder`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeStats {
    /// Batches given to the encoder.
    pub batches: u64,
    /// Sequences encoded (windows count separately under `chunk-mean`).
    pub sequences: u64,
    /// Tokens encoded, special tokens included.
    pub tokens: u64,
}

/// Tokenizer + encoder: the whole text-to-embedding path.
pub struct TextEncoder {
    tokenizer: BertTokenizer,
    encoder: Box<dyn Encoder>,
    options: TextEncoderOptions,
    stats: EncodeStats,
}

impl TextEncoder {
    /// Loads `tokenizer.json` from `model_dir` for `encoder`. Sequences are
    /// cut at `options.max_tokens` or the encoder's limit (the model's
    /// position table), whichever is shorter.
    pub fn load(model_dir: &Path, encoder: Box<dyn Encoder>, options: TextEncoderOptions) -> Result<Self, EncoderError> {
        let max_tokens = options.max_tokens.min(encoder.max_tokens());
        let tokenizer = BertTokenizer::from_file(&model_dir.join("tokenizer.json"), max_tokens)?;
        let options = TextEncoderOptions { max_tokens, ..options };
        Self::new(tokenizer, encoder, options)
    }

    /// Checks that the tokenizer's output fits the encoder.
    pub fn new(tokenizer: BertTokenizer, encoder: Box<dyn Encoder>, options: TextEncoderOptions) -> Result<Self, EncoderError> {
        if tokenizer.max_tokens() > encoder.max_tokens() {
            return Err(EncoderError::Model(format!(
                "tokenizer emits up to {} tokens but the {} encoder takes at most {}",
                tokenizer.max_tokens(),
                encoder.device_name(),
                encoder.max_tokens()
            )));
        }
        if options.batch_tokens == 0 {
            return Err(EncoderError::InvalidBatch("batch_tokens must be positive".into()));
        }
        Ok(TextEncoder { tokenizer, encoder, options, stats: EncodeStats::default() })
    }

    pub fn tokenizer(&self) -> &BertTokenizer {
        &self.tokenizer
    }

    pub fn encoder(&self) -> &dyn Encoder {
        self.encoder.as_ref()
    }

    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.encoder.dim()
    }

    pub fn stats(&self) -> EncodeStats {
        self.stats
    }

    /// Token windows of every text (one window unless `chunk-mean` splits a
    /// long text), tokenised in parallel.
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<Vec<u32>>>, EncoderError> {
        use rayon::prelude::*;
        let tokenizer = &self.tokenizer;
        match self.options.long_text {
            LongText::Truncate => texts.par_iter().map(|t| Ok(vec![tokenizer.encode(t)?])).collect(),
            LongText::ChunkMean(p) => texts.par_iter().map(|t| tokenizer.encode_chunks(t, p)).collect(),
        }
    }

    /// One unit-length embedding per text, in order. Empty or
    /// whitespace-only text is well defined: the embedding of `[CLS][SEP]`.
    pub fn encode_texts(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
        let docs = self.tokenize(texts)?;
        self.encode_tokenized(&docs)
    }

    /// Embeds pre-tokenised documents (each one or more windows), packing
    /// windows into batches of at most `batch_tokens` tokens.
    pub fn encode_tokenized(&mut self, docs: &[Vec<Vec<u32>>]) -> Result<Vec<Vec<f32>>, EncoderError> {
        let dim = self.encoder.dim();
        if let Some(i) = docs.iter().position(|d| d.is_empty()) {
            return Err(EncoderError::InvalidBatch(format!("document {i} has no token windows")));
        }
        let windows: Vec<&[u32]> = docs.iter().flatten().map(|w| w.as_slice()).collect();
        let mut flat: Vec<f32> = Vec::with_capacity(windows.len() * dim);
        let mut batch = PackedBatch::from_sequences::<&[u32]>(&[]);
        for (i, w) in windows.iter().enumerate() {
            batch.push(w);
            let close = match windows.get(i + 1) {
                None => true,
                Some(next) => batch.total_tokens() + next.len() > self.options.batch_tokens,
            };
            if close {
                let out = self.encoder.encode_packed(&batch)?;
                if out.len() != batch.len() * dim {
                    return Err(EncoderError::Internal(format!(
                        "encoder returned {} floats for {} sequences of width {dim}",
                        out.len(),
                        batch.len()
                    )));
                }
                self.stats.batches += 1;
                self.stats.sequences += batch.len() as u64;
                self.stats.tokens += batch.total_tokens() as u64;
                flat.extend_from_slice(&out);
                batch = PackedBatch::from_sequences::<&[u32]>(&[]);
            }
        }
        let mut result = Vec::with_capacity(docs.len());
        let mut row = 0;
        for doc in docs {
            let n = doc.len();
            let rows = &flat[row * dim..(row + n) * dim];
            result.push(if n == 1 { rows.to_vec() } else { combine_chunks(rows, dim)? });
            row += n;
        }
        Ok(result)
    }
}
