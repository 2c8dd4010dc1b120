//! What the command line runs: `docflow bench encode --device cuda` (via
//! [`run_encode_bench`]), the GEMM micro-benchmark ([`run_gemm_bench`]), and
//! the `docflow-gpu-bench` binary that the GPU check runs without the full CLI.

use crate::bench::{self, EncodeBenchArgs};

/// GEMM micro-benchmark options.
#[derive(Debug, Clone, clap::Args)]
pub struct GemmBenchArgs {
    /// Rows (tokens) of each GEMM; default: a 32768-token batch.
    #[arg(long, default_value_t = 32768)]
    pub tokens: usize,
    /// Timed launches per shape.
    #[arg(long, default_value_t = 50)]
    pub iters: usize,
    /// GPU index.
    #[arg(long, default_value_t = 0)]
    pub gpu: usize,
}

/// Runs the encode benchmark and prints one JSON object.
pub fn run_encode_bench(args: &EncodeBenchArgs) -> anyhow::Result<()> {
    let r = bench::bench_encode_cuda(args)?;
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}

/// Runs the GEMM benchmark and prints one JSON object per shape.
pub fn run_gemm_bench(args: &GemmBenchArgs) -> anyhow::Result<()> {
    for r in bench::bench_gemm(args.gpu, args.tokens, args.iters)? {
        println!("{}", serde_json::to_string(&r)?);
    }
    Ok(())
}

/// Prints whether a GPU is usable here and whether every kernel compiles
/// for it; fails with the reason otherwise.
pub fn run_check(gpu: usize) -> anyhow::Result<()> {
    if let Some(why) = crate::gpu_absent_reason() {
        anyhow::bail!("no CUDA device ({why})");
    }
    crate::libs::ensure_nvrtc()?;
    let ctx = cudarc::driver::CudaContext::new(gpu)?;
    let k = crate::kernels::Kernels::load(&ctx)?;
    let (maj, min) = ctx.compute_capability()?;
    println!(
        "{}",
        serde_json::json!({"gpu": ctx.name()?, "compute_capability": format!("{maj}.{min}"),
                           "modules": docflow_kernels::MODULES.len(), "from_cache": k.cached_modules,
                           "gemm": k.gemm_choice})
    );
    Ok(())
}

/// Prints the token-length statistics of a documents file (what the GPU sees).
pub fn run_tokens(model: &std::path::Path, docs: &std::path::Path) -> anyhow::Result<()> {
    let texts = docflow_model::cli::read_docs(docs)?;
    let tok = docflow_model::BertTokenizer::from_file(&model.join("tokenizer.json"), docflow_model::DEFAULT_MAX_TOKENS)?;
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let t = std::time::Instant::now();
    let seqs = tok.encode_batch(&refs)?;
    let dt = t.elapsed().as_secs_f64();
    let mut lens: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
    lens.sort_unstable();
    let total: usize = lens.iter().sum();
    println!(
        "{}",
        serde_json::json!({"docs": lens.len(), "tokens_mean": total as f64 / lens.len().max(1) as f64,
                           "tokens_p50": lens.get(lens.len() / 2), "tokens_max": lens.last(),
                           "at_limit": lens.iter().filter(|&&l| l >= docflow_model::DEFAULT_MAX_TOKENS).count(),
                           "tokenize_docs_per_s": lens.len() as f64 / dt})
    );
    Ok(())
}
