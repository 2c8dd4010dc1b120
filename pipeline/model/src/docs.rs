//! Documents files, as `docflow embed` reads its input and the benchmarks
//! their corpus: JSON lines `{"id"?, "text"}` or bare JSON strings, blank
//! lines skipped.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Why one line is not a document.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("not JSON")]
    NotJson(#[source] serde_json::Error),
    #[error("\"text\" must be a string")]
    TextNotString,
    #[error("missing \"text\"")]
    MissingText,
    #[error("expected an object {{\"id\"?, \"text\"}}")]
    NotAnObject,
}

/// Why a documents file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    #[error("cannot open {}", path.display())]
    Open { path: PathBuf, source: std::io::Error },
    #[error("cannot read {}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{} line {line}", path.display())]
    Record { path: PathBuf, line: usize, source: RecordError },
}

/// `{"id"?, "text"}` or a bare JSON string; a record without `id` gets
/// `record` (its 0-based number).
pub fn parse_record(line: &str, record: u64) -> Result<(Value, String), RecordError> {
    match serde_json::from_str::<Value>(line).map_err(RecordError::NotJson)? {
        Value::String(text) => Ok((Value::from(record), text)),
        Value::Object(mut map) => {
            let text = match map.remove("text") {
                Some(Value::String(t)) => t,
                Some(_) => return Err(RecordError::TextNotString),
                None => return Err(RecordError::MissingText),
            };
            Ok((map.remove("id").unwrap_or_else(|| Value::from(record)), text))
        }
        _ => Err(RecordError::NotAnObject),
    }
}

/// Texts of a documents file.
pub fn read_docs(path: &Path) -> Result<Vec<String>, DocsError> {
    let file = std::fs::File::open(path).map_err(|source| DocsError::Open { path: path.into(), source })?;
    let mut texts = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| DocsError::Read { path: path.into(), source })?;
        if line.trim().is_empty() {
            continue;
        }
        let (_, text) = parse_record(&line, 0).map_err(|source| DocsError::Record { path: path.into(), line: n + 1, source })?;
        texts.push(text);
    }
    Ok(texts)
}
