//! docflow's benchmark programs.
//!
//! The libraries expose their measurements as plain functions taking plain
//! settings; the programs in `src/bin` are their command-line front ends, so
//! argument parsing (clap) stays out of the libraries.

pub mod encoder;
pub mod gpu;
