//! Where an encoder runs, as plain settings: the device, and on a GPU its
//! index and GEMM implementation. The environment's overrides
//! (`DOCFLOW_CUDA_DEVICE`, `DOCFLOW_GEMM`) are read by [`GpuEnv::read`]
//! alone, called once by whoever assembles the settings (the stages'
//! config, the command line), and passed down from there.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::precision::Precision;

/// Which encoder runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    #[default]
    Cpu,
    Cuda,
}

/// The CUDA encoder's GEMM implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GemmChoice {
    /// Checked and timed at start-up: wgmma where the GPU has it and it
    /// agrees with mma.sync and is faster, else mma.sync.
    #[default]
    Auto,
    /// The mma.sync kernel (every tensor-core GPU).
    Mma,
    /// The wgmma kernel (Hopper).
    Wgmma,
}

impl FromStr for GemmChoice {
    type Err = SettingsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(GemmChoice::Auto),
            "mma" => Ok(GemmChoice::Mma),
            "wgmma" => Ok(GemmChoice::Wgmma),
            _ => Err(SettingsError::Gemm(s.to_string())),
        }
    }
}

impl fmt::Display for GemmChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GemmChoice::Auto => "auto",
            GemmChoice::Mma => "mma",
            GemmChoice::Wgmma => "wgmma",
        })
    }
}

/// One GPU's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GpuSettings {
    /// CUDA device index.
    pub gpu: usize,
    pub gemm: GemmChoice,
}

/// Everything that picks and builds an encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncoderSpec {
    pub device: DeviceChoice,
    /// CPU encoder threads (0 = all cores); the CUDA encoder ignores it.
    pub threads: usize,
    /// Precision of the CPU encoder's dense layers; the CUDA encoder always
    /// runs its fp16 tensor-core kernels and ignores it.
    pub precision: Precision,
    /// The GPU, for the CUDA encoder.
    pub gpu: GpuSettings,
}

/// A setting the environment gave that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("DOCFLOW_CUDA_DEVICE: {0:?} is not a GPU index")]
    GpuIndex(String),
    #[error("DOCFLOW_GEMM: {0:?} is not a GEMM choice (auto, mma or wgmma)")]
    Gemm(String),
}

/// The environment's overrides of the GPU settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GpuEnv {
    pub gpu: Option<usize>,
    pub gemm: Option<GemmChoice>,
}

impl GpuEnv {
    /// GPU index.
    pub const DEVICE: &'static str = "DOCFLOW_CUDA_DEVICE";
    /// `auto`, `mma` or `wgmma`.
    pub const GEMM: &'static str = "DOCFLOW_GEMM";

    /// This process's environment.
    pub fn read() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Any variable source (empty values count as unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let gpu = get(Self::DEVICE).map(|v| v.trim().parse().map_err(|_| SettingsError::GpuIndex(v))).transpose()?;
        let gemm = get(Self::GEMM).map(|v| v.parse()).transpose()?;
        Ok(Self { gpu, gemm })
    }

    /// `settings` with what the environment sets.
    pub fn apply(&self, settings: GpuSettings) -> GpuSettings {
        GpuSettings { gpu: self.gpu.unwrap_or(settings.gpu), gemm: self.gemm.unwrap_or(settings.gemm) }
    }
}

/// `$DOCFLOW_MODEL_DIR`, else `~/.cache/docflow/models/all-MiniLM-L6-v2`
/// (where `docflow model fetch` puts it).
pub fn default_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCFLOW_MODEL_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/docflow/models/all-MiniLM-L6-v2")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_overrides_only_what_it_sets() {
        let env = |pairs: &'static [(&'static str, &'static str)]| move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
        let base = GpuSettings { gpu: 2, gemm: GemmChoice::Auto };
        assert_eq!(GpuEnv::from_lookup(env(&[])).unwrap().apply(base), base);
        let e = GpuEnv::from_lookup(env(&[("DOCFLOW_CUDA_DEVICE", " 1 "), ("DOCFLOW_GEMM", "mma")])).unwrap();
        assert_eq!(e.apply(base), GpuSettings { gpu: 1, gemm: GemmChoice::Mma });
        assert_eq!(GpuEnv::from_lookup(env(&[("DOCFLOW_GEMM", "")])).unwrap().apply(base), base);
        assert_eq!(GpuEnv::from_lookup(env(&[("DOCFLOW_CUDA_DEVICE", "x")])), Err(SettingsError::GpuIndex("x".into())));
        assert_eq!(GpuEnv::from_lookup(env(&[("DOCFLOW_GEMM", "cublas")])), Err(SettingsError::Gemm("cublas".into())));
    }
}
