//! Library-backed tools that need no running pipeline: `bench …` and
//! `gpu check`. Each forwards to the crate that owns the logic (the
//! encoder's and the GPU's arguments are `docflow_bench`'s, shared with the
//! benchmark programs).

use docflow_bench::gpu as gpu_bench;
use docflow_bench::encoder as encoder_bench;

use super::Context;

#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Encoder throughput on a documents file (`--device cpu|cuda`): docs/s, tokens/s, batch size, peak RSS.
    Encode(encoder_bench::BenchEncodeArgs),
    /// bf16 and int8 CPU embeddings against fp32 on a documents file: min and mean cosine.
    Precision(encoder_bench::PrecisionCheckArgs),
    /// CUDA encoder in detail: text→embedding and model-only docs/s, GPU busy fraction, memory.
    GpuEncode(gpu_bench::EncodeBenchArgs),
    /// Hand-written tensor-core GEMM against cuBLAS on the model's shapes.
    Gemm(gpu_bench::GemmBenchArgs),
    /// Records/s through a pass-through stage on the configured Kafka.
    Runtime(docflow_bench::runtime::BenchArgs),
    /// Documents/s and p99 write latency of the persist path on the configured database.
    Persist(super::store::db::BenchArgs),
}

#[derive(clap::Subcommand, Debug)]
pub enum GpuCommand {
    /// Check that a GPU is usable and every kernel compiles for it.
    Check {
        /// GPU index.
        #[arg(long, default_value_t = 0)]
        gpu: usize,
    },
}

pub fn bench(ctx: &Context, cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Encode(args) => encoder_bench::run_bench_encode(&args, &docflow_cuda::factory).map(|_| ()),
        BenchCommand::Precision(args) => encoder_bench::run_precision_check(&args, &docflow_cuda::factory).map(|_| ()),
        BenchCommand::GpuEncode(args) => gpu_bench::run_encode_bench(&args),
        BenchCommand::Gemm(args) => gpu_bench::run_gemm_bench(&args),
        BenchCommand::Runtime(args) => super::runtime()?.block_on(async {
            let report = docflow_runtime::bench::run_bench(&(&args).into()).await?;
            println!("{report}");
            Ok(())
        }),
        BenchCommand::Persist(args) => {
            let _ = ctx;
            super::runtime()?.block_on(async { super::store::db::bench(&args, &mut std::io::stdout()).await.map(|_| ()) })
        }
    }
}

pub fn gpu(_ctx: &Context, cmd: GpuCommand) -> anyhow::Result<()> {
    match cmd {
        GpuCommand::Check { gpu } => gpu_bench::run_check(gpu),
    }
}
