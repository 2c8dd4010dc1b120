//! Writes the load test's tiny random BERT (real formats and tokenizer,
//! random weights, one layer and one attention head) into a directory, so
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
//! meant to leave out.

use docflow_model::tiny::{write_tiny_model, TinySpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: tiny_model DIR")?;
    let spec = TinySpec { layers: 1, heads: 1, ..TinySpec::default() };
    write_tiny_model(std::path::Path::new(&dir), &spec)?;
    println!("{dir}");
    Ok(())
}
