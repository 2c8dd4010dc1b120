//! The values of enum-valued flags, as the command line spells and explains
//! them in `--help`, each converting into the library's own type (the
//! libraries carry no command-line parser).

use docflow_stages::config::StoreBackend;
use docflow_stages::infer::Device;

/// Values of `--device`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceArg {
    /// The CPU encoder of `docflow-model`.
    Cpu,
    /// The CUDA encoder of `docflow-cuda` (GPU from `DOCFLOW_CUDA_DEVICE`, default 0).
    Cuda,
    /// CUDA when a GPU is usable here, else CPU.
    Auto,
}

impl From<DeviceArg> for Device {
    fn from(d: DeviceArg) -> Self {
        match d {
            DeviceArg::Cpu => Device::Cpu,
            DeviceArg::Cuda => Device::Cuda,
            DeviceArg::Auto => Device::Auto,
        }
    }
}

/// Values of `--store`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreBackendArg {
    /// ScyllaDB/Cassandra (`[store]`).
    Cassandra,
    /// In process memory: nothing survives a restart (demos, one-machine trials).
    Memory,
}

impl From<StoreBackendArg> for StoreBackend {
    fn from(s: StoreBackendArg) -> Self {
        match s {
            StoreBackendArg::Cassandra => StoreBackend::Cassandra,
            StoreBackendArg::Memory => StoreBackend::Memory,
        }
    }
}
