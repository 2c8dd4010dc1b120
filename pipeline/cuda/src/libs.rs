//! Finding the CUDA pieces at run time: the driver (`libcuda`), NVRTC and the
//! toolkit headers NVRTC needs (`cuda_fp16.h`).
//!
//! cudarc is built with `dynamic-loading`: it `dlopen`s `libcuda.so*` /
//! `libnvrtc.so*` by name on first use and *panics* when none is found. These
//! checks run first so a missing GPU or toolkit becomes a typed error.
//!
//! Where NVRTC and the headers come from, in order:
//! 1. env `DOCFLOW_NVRTC_LIB` (path of `libnvrtc.so.*`) and
//!    `DOCFLOW_CUDA_INCLUDE` (folder holding `cuda_fp16.h`);
//! 2. `$CUDA_HOME` / `$CUDA_PATH`, then `/usr/local/cuda` (`lib64`,
//!    `targets/x86_64-linux/{lib,include}`);
//! 3. the PyPI wheels `nvidia-cuda-nvrtc` / `nvidia-cuda-runtime` /
//!    `nvidia-cuda-crt` (13.x: `site-packages/nvidia/cu13/{lib,include}`),
//!    located by asking `python3`;
//! 4. whatever the dynamic loader finds by name (`LD_LIBRARY_PATH`).
//!
//! A library found by path is opened once here and kept open: a later
//! `dlopen("libnvrtc.so.13")` by cudarc then resolves to it through its soname,
//! so no `LD_LIBRARY_PATH` is needed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Why a CUDA library or the CUDA headers cannot be used on this machine.
/// `Clone`, so the outcome of the one-time NVRTC search can be handed out
/// again.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ToolkitError {
    /// No `libcuda`: no NVIDIA driver here.
    #[error("the CUDA driver library (libcuda.so.1) is not installed or not on the loader path")]
    NoDriver,
    /// No `libnvrtc` in any of the places searched.
    #[error("NVRTC (libnvrtc.so) not found; set DOCFLOW_NVRTC_LIB or install nvidia-cuda-nvrtc. Tried: {}", tried.join(", "))]
    NoNvrtc { tried: Vec<String> },
    /// No `cuda_fp16.h` in any of the places searched.
    #[error("CUDA headers (cuda_fp16.h) not found; set DOCFLOW_CUDA_INCLUDE or install nvidia-cuda-runtime. Tried: {}", tried.join(", "))]
    NoHeaders { tried: Vec<String> },
    /// A library was found but the loader refused it.
    #[error("{} cannot be loaded", path.display())]
    Load {
        path: PathBuf,
        #[source]
        source: Arc<libloading::Error>,
    },
}

/// Whether the CUDA driver library can be opened, and why not.
pub fn driver_available() -> Result<(), ToolkitError> {
    // SAFETY: only probes `dlopen` on the candidate names; no symbol is called.
    if unsafe { cudarc::driver::sys::is_culib_present() } {
        Ok(())
    } else {
        Err(ToolkitError::NoDriver)
    }
}

/// Candidate toolkit roots from the environment and standard places.
fn toolkit_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    for var in ["CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"] {
        if let Some(v) = std::env::var_os(var) {
            roots.push(PathBuf::from(v));
        }
    }
    roots.push(PathBuf::from("/usr/local/cuda"));
    roots
}

/// `site-packages/nvidia/cu13` (or the older per-package layout) by asking python3.
fn pip_nvidia_dirs() -> &'static [PathBuf] {
    static DIRS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    DIRS.get_or_init(|| {
        let out = std::process::Command::new("python3")
            .args(["-c", "import nvidia, sys; print('\\n'.join(list(nvidia.__path__)))"])
            .stderr(std::process::Stdio::null())
            .output();
        let Ok(out) = out else { return Vec::new() };
        if !out.status.success() {
            return Vec::new();
        }
        let mut dirs = Vec::new();
        for base in String::from_utf8_lossy(&out.stdout).lines().map(PathBuf::from) {
            for sub in ["cu13", "cuda_nvrtc", "cuda_runtime", "cu12"] {
                let d = base.join(sub);
                if d.is_dir() {
                    dirs.push(d);
                }
            }
        }
        dirs
    })
}

/// The folder holding `cuda_fp16.h`, or the list of where it looked.
pub fn cuda_include_dir() -> Result<PathBuf, ToolkitError> {
    let mut tried = Vec::new();
    let mut candidates = Vec::new();
    if let Some(v) = std::env::var_os("DOCFLOW_CUDA_INCLUDE") {
        candidates.push(PathBuf::from(v));
    }
    for r in toolkit_roots() {
        candidates.push(r.join("include"));
        candidates.push(r.join("targets/x86_64-linux/include"));
    }
    for d in pip_nvidia_dirs() {
        candidates.push(d.join("include"));
    }
    for c in candidates {
        if c.join("cuda_fp16.h").is_file() {
            return Ok(c);
        }
        tried.push(c.display().to_string());
    }
    Err(ToolkitError::NoHeaders { tried })
}

/// First file in `dir` whose name starts with `prefix` and contains `.so`.
fn find_lib(dir: &Path, prefix: &str) -> Option<PathBuf> {
    let mut hits: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.contains(".so") && !n.contains(".alt."))
        })
        .collect();
    hits.sort();
    hits.into_iter().next()
}

/// Makes NVRTC loadable by cudarc: opens `libnvrtc` (and its builtins) by
/// path when one is found in the places above. Idempotent.
pub fn ensure_nvrtc() -> Result<(), ToolkitError> {
    static RESULT: OnceLock<Result<(), ToolkitError>> = OnceLock::new();
    RESULT
        .get_or_init(|| {
            let mut dirs: Vec<PathBuf> = Vec::new();
            if let Some(v) = std::env::var_os("DOCFLOW_NVRTC_LIB") {
                let p = PathBuf::from(v);
                if let Some(d) = p.parent() {
                    dirs.push(d.to_path_buf());
                }
            }
            for r in toolkit_roots() {
                dirs.push(r.join("lib64"));
                dirs.push(r.join("targets/x86_64-linux/lib"));
            }
            dirs.extend(pip_nvidia_dirs().iter().map(|d| d.join("lib")));
            for d in &dirs {
                if let Some(nvrtc) = find_lib(d, "libnvrtc.so") {
                    // Builtins first: libnvrtc opens them by soname at compile time.
                    if let Some(b) = find_lib(d, "libnvrtc-builtins.so") {
                        keep_open(&b)?;
                    }
                    keep_open(&nvrtc)?;
                    return Ok(());
                }
            }
            // Last resort: the loader's own search (LD_LIBRARY_PATH, ld.so.cache).
            // SAFETY: only probes `dlopen` on the candidate names.
            if unsafe { cudarc::nvrtc::sys::is_culib_present() } {
                Ok(())
            } else {
                Err(ToolkitError::NoNvrtc { tried: dirs.iter().map(|d| d.display().to_string()).collect() })
            }
        })
        .clone()
}

/// Opens a shared library for the life of the process.
fn keep_open(path: &Path) -> Result<(), ToolkitError> {
    // SAFETY: loading NVIDIA's NVRTC libraries runs only their own initialisers.
    let lib = unsafe { libloading::Library::new(path) }
        .map_err(|e| ToolkitError::Load { path: path.to_path_buf(), source: Arc::new(e) })?;
    std::mem::forget(lib);
    Ok(())
}
