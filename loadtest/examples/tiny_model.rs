//! Writes docflow's tiny random BERT (the test model: real formats, random
//! weights, a fraction of the real model's cost) into a directory, so the
//! pipeline's capacity can be load-tested without the model's cost:
//!
//! ```text
//! cargo run --release -p docflow-loadtest --example tiny_model -- /tmp/tiny-bert
//! docflow stage infer --model /tmp/tiny-bert
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: tiny_model DIR")?;
    docflow_model::tiny::write_tiny_model(std::path::Path::new(&dir), &docflow_model::tiny::TinySpec::default())?;
    println!("{dir}");
    Ok(())
}
