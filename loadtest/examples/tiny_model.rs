//! Writes the load test's tiny random BERT (real formats and tokenizer,
//! random weights, one layer, one attention head, 64 positions) into a directory, so
//! the pipeline's capacity can be load-tested without the model's cost:
//!
//! ```text
//! cargo run --release -p docflow-loadtest --example tiny_model -- /tmp/tiny-bert
//! docflow stage infer --model /tmp/tiny-bert
//! ```
//!
//! One layer and one head rather than the test model's two and four: at 256
//! tokens per document attention is quadratic, and with the test model it
//! was still ≈ 4 ms of CPU per document, enough to make the infer stage the
//! pipeline's limit on two cores, which is the model's cost this run is
//! meant to leave out. For the same reason the position table has 64 rows,
//! so documents are truncated at 64 tokens: at 256 the attention scores
//! (a 256 × 256 softmax per document) were still ≈ 30% of the infer stage's
//! CPU at 200 documents/s (`perf`, 2026-11-28). Tokenising still reads the
//! whole document, as with the real model.

use docflow_model::tiny::{write_tiny_model, TinySpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: tiny_model DIR")?;
    let spec = TinySpec { layers: 1, heads: 1, max_positions: 64, ..TinySpec::default() };
    write_tiny_model(std::path::Path::new(&dir), &spec)?;
    println!("{dir}");
    Ok(())
}
