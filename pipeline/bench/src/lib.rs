//! docflow's benchmark programs.
//!
//! The libraries expose their measurements as plain functions taking plain
//! settings; the programs in `src/bin` are their command-line front ends, so
//! argument parsing (clap) stays out of the libraries. The argument structs
//! live here, in one place, for the programs and for the `docflow` commands
//! that run the same measurements.
//!
//! - [`runtime`]: records/s through a pass-through stage
//!   (`docflow_runtime::bench`), program `docflow-runtime-bench`.
//! - [`encoder`]: the CPU encoder's documents/s and precision checks,
//!   program `docflow-cpu-bench`.
//! - [`gpu`]: the CUDA encoder through the infer stage's batcher and worker,
//!   the GEMM against cuBLAS, and the GPU check, program `docflow-gpu-bench`.

pub mod encoder;
pub mod gpu;
pub mod runtime;
