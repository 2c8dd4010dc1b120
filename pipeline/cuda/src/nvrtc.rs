//! Run-time compilation of the embedded kernels with NVRTC, and the on-disk
//! PTX cache (`~/.cache/docflow/kernels/<key>.ptx`, key = SHA-256 of source,
//! target arch, options, NVRTC version and driver version).
//!
//! cudarc's `compile_ptx_with_opts` drops the compiler log on success; this
//! module calls NVRTC's C API through `cudarc::nvrtc::result` so warnings are
//! visible too (the CI test fails on any).

use std::ffi::{CStr, CString};
use std::path::PathBuf;

use cudarc::nvrtc::{result, sys};
use sha2::{Digest, Sha256};

use crate::libs;

/// Why a kernel module did not compile.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// NVRTC or the CUDA headers are not installed.
    #[error(transparent)]
    Toolkit(#[from] libs::ToolkitError),
    /// NVRTC is loaded but does not say its version.
    #[error("nvrtcVersion failed: {0:?}")]
    Version(sys::nvrtcResult),
    /// NVRTC rejected the source; `log` is its full diagnostic output.
    #[error("NVRTC failed to compile module `{module}` for {arch}: {nvrtc}\n{log}")]
    Source { module: String, arch: String, nvrtc: String, log: String },
}

/// PTX text for one module, plus NVRTC's log (empty when clean).
#[derive(Debug, Clone)]
pub struct Compiled {
    pub module: &'static str,
    pub ptx: String,
    pub log: String,
}

/// NVRTC's version as `(major, minor)`.
pub fn nvrtc_version() -> Result<(i32, i32), CompileError> {
    libs::ensure_nvrtc()?;
    let (mut major, mut minor) = (0, 0);
    // SAFETY: NVRTC is loaded (checked above); both pointers are valid for writes.
    let r = unsafe { sys::nvrtcVersion(&mut major, &mut minor) };
    if r != sys::nvrtcResult::NVRTC_SUCCESS {
        return Err(CompileError::Version(r));
    }
    Ok((major, minor))
}

/// The options every module is compiled with, for virtual arch `compute_XY`.
pub fn options(arch: &str, include_dir: &str) -> Vec<String> {
    vec![
        format!("--gpu-architecture={arch}"),
        format!("--include-path={include_dir}"),
        "--std=c++17".into(),
        // Line info lets compute-sanitizer name the source line; costs nothing at run time.
        "--generate-line-info".into(),
    ]
}

/// Compiles one module to PTX for `arch` (e.g. `"compute_90"`).
pub fn compile(module: &docflow_kernels::Module, arch: &str) -> Result<Compiled, CompileError> {
    libs::ensure_nvrtc()?;
    let include = libs::cuda_include_dir()?;
    let opts = options(arch, &include.to_string_lossy());
    let src = CString::new(module.source()).map_err(|_| CompileError::Source {
        module: module.name.into(),
        arch: arch.into(),
        nvrtc: "source contains a NUL byte".into(),
        log: String::new(),
    })?;
    let name = CString::new(format!("{}.cu", module.name)).expect("module names have no NUL");
    let prog = result::create_program(&src, Some(&name)).map_err(|e| CompileError::Source {
        module: module.name.into(),
        arch: arch.into(),
        nvrtc: format!("{e:?}"),
        log: String::new(),
    })?;
    // SAFETY: `prog` is a live program created above; destroyed exactly once below.
    let compiled = unsafe { result::compile_program(prog, &opts) };
    // SAFETY: as above; the log is read before the program is destroyed.
    let log = unsafe { result::get_program_log(prog) }.map(|raw| c_chars_to_string(&raw)).unwrap_or_default();
    let out = match compiled {
        Ok(()) => {
            // SAFETY: compilation succeeded, so the program holds PTX.
            match unsafe { result::get_ptx(prog) } {
                Ok(raw) => Ok(Compiled { module: module.name, ptx: c_chars_to_string(&raw), log }),
                Err(e) => Err(CompileError::Source {
                    module: module.name.into(),
                    arch: arch.into(),
                    nvrtc: format!("nvrtcGetPTX: {e:?}"),
                    log,
                }),
            }
        }
        Err(e) => Err(CompileError::Source {
            module: module.name.into(),
            arch: arch.into(),
            nvrtc: format!("{e:?}"),
            log,
        }),
    };
    // SAFETY: `prog` came from create_program and is not used after this.
    let _ = unsafe { result::destroy_program(prog) };
    out
}

fn c_chars_to_string(raw: &[std::ffi::c_char]) -> String {
    let bytes: Vec<u8> = raw.iter().map(|&c| c as u8).collect();
    CStr::from_bytes_until_nul(&bytes)
        .map(|c| c.to_string_lossy().trim().to_string())
        .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).trim().to_string())
}

/// Where compiled PTX is kept between runs (`$DOCFLOW_KERNEL_CACHE`, else
/// `$XDG_CACHE_HOME/docflow/kernels`, else `~/.cache/docflow/kernels`).
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCFLOW_KERNEL_CACHE") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("docflow/kernels"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/docflow/kernels"))
}

/// Cache key for a module compiled for `arch` under a given driver.
pub fn cache_key(module: &docflow_kernels::Module, arch: &str, nvrtc: (i32, i32), driver: i32) -> String {
    let mut h = Sha256::new();
    h.update(module.source().as_bytes());
    h.update(arch.as_bytes());
    for o in options(arch, "") {
        h.update(o.as_bytes());
    }
    h.update(format!("nvrtc {}.{} driver {driver}", nvrtc.0, nvrtc.1).as_bytes());
    format!("{}-{}-{}", module.name, arch, &hex::encode(h.finalize())[..24])
}

/// PTX for `module`: from the cache when present, else compiled and stored.
/// Returns the PTX and whether it came from the cache.
pub fn cached_ptx(module: &docflow_kernels::Module, arch: &str, driver: i32) -> Result<(String, bool), CompileError> {
    let key = cache_key(module, arch, nvrtc_version()?, driver);
    let path = cache_dir().map(|d| d.join(format!("{key}.ptx")));
    if let Some(p) = &path {
        if let Ok(ptx) = std::fs::read_to_string(p) {
            if ptx.contains(".entry") {
                return Ok((ptx, true));
            }
        }
    }
    let c = compile(module, arch)?;
    if let Some(p) = &path {
        // A cache that cannot be written only costs a recompile next time.
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let tmp = p.with_extension(format!("ptx.tmp{}", std::process::id()));
        if std::fs::write(&tmp, &c.ptx).is_ok() {
            let _ = std::fs::rename(&tmp, p);
        }
    }
    Ok((c.ptx, false))
}
