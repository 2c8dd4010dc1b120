//! [`Gpu`]: the CUDA encoder as a [`BatchDevice`] of [`SLOTS`] slots, run
//! by `docflow_model`'s [`Worker`] (the thread that owns the CUDA context),
//! which keeps every slot busy so the GPU never waits for the host:
//!
//! ```text
//! upload stream:   H2D ids(i)   H2D ids(i+1)            ...
//! compute stream:        [forward(i)        ][forward(i+1)      ]
//! download stream:                           D2H emb(i)           D2H emb(i+1)
//! ```
//!
//! Each slot has its own pinned host buffers, device input/output buffers
//! and events; activations are shared (the compute stream serialises them).

use std::sync::Arc;

use cudarc::driver::{result as cu, sys, CudaContext, CudaEvent, CudaSlice, CudaStream, PinnedHostSlice};
use docflow_model::worker::{BatchDevice, EncodeResult, Worker};
use docflow_model::{BertWeights, EncoderError, GpuSettings, PackedBatch};

use crate::model::{addr, GpuModel, InputLayout};

/// Batches in flight at once.
pub const SLOTS: usize = 2;

/// Counters kept by the GPU thread.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GpuStats {
    pub device: String,
    pub compute_capability: String,
    /// Sum of the forward passes' durations measured with CUDA events.
    pub busy_ms: f64,
    pub batches: u64,
    pub sequences: u64,
    pub tokens: u64,
    pub device_mem_used_bytes: u64,
    pub device_mem_total_bytes: u64,
    pub weight_bytes: u64,
    /// Kernel modules read from the on-disk PTX cache at start.
    pub cached_modules: usize,
    /// GEMM implementation in use and why (start-up check and timing).
    pub gemm: String,
}

struct Slot {
    host_in: PinnedHostSlice<u32>,
    dev_in: CudaSlice<u32>,
    dev_out: CudaSlice<f32>,
    host_out: PinnedHostSlice<f32>,
    up_done: CudaEvent,
    start: CudaEvent,
    done: CudaEvent,
    down_done: CudaEvent,
    /// Floats of the batch in flight on this slot.
    out_len: usize,
}

/// The encoder on one GPU; lives on its worker's thread.
pub struct Gpu {
    ctx: Arc<CudaContext>,
    compute: Arc<CudaStream>,
    up: Arc<CudaStream>,
    down: Arc<CudaStream>,
    model: GpuModel,
    slots: Vec<Slot>,
    staging: Vec<u32>,
    stats: GpuStats,
    name: String,
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> EncoderError {
    EncoderError::Device(Box::new(e))
}

impl Gpu {
    fn new(settings: GpuSettings, weights: &BertWeights) -> Result<Self, EncoderError> {
        let ordinal = settings.gpu;
        let count = CudaContext::device_count().map_err(|e| EncoderError::Unavailable(Box::new(e)))?;
        if count <= 0 {
            return Err(EncoderError::DeviceUnavailable("the CUDA driver reports no GPU".into()));
        }
        if ordinal >= count as usize {
            return Err(EncoderError::DeviceUnavailable(format!("GPU {ordinal} requested; {count} present")));
        }
        let ctx = CudaContext::new(ordinal).map_err(|e| EncoderError::Unavailable(Box::new(e)))?;
        // SAFETY: this thread is the only user of the context and orders every
        // use of every buffer through its streams and events itself.
        unsafe { ctx.disable_event_tracking() };
        let compute = ctx.new_stream().map_err(internal)?;
        let up = ctx.new_stream().map_err(internal)?;
        let down = ctx.new_stream().map_err(internal)?;
        let model = GpuModel::new(ctx.clone(), &compute, weights, settings.gemm)?;
        let (major, minor) = ctx.compute_capability().map_err(internal)?;
        let stats = GpuStats {
            device: ctx.name().unwrap_or_else(|_| "unknown GPU".into()),
            compute_capability: format!("{major}.{minor}"),
            weight_bytes: model.weight_bytes as u64,
            cached_modules: model.kernels.cached_modules,
            gemm: model.kernels.gemm_choice.clone(),
            ..GpuStats::default()
        };
        let name = format!("cuda:{ordinal}");
        let mut gpu = Gpu { ctx, compute, up, down, model, slots: Vec::new(), staging: Vec::new(), stats, name };
        for _ in 0..SLOTS {
            let s = gpu.new_slot(1024, 64)?;
            gpu.slots.push(s);
        }
        // Allocations are stream-ordered on `compute`; the copy streams use them next.
        gpu.compute.synchronize().map_err(internal)?;
        Ok(gpu)
    }

    fn new_slot(&self, in_words: usize, out_floats: usize) -> Result<Slot, EncoderError> {
        let timing = Some(sys::CUevent_flags::CU_EVENT_DEFAULT);
        let sync_only = Some(sys::CUevent_flags::CU_EVENT_DISABLE_TIMING);
        Ok(Slot {
            // SAFETY: pinned buffers are only read/written by this thread, and only
            // after the copies that use them completed (their events were waited on).
            host_in: unsafe { self.ctx.alloc_pinned::<u32>(in_words) }.map_err(internal)?,
            dev_in: self.compute.alloc_zeros::<u32>(in_words).map_err(internal)?,
            dev_out: self.compute.alloc_zeros::<f32>(out_floats).map_err(internal)?,
            // Not write-combined: the host reads this one.
            // SAFETY: as above.
            host_out: unsafe { self.ctx.alloc_pinned_with_flags::<f32>(out_floats, 0) }.map_err(internal)?,
            up_done: self.ctx.new_event(sync_only).map_err(internal)?,
            start: self.ctx.new_event(timing).map_err(internal)?,
            done: self.ctx.new_event(timing).map_err(internal)?,
            down_done: self.ctx.new_event(sync_only).map_err(internal)?,
            out_len: 0,
        })
    }

