//! The BERT hyper-parameters, read from the model's `config.json`.
//!
//! Field names and meanings follow Hugging Face transformers' `BertConfig`
//! (<https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/configuration_bert.py>).
//! Only what inference needs is read; the other keys of `config.json`
//! (`architectures`, dropout rates, …) are ignored on purpose, because the
//! file is written by transformers and carries many training-only keys.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::EncoderError;

/// BERT encoder shape (all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads,
/// FFN 1536, vocabulary 30,522, 512 positions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    /// Number of rows of the word-embedding table.
    pub vocab_size: usize,
    /// Width of every token vector between layers.
    pub hidden_size: usize,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer; `hidden_size` must be a multiple.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Activation of the feed-forward layer; only `"gelu"` (the exact, erf
    /// form HF BERT uses) is supported.
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Rows of the position-embedding table: the longest sequence the model
    /// can take, `[CLS]` and `[SEP]` included.
    pub max_position_embeddings: usize,
    /// Rows of the token-type (segment) table; docflow only uses type 0.
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    /// Epsilon added to the variance in every LayerNorm.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Only `"absolute"` positions are supported.
    #[serde(default = "default_position_type")]
    pub position_embedding_type: String,
}

fn default_act() -> String {
    "gelu".to_string()
}
const fn default_type_vocab() -> usize {
    2
}
const fn default_eps() -> f64 {
    1e-12
}
fn default_position_type() -> String {
    "absolute".to_string()
}

impl BertConfig {
    /// Reads and validates `config.json`.
    pub fn from_file(path: &Path) -> Result<Self, EncoderError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| EncoderError::ModelFile { path: path.into(), source })?;
        Self::from_json(&text)
            .map_err(|e| EncoderError::Model(format!("{}: {e}", path.display())))
    }

    /// Parses and validates the JSON text of a `config.json`.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let config: BertConfig =
            serde_json::from_str(text).map_err(|e| format!("not a BERT config: {e}"))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the shape is one this crate can run.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ] {
            if v == 0 {
                return Err(format!("{name} must be positive"));
            }
        }
        #[allow(clippy::manual_is_multiple_of)] // is_multiple_of needs Rust 1.87; MSRV is 1.85
        if self.hidden_size % self.num_attention_heads != 0 {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.hidden_act != "gelu" {
            return Err(format!("hidden_act {:?} unsupported (only \"gelu\")", self.hidden_act));
        }
        if self.position_embedding_type != "absolute" {
            return Err(format!(
                "position_embedding_type {:?} unsupported (only \"absolute\")",
                self.position_embedding_type
            ));
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return Err(format!("layer_norm_eps {} must be a positive number", self.layer_norm_eps));
        }
        Ok(())
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINILM: &str = r#"{"architectures":["BertModel"],"hidden_act":"gelu","hidden_size":384,
        "intermediate_size":1536,"layer_norm_eps":1e-12,"max_position_embeddings":512,
        "model_type":"bert","num_attention_heads":12,"num_hidden_layers":6,
        "position_embedding_type":"absolute","type_vocab_size":2,"vocab_size":30522}"#;

    #[test]
    fn parses_minilm_config() {
        let c = BertConfig::from_json(MINILM).unwrap();
        assert_eq!(c.hidden_size, 384);
        assert_eq!(c.head_dim(), 32);
        assert_eq!(c.layer_norm_eps, 1e-12);
    }

    #[test]
    fn rejects_bad_shapes() {
        let bad = MINILM.replace("\"num_attention_heads\":12", "\"num_attention_heads\":7");
        assert!(BertConfig::from_json(&bad).unwrap_err().contains("multiple"));
        let bad = MINILM.replace("\"gelu\"", "\"relu\"");
        assert!(BertConfig::from_json(&bad).unwrap_err().contains("hidden_act"));
        let bad = MINILM.replace("\"vocab_size\":30522", "\"vocab_size\":0");
        assert!(BertConfig::from_json(&bad).unwrap_err().contains("vocab_size"));
        assert!(BertConfig::from_json("{}").is_err());
    }
}
