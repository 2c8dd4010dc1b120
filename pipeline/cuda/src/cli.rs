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
    crate::libs::ensure_nvrtc().map_err(anyhow::Error::msg)?;
    let ctx = cudarc::driver::CudaContext::new(gpu)?;
    let k = crate::kernels::Kernels::load(&ctx).map_err(anyhow::Error::msg)?;
    let (maj, min) = ctx.compute_capability()?;
    println!(
        "{}",
        serde_json::json!({"gpu": ctx.name()?, "compute_capability": format!("{maj}.{min}"),
                           "modules": docflow_kernels::MODULES.len(), "from_cache": k.cached_modules})
    );
    Ok(())
}
