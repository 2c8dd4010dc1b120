//! Tests that run kernels on a GPU: each kernel against a CPU reference on
//! small shapes, and the whole CUDA encoder against the CPU encoder on a
//! tiny random model. Without a GPU each prints
//! `skipped: no CUDA device (<reason>)` and returns — except
//! `no_gpu_is_a_clear_error`, which checks the failure mode itself.

use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaStream};
use docflow_cuda::kernels::{Epilogue, GemmImpl, Kernels};
use docflow_cuda::model::addr;
use docflow_cuda::CudaEncoder;
use docflow_model::tiny::{TinyModelDir, TinySpec};
use docflow_model::{CpuEncoder, CpuOptions, Encoder, EncoderError, PackedBatch};
use half::f16;
use rand::{Rng, SeedableRng};

fn gpu() -> Option<(Arc<CudaContext>, Arc<CudaStream>, Kernels)> {
    if let Some(why) = docflow_cuda::gpu_absent_reason() {
        println!("skipped: no CUDA device ({why})");
        return None;
    }
    let ctx = CudaContext::new(0).expect("context");
    // SAFETY: each test uses one stream and synchronises before reading back.
    unsafe { ctx.disable_event_tracking() };
    let stream = ctx.new_stream().expect("stream");
    let k = Kernels::load(&ctx, docflow_model::GemmChoice::Auto).expect("kernels load");
    Some((ctx, stream, k))
}

fn rng() -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(1234)
}

/// Random fp16 values in [-r, r], as bits and as the f32 they round to.
fn rand_f16(n: usize, r: f32, rng: &mut rand::rngs::StdRng) -> (Vec<u16>, Vec<f32>) {
    let h: Vec<f16> = (0..n).map(|_| f16::from_f32(rng.random_range(-r..r))).collect();
    (h.iter().map(|v| v.to_bits()).collect(), h.iter().map(|v| v.to_f32()).collect())
}

fn to_f32(bits: &[u16]) -> Vec<f32> {
    bits.iter().map(|b| f16::from_bits(*b).to_f32()).collect()
}

fn assert_close(name: &str, got: &[f32], want: &[f32], abs: f32, rel: f32) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    let mut worst = (0usize, 0f32);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        assert!(g.is_finite(), "{name}[{i}] = {g}");
        if err > abs + rel * w.abs() && err > worst.1 {
            worst = (i, err);
        }
    }
    assert!(worst.1 == 0.0, "{name}: element {} got {} want {} (err {})", worst.0, got[worst.0], want[worst.0], worst.1);
}

fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + libm::erff(x / std::f32::consts::SQRT_2))
}

#[test]
fn gemm_matches_cpu_for_every_epilogue() {
    let Some((_ctx, s, k)) = gpu() else { return };
    let mut r = rng();
    // M not a multiple of 128 (tail rows), two N tiles, K of 3 stages + 1.
    let (m, n, kk) = (200usize, 256usize, 128usize);
    let (xb, x) = rand_f16(m * kk, 1.0, &mut r);
    let (wb, w) = rand_f16(n * kk, 0.2, &mut r);
    let (bb, b) = rand_f16(n, 0.5, &mut r);
    let (rb, res) = rand_f16(m * n, 1.0, &mut r);
    let dx = s.clone_htod(&xb).unwrap();
    let dw = s.clone_htod(&wb).unwrap();
    let db = s.clone_htod(&bb).unwrap();
    let dr = s.clone_htod(&rb).unwrap();
    let dy = s.alloc_zeros::<u16>(m * n).unwrap();
    let mut base = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0f32;
            for t in 0..kk {
                acc += x[i * kk + t] * w[j * kk + t];
            }
            base[i * n + j] = acc + b[j];
        }
    }
    let mut imps = vec![GemmImpl::MmaSync];
    if k.has_wgmma() {
        imps.push(GemmImpl::Wgmma);
    }
    println!("GEMM in use: {}", k.gemm_choice);
    for imp in imps {
    for (name, epi) in [("bias", Epilogue::Bias), ("bias_gelu", Epilogue::BiasGelu), ("bias_residual", Epilogue::BiasResidual(addr(&dr, &s)))] {
        let name = format!("{imp:?} {name}");
        let name = name.as_str();
        k.gemm_with(imp, &s, addr(&dx, &s), addr(&dw, &s), addr(&db, &s), addr(&dy, &s), m, n, kk, epi).unwrap();
        s.synchronize().unwrap();
        let got = to_f32(&s.clone_dtoh(&dy).unwrap());
        let want: Vec<f32> = base
            .iter()
            .enumerate()
            .map(|(i, v)| match epi {
                Epilogue::Bias => *v,
                Epilogue::BiasGelu => gelu(*v),
                Epilogue::BiasResidual(_) => v + res[i],
            })
            .collect();
        assert_close(name, &got, &want, 2e-2, 1e-2);
    }
    }
    // Shapes the kernel does not support are refused, not launched.
    assert!(k.gemm(&s, 0, 0, 0, 0, 8, 100, 64, Epilogue::Bias).is_err());
}

