//! Inputs shared by the crate's differential tests (a fast path checked
//! against the general code it bypasses).

use std::path::Path;

/// The inputs `cargo fuzz` has kept for `target` under `fuzz/corpus/`, when
/// there are any. The corpus is grown locally and not committed (the
/// crashes it found are regression tests), so a clean checkout has none:
/// the tests then run on their generated and hand-written inputs alone,
/// and say so.
pub(crate) fn fuzz_corpus(target: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .flatten()
            .filter_map(|f| std::fs::read(f.path()).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .collect(),
        Err(_) => {
            println!("no fuzz corpus at {} (not committed): generated inputs only", dir.display());
            Vec::new()
        }
    }
}

/// `n` documents of the load-test generator (every class) in `formats`.
pub(crate) fn generated(seed: u64, n: usize, formats: &[docflow_corpus::DocFormat]) -> Vec<docflow_schemas::RawDocument> {
    use docflow_corpus::{Corpus, CorpusConfig};
    Corpus::new(CorpusConfig { seed, formats: formats.to_vec(), ..Default::default() }).take(n).map(|d| d.raw).collect()
}
