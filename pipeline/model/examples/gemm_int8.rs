//! Throughput of one dense layer at each precision and kernel, on the
//! model's shapes, single-threaded:
//! `cargo run --release -p docflow-model --example gemm_int8 -- [ROWS=4096] [REPEAT=5]`
//! Prints GMAC/s per kernel (best of REPEAT), to compare kernels with each
//! other and with the f32 `gemm` crate on the same machine.

use std::time::Instant;

use docflow_model::bf16::{Bf16Linear, Bf16Rows};
use docflow_model::int8::{Int8Linear, QuantizedRows};
use docflow_model::ops::Linear;
use docflow_model::precision::{Bf16Kernel, CpuKernels, Int8Kernel};
use docflow_model::weights::{LinearWeights, Tensor};

fn main() {
    let mut args = std::env::args().skip(1);
    let rows: usize = args.next().map_or(4096, |v| v.parse().expect("ROWS"));
    let repeat: usize = args.next().map_or(5, |v| v.parse().expect("REPEAT"));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let detected = CpuKernels::detect();
    println!("detected: {:?}", detected);
    let mut seed = 1u64;
    let mut rnd = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    for (k, n) in [(384, 1152), (384, 384), (384, 1536), (1536, 384)] {
        let w = LinearWeights {
            weight: Tensor { shape: vec![n, k], data: (0..n * k).map(|_| rnd()).collect() },
            bias: Tensor { shape: vec![n], data: vec![0.0; n] },
        };
        let x: Vec<f32> = (0..rows * k).map(|_| rnd()).collect();
        let mut out = vec![0.0f32; rows * n];
        let macs = (rows * k * n) as f64;
        let mut time = |name: &str, f: &mut (dyn FnMut(&mut [f32]) + Send)| {
            let mut best = f64::INFINITY;
            for _ in 0..repeat {
                let t = Instant::now();
                pool.install(|| f(&mut out));
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!("k {k:4} n {n:4} rows {rows}: {name:12} {:7.1} GMAC/s", macs / best / 1e9);
        };
        let f32l = Linear::load(w.clone());
        time("f32 gemm", &mut |o| f32l.forward(&x, rows, None, o));
        let kernels = [Int8Kernel::Scalar, Int8Kernel::Avx2, Int8Kernel::Avx512Vnni];
        let mut q = QuantizedRows::default();
        for kern in kernels {
            if !kern.is_supported() || (kern == Int8Kernel::Scalar && rows > 512) {
                continue;
            }
            let l = Int8Linear::load(&w, kern);
            time(&format!("int8 {kern:?}"), &mut |o| l.forward(&x, rows, None, o, &mut q));
        }
        if detected.bf16 == Bf16Kernel::Avx512Bf16 {
            let l = Bf16Linear::load(&w, Bf16Kernel::Avx512Bf16);
            let mut a = Bf16Rows::default();
            time("bf16 avx512", &mut |o| l.forward(&x, rows, None, o, &mut a));
        }
    }
}