#[test]
fn attention_matches_cpu_on_ragged_sequences() {
    let Some((_ctx, s, k)) = gpu() else { return };
    let mut r = rng();
    let heads = 4usize;
    let hidden = heads * 32;
    let lens = [1usize, 17, 63, 64, 65, 130, 256];
    let batch = PackedBatch::from_sequences(&lens.iter().map(|&l| vec![1u32; l]).collect::<Vec<_>>());
    let t = batch.total_tokens();
    let (qb, q) = rand_f16(t * 3 * hidden, 2.0, &mut r);
    let mut words = Vec::new();
    let lay = docflow_cuda::model::InputLayout::pack(&batch, &mut words);
    let dq = s.clone_htod(&qb).unwrap();
    let din = s.clone_htod(&words).unwrap();
    let dout = s.alloc_zeros::<u16>(t * hidden).unwrap();
    let base = addr(&din, &s);
    k.attention(&s, addr(&dq, &s), base + 4 * lay.cu_off as u64, base + 4 * lay.blocks_off as u64, lay.blocks, heads, addr(&dout, &s))
        .unwrap();
    s.synchronize().unwrap();
    let got = to_f32(&s.clone_dtoh(&dout).unwrap());
    let mut want = vec![0f32; t * hidden];
    let ld = 3 * hidden;
    for si in 0..batch.len() {
        let (st, en) = (batch.cu_seqlens[si] as usize, batch.cu_seqlens[si + 1] as usize);
        for h in 0..heads {
            for i in st..en {
                let sc: Vec<f32> = (st..en)
                    .map(|j| (0..32).map(|d| q[i * ld + h * 32 + d] * q[j * ld + hidden + h * 32 + d]).sum::<f32>() / 32f32.sqrt())
                    .collect();
                let mx = sc.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let e: Vec<f32> = sc.iter().map(|v| (v - mx).exp()).collect();
                let z: f32 = e.iter().sum();
                for d in 0..32 {
                    want[i * hidden + h * 32 + d] = (st..en).map(|j| e[j - st] * q[j * ld + 2 * hidden + h * 32 + d]).sum::<f32>() / z;
                }
            }
        }
    }
    assert_close("attention", &got, &want, 2e-2, 2e-2);
}

