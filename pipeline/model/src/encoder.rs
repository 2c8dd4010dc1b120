//! The one interface every encoder implements: packed, unpadded batches in,
//! L2-normalised sentence embeddings out.

/// Token ids of several sequences laid end to end, with no padding.
///
/// Sequence `i` is `token_ids[cu_seqlens[i] .. cu_seqlens[i + 1]]`
/// (cumulative offsets, `cu_seqlens[0] == 0`, length = sequences + 1).
/// Each sequence already includes `[CLS]` and `[SEP]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackedBatch {
    pub token_ids: Vec<u32>,
    pub cu_seqlens: Vec<u32>,
}

impl PackedBatch {
    /// Packs tokenised sequences end to end.
    pub fn from_sequences<S: AsRef<[u32]>>(sequences: &[S]) -> Self {
        let mut batch = PackedBatch { token_ids: Vec::new(), cu_seqlens: vec![0] };
        for seq in sequences {
            batch.push(seq.as_ref());
        }
        batch
    }

    /// Appends one sequence.
    pub fn push(&mut self, seq: &[u32]) {
        if self.cu_seqlens.is_empty() {
            self.cu_seqlens.push(0);
        }
        self.token_ids.extend_from_slice(seq);
        self.cu_seqlens.push(self.token_ids.len() as u32);
    }

    /// Number of sequences.
    pub fn len(&self) -> usize {
        self.cu_seqlens.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total tokens over all sequences.
    pub fn total_tokens(&self) -> usize {
        self.token_ids.len()
    }

    /// Tokens of sequence `i`.
    pub fn sequence(&self, i: usize) -> &[u32] {
        &self.token_ids[self.cu_seqlens[i] as usize..self.cu_seqlens[i + 1] as usize]
    }
}

/// A failure with its own type, kept as the source of an [`EncoderError`].
pub type Source = Box<dyn std::error::Error + Send + Sync>;

/// Why an encoder could not produce embeddings. Where a failure has a type
/// of its own (an I/O error, a CUDA driver or kernel error) it is kept as
/// the `source`; [`EncoderError::with_sources`] prints the whole chain.
#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    /// Model files wrong or inconsistent (the message says how).
    #[error("model: {0}")]
    Model(String),
    /// A model file cannot be read.
    #[error("model: cannot read {}", path.display())]
    ModelFile { path: std::path::PathBuf, source: std::io::Error },
    /// A model file is not in its format (wrong or truncated).
    #[error("model: {} is not a valid {what} (wrong or truncated)", path.display())]
    ModelFormat { path: std::path::PathBuf, what: &'static str, source: Source },
    /// The requested device is not usable here (no GPU, no driver).
    #[error("device unavailable: {0}")]
    DeviceUnavailable(String),
    /// The requested device is not usable here, for the reason of `source`
    /// (no CUDA driver, NVRTC or headers; a driver that refuses the GPU).
    #[error("device unavailable")]
    Unavailable(#[source] Source),
    /// The device failed (a driver call, a kernel launch, out of memory).
    #[error("device error")]
    Device(#[source] Source),
    /// The input batch breaks a limit (empty sequence, too long, bad token id).
    #[error("invalid batch: {0}")]
    InvalidBatch(String),
    /// A failure inside the encoder (kernel launch, out of memory).
    #[error("encoder internal error: {0}")]
    Internal(String),
    /// The encoder's thread (or thread pool) could not be started.
    #[error("cannot start the encoder's threads")]
    Thread(#[source] Source),
    /// The encoder's thread has ended (it panicked, or its device failed).
    #[error("{0}")]
    Stopped(&'static str),
    /// The failure of a batch, passed on to each of its documents.
    #[error(transparent)]
    Shared(std::sync::Arc<EncoderError>),
}

impl EncoderError {
    /// The error itself, looking through [`EncoderError::Shared`].
    pub fn kind(&self) -> &EncoderError {
        match self {
            EncoderError::Shared(e) => e.kind(),
            e => e,
        }
    }

    /// `error: source: source of the source …`, as logs and dead letters carry it.
    pub fn with_sources(&self) -> String {
        let mut text = self.to_string();
        let mut next = std::error::Error::source(self);
        while let Some(s) = next {
            text.push_str(": ");
            text.push_str(&s.to_string());
            next = s.source();
        }
        text
    }
}

/// A sentence encoder: packed token ids in, one L2-normalised embedding per
/// sequence out (row-major, `batch.len() * dim()` floats).
pub trait Encoder: Send {
    /// Embedding width (384 for MiniLM).
    fn dim(&self) -> usize;
    /// Longest sequence accepted, in tokens including `[CLS]`/`[SEP]`.
    fn max_tokens(&self) -> usize;
    /// Short name for logs and metrics (`"cpu"`, `"cuda:0"`).
    fn device_name(&self) -> String;
    /// Embeds every sequence of the batch.
    fn encode_packed(&mut self, batch: &PackedBatch) -> Result<Vec<f32>, EncoderError>;
}
