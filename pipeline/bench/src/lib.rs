//! docflow's benchmark programs.
//!
//! The libraries expose their measurements as plain functions taking plain
//! settings; the programs in `src/bin` are their command-line front ends, so
//! argument parsing (clap) stays out of the libraries. The argument structs
//! live here, in one place, for the programs and for `docflow bench …`.
//!
//! - [`runtime`]: records/s through a pass-through stage
//!   (`docflow_runtime::bench`), program `docflow-runtime-bench`.

pub mod runtime;