#[test]
fn layernorm_matches_cpu() {
    let Some((_ctx, s, k)) = gpu() else { return };
    let mut r = rng();
    let (rows, h) = (37usize, 384usize);
    let (xb, x) = rand_f16(rows * h, 3.0, &mut r);
    let (gb, g) = rand_f16(h, 1.0, &mut r);
    let (bb, b) = rand_f16(h, 1.0, &mut r);
    let dx = s.clone_htod(&xb).unwrap();
    let dg = s.clone_htod(&gb).unwrap();
    let db = s.clone_htod(&bb).unwrap();
    let dy = s.alloc_zeros::<u16>(rows * h).unwrap();
    k.layernorm(&s, addr(&dx, &s), addr(&dg, &s), addr(&db, &s), 1e-12, rows, h, addr(&dy, &s)).unwrap();
    s.synchronize().unwrap();
    let got = to_f32(&s.clone_dtoh(&dy).unwrap());
    let mut want = vec![0f32; rows * h];
    for i in 0..rows {
        let row = &x[i * h..(i + 1) * h];
        let mean = row.iter().sum::<f32>() / h as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / h as f32;
        for j in 0..h {
            want[i * h + j] = (row[j] - mean) / (var + 1e-12).sqrt() * g[j] + b[j];
        }
    }
    assert_close("layernorm", &got, &want, 1e-2, 1e-2);
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

/// A random two-layer model on disk (kept alive by the returned folder) and
/// its CPU encoder, the reference the GPU is compared with.
fn two_layer_tiny_model() -> (TinyModelDir, CpuEncoder) {
    let spec = TinySpec { layers: 2, hidden: 128, heads: 4, intermediate: 256, ..TinySpec::default() };
    let dir = TinyModelDir::new(&spec).unwrap();
    let cpu = CpuEncoder::load(dir.path(), CpuOptions::default()).unwrap();
    (dir, cpu)
}

#[test]
fn cuda_encoder_matches_cpu_encoder_on_a_tiny_model() {
    if let Some(why) = docflow_cuda::gpu_absent_reason() {
        println!("skipped: no CUDA device ({why})");
        return;
    }
    let (dir, mut cpu) = two_layer_tiny_model();
    let mut gpu = CudaEncoder::load(dir.path(), docflow_model::GpuSettings::default()).unwrap();
    let vocab = docflow_model::tiny::tiny_vocab().len() as u32;
    let mut r = rng();
    let seqs: Vec<Vec<u32>> = [2usize, 9, 64, 65, 128, 200, 256, 31]
        .iter()
        .map(|&l| (0..l).map(|_| r.random_range(0..vocab)).collect())
        .collect();
    let batch = PackedBatch::from_sequences(&seqs);
    let a = cpu.encode_packed(&batch).unwrap();
    let b = gpu.encode_packed(&batch).unwrap();
    assert_eq!(a.len(), b.len());
    for i in 0..seqs.len() {
        let c = cosine(&a[i * 128..(i + 1) * 128], &b[i * 128..(i + 1) * 128]);
        assert!(c >= 0.999, "sequence {i} (len {}): cosine {c}", seqs[i].len());
    }
    // Bad input is a typed error, not a launch.
    let bad = PackedBatch::from_sequences(&[vec![vocab + 5]]);
    assert!(matches!(gpu.encode_packed(&bad), Err(EncoderError::InvalidBatch(_))));
    let long = PackedBatch::from_sequences(&[vec![1u32; 300]]);
    assert!(matches!(gpu.encode_packed(&long), Err(EncoderError::InvalidBatch(_))));
}

#[test]
fn no_gpu_is_a_clear_error() {
    let spec = TinySpec { layers: 1, hidden: 128, heads: 4, intermediate: 256, ..TinySpec::default() };
    let dir = TinyModelDir::new(&spec).unwrap();
    match (docflow_cuda::gpu_absent_reason(), CudaEncoder::load(dir.path(), docflow_model::GpuSettings::default())) {
        (Some(_), Err(e @ (EncoderError::Unavailable(_) | EncoderError::DeviceUnavailable(_)))) => {
            println!("no GPU here, as reported: {}", e.with_sources())
        }
        (Some(why), other) => panic!("no GPU ({why}) but load gave {:?}", other.map(|_| ())),
        (None, Ok(e)) => assert!(e.device_name().starts_with("cuda:")),
        (None, Err(e)) => panic!("GPU present but load failed: {e}"),
    }
}

#[test]
fn the_stage_path_on_the_gpu_matches_the_cpu_encoder() {
    if let Some(why) = docflow_cuda::gpu_absent_reason() {
        println!("skipped: no CUDA device ({why})");
        return;
    }
    let (dir, mut cpu) = two_layer_tiny_model();
    let worker = docflow_cuda::start_worker(dir.path(), docflow_model::GpuSettings::default()).unwrap();
    assert_eq!(worker.info().slots, docflow_cuda::worker::SLOTS);
    let policy = docflow_model::BatchPolicy { batch_tokens: 2048, max_wait: std::time::Duration::ZERO };
    let batcher = docflow_model::Batcher::start(Arc::new(worker), policy).unwrap();
    let vocab = docflow_model::tiny::tiny_vocab().len() as u32;
    let mut r = rng();
    let seqs: Vec<Vec<u32>> = (0..500).map(|_| (0..r.random_range(2..256)).map(|_| r.random_range(0..vocab)).collect()).collect();
    let got = docflow_cuda::bench::encode_all(&batcher, &seqs).unwrap();
    for (i, s) in seqs.iter().enumerate() {
        let want = cpu.encode_packed(&PackedBatch::from_sequences(&[s])).unwrap();
        let c = cosine(&want, &got[i]);
        assert!(c >= 0.999, "sequence {i} (len {}): cosine {c}", s.len());
    }
    assert!(docflow_model::BatchStats::get(&batcher.stats().batches) > 1);
}