    /// Queues one batch on slot `i` (free: its previous batch was finished).
    fn start(&mut self, i: usize, batch: &PackedBatch) -> Result<(), EncoderError> {
        self.model.validate(batch)?;
        let lay = InputLayout::pack(batch, &mut self.staging);
        let out_len = lay.seqs * self.model.shape.hidden;
        if self.slots[i].host_in.len() < lay.words || self.slots[i].host_out.len() < out_len {
            // Grow with headroom so a slowly growing stream of batches does not reallocate each time.
            let words = lay.words.max(self.slots[i].host_in.len()).next_power_of_two();
            let outs = out_len.max(self.slots[i].host_out.len()).next_power_of_two();
            self.ctx.synchronize().map_err(internal)?;
            self.slots[i] = self.new_slot(words, outs)?;
            // Stream-ordered allocation on `compute`: finish it before `up`/`down` touch the buffers.
            self.compute.synchronize().map_err(internal)?;
        }
        self.model.reserve(&self.compute, lay.tokens)?;
        let slot = &mut self.slots[i];
        slot.host_in.as_mut_slice().map_err(internal)?[..lay.words].copy_from_slice(&self.staging);
        let dev_in = addr(&slot.dev_in, &self.up);
        let dev_out = addr(&slot.dev_out, &self.compute);
        // SAFETY: both buffers hold at least lay.words u32; the pinned source is not
        // touched again until down_done of this slot has been waited on.
        unsafe { cu::memcpy_htod_async(dev_in, &slot.host_in.as_slice().map_err(internal)?[..lay.words], self.up.cu_stream()) }
            .map_err(internal)?;
        slot.up_done.record(&self.up).map_err(internal)?;
        self.compute.wait(&slot.up_done).map_err(internal)?;
        slot.start.record(&self.compute).map_err(internal)?;
        self.model.enqueue_forward(&self.compute, dev_in, &lay, dev_out)?;
        slot.done.record(&self.compute).map_err(internal)?;
        self.down.wait(&slot.done).map_err(internal)?;
        // SAFETY: dev_out holds out_len floats written by the forward pass this
        // stream just waited for; host_out holds at least out_len floats.
        unsafe {
            let dst = &mut slot.host_out.as_mut_slice().map_err(internal)?[..out_len];
            cu::memcpy_dtoh_async(dst, dev_out, self.down.cu_stream())
        }
        .map_err(internal)?;
        slot.down_done.record(&self.down).map_err(internal)?;
        slot.out_len = out_len;
        self.stats.batches += 1;
        self.stats.sequences += lay.seqs as u64;
        self.stats.tokens += lay.tokens as u64;
        Ok(())
    }

    /// Counters since start (or the last reset); `reset` zeroes the time and
    /// batch counters after reading.
    pub fn stats(&mut self, reset: bool) -> GpuStats {
        if let Ok((free, total)) = self.ctx.mem_get_info() {
            self.stats.device_mem_used_bytes = (total - free) as u64;
            self.stats.device_mem_total_bytes = total as u64;
        }
        let s = self.stats.clone();
        if reset {
            self.stats.busy_ms = 0.0;
            self.stats.batches = 0;
            self.stats.sequences = 0;
            self.stats.tokens = 0;
        }
        s
    }
}

impl BatchDevice for Gpu {
    fn dim(&self) -> usize {
        self.model.shape.hidden
    }

    fn max_tokens(&self) -> usize {
        self.model.max_tokens()
    }

    fn device_name(&self) -> String {
        self.name.clone()
    }

    fn slots(&self) -> usize {
        SLOTS
    }

    fn enqueue(&mut self, slot: usize, batch: &PackedBatch) -> Result<(), EncoderError> {
        self.start(slot, batch)
    }

    fn is_done(&self, slot: usize) -> bool {
        self.slots[slot].down_done.is_complete()
    }

    /// Waits for the slot's batch and returns its embeddings.
    fn finish(&mut self, i: usize) -> EncodeResult {
        let slot = &mut self.slots[i];
        slot.down_done.synchronize().map_err(internal)?;
        self.stats.busy_ms += slot.start.elapsed_ms(&slot.done).map_err(internal)? as f64;
        Ok(slot.host_out.as_slice().map_err(internal)?[..slot.out_len].to_vec())
    }
}

/// Starts the worker thread of GPU `settings.gpu`; returns once the model
/// is resident (or with the reason it could not be).
pub fn spawn(settings: GpuSettings, weights: BertWeights) -> Result<Worker<Gpu>, EncoderError> {
    crate::libs::driver_available()?;
    crate::libs::ensure_nvrtc()?;
    Worker::spawn(&format!("docflow-cuda:{}", settings.gpu), move || {
        // cudarc panics where a library or symbol is missing; turn that into an error.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Gpu::new(settings, &weights)))
            .unwrap_or_else(|p| Err(EncoderError::DeviceUnavailable(panic_text(&p))))
    })
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "CUDA start-up panicked".into())
}
