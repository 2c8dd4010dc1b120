// Hopper (sm_90a) GEMM on warpgroup MMA: the same contract as gemm.cu
// (Y[M,N] = X[M,K] W[N,K]^T + bias, + GELU or + residual; fp16 in, fp32
// accumulate), but the tensor cores read both operands straight from shared
// memory through `wgmma.mma_async` descriptors, which is how Hopper reaches
// its full rate (mma.sync tops out well below it).
//
// Tiling: 128x128 block tile, BK = 64 (one 128-byte swizzle atom per row),
// 3-stage cp.async pipeline, two warpgroups each computing 64x128 with
// m64n128k16. Shared tiles use the 128-byte swizzle the descriptors name:
// 16-byte chunk c of row r lives at chunk c ^ (r % 8).
// Dynamic shared memory: WG_SMEM_BYTES (the host raises the limit).
// Requirements (checked by the host): N % 128 == 0, K % 64 == 0.
#include "common.cuh"

#define WG_BM 128
#define WG_BN 128
#define WG_BK 64
#define WG_STAGES 3
#define WG_THREADS 256
#define WG_STAGE_BYTES ((WG_BM + WG_BN) * WG_BK * 2)
// + 1 KiB so the tiles can be aligned to the 1024-byte swizzle period.
#define WG_SMEM_BYTES (WG_STAGES * WG_STAGE_BYTES + 1024)

// Shared-memory matrix descriptor: K-major, 128-byte swizzle, 8-row groups 1024 bytes apart.
__device__ __forceinline__ unsigned long long wg_desc(unsigned saddr) {
    unsigned long long d = 0;
    d |= (unsigned long long)((saddr & 0x3FFFF) >> 4);
    d |= (unsigned long long)1 << 16;            // leading byte offset: unused for swizzled K-major
    d |= (unsigned long long)(1024 >> 4) << 32;  // stride byte offset
    d |= (unsigned long long)1 << 62;            // swizzle: 128 B
    return d;
}

__device__ __forceinline__ void wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_wait0() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }
// Makes this thread's generic-proxy shared-memory writes (cp.async) visible to the async proxy (wgmma).
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
// Keeps the compiler from moving accumulator reads/writes across the async MMA.
__device__ __forceinline__ void wg_fence_operand(float& r) { asm volatile("" : "+f"(r)::"memory"); }

// D(64x128, f32) += A(64x16) * B(16x128), both from shared memory.
__device__ __forceinline__ void wgmma_m64n128k16(float (&d)[64], unsigned long long da, unsigned long long db) {
    asm volatile(
        "{\n"
        ".reg .pred p;\n"
        "setp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n"
        "}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(da), "l"(db), "r"(1));
}

template <int EPI>
__device__ __forceinline__ void gemm_wgmma(const __half* __restrict__ X, const __half* __restrict__ W,
                                           const __half* __restrict__ bias, const __half* residual, __half* Y,
                                           int M, int N, int K) {
    extern __shared__ __align__(1024) unsigned char wg_smem_raw[];
    const unsigned raw = smem_u32(wg_smem_raw);
    unsigned char* smem = wg_smem_raw + ((1024 - (raw & 1023)) & 1023);

    const int tid = threadIdx.x;
    const int wg = tid >> 7;  // warpgroup: rows wg*64 .. wg*64+63 of the tile
    const int m0 = blockIdx.y * WG_BM;
    const int n0 = blockIdx.x * WG_BN;
    const int ktiles = K / WG_BK;

    auto load_tile = [&](int stage, int kt) {
        unsigned char* As = smem + stage * WG_STAGE_BYTES;
        unsigned char* Bs = As + WG_BM * WG_BK * 2;
        const int k0 = kt * WG_BK;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int id = tid + i * WG_THREADS;
            const int r = id >> 3, c = id & 7;
            const int off = r * 128 + ((c ^ (r & 7)) << 4);
            const int gm = m0 + r;
            const bool ok = gm < M;
            cp_async16(As + off, X + (size_t)(ok ? gm : 0) * K + k0 + c * 8, ok);
            cp_async16(Bs + off, W + (size_t)(n0 + r) * K + k0 + c * 8, true);
        }
    };

    float acc[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) acc[i] = 0.f;

#pragma unroll
    for (int s = 0; s < WG_STAGES - 1; ++s) {
        if (s < ktiles) load_tile(s, s);
        cp_async_commit();
    }
    for (int kt = 0; kt < ktiles; ++kt) {
        cp_async_wait<WG_STAGES - 2>();
        fence_proxy_async();
        __syncthreads();
        // The stage refilled here was read by the previous iteration's MMAs,
        // which completed (wait_group 0) before the barrier above.
        const int nk = kt + WG_STAGES - 1;
        if (nk < ktiles) load_tile(nk % WG_STAGES, nk);
        cp_async_commit();

        const unsigned a_base = smem_u32(smem + (kt % WG_STAGES) * WG_STAGE_BYTES) + wg * 64 * 128;
        const unsigned b_base = smem_u32(smem + (kt % WG_STAGES) * WG_STAGE_BYTES + WG_BM * WG_BK * 2);
#pragma unroll
        for (int i = 0; i < 64; ++i) wg_fence_operand(acc[i]);
        wg_fence();
#pragma unroll
        for (int ks = 0; ks < WG_BK / 16; ++ks) wgmma_m64n128k16(acc, wg_desc(a_base + ks * 32), wg_desc(b_base + ks * 32));
        wg_commit();
        wg_wait0();
#pragma unroll
        for (int i = 0; i < 64; ++i) wg_fence_operand(acc[i]);
    }
    cp_async_wait<0>();

    // Accumulator layout: warp w of the warpgroup owns rows 16w..16w+15; per
    // 8-column group j, lane holds (row g, cols 2t, 2t+1) and (row g+8, same).
    const int lane = tid & 31, w = (tid >> 5) & 3;
    const int g = lane >> 2, t4 = lane & 3;
#pragma unroll
    for (int j = 0; j < 16; ++j) {
        const int col = n0 + j * 8 + t4 * 2;
        const float2 bv = __half22float2(*reinterpret_cast<const __half2*>(bias + col));
#pragma unroll
        for (int hr = 0; hr < 2; ++hr) {
            const int row = m0 + wg * 64 + w * 16 + g + hr * 8;
            if (row < M) gemm_store_pair<EPI>(acc[j * 4 + hr * 2], acc[j * 4 + hr * 2 + 1], bv, residual, Y, N, row, col);
        }
    }
}

// Launch for all three: grid (N / 128, ceil(M / 128)), block 256, dynamic smem WG_SMEM_BYTES.

extern "C" __global__ void __launch_bounds__(WG_THREADS, 2)
gemm_wg_bias(const __half* __restrict__ X, const __half* __restrict__ W, const __half* __restrict__ bias, __half* Y,
             int M, int N, int K) {
    gemm_wgmma<EPI_BIAS>(X, W, bias, nullptr, Y, M, N, K);
}

extern "C" __global__ void __launch_bounds__(WG_THREADS, 2)
gemm_wg_bias_gelu(const __half* __restrict__ X, const __half* __restrict__ W, const __half* __restrict__ bias,
                  __half* Y, int M, int N, int K) {
    gemm_wgmma<EPI_BIAS_GELU>(X, W, bias, nullptr, Y, M, N, K);
}

extern "C" __global__ void __launch_bounds__(WG_THREADS, 2)
gemm_wg_bias_residual(const __half* __restrict__ X, const __half* __restrict__ W, const __half* __restrict__ bias,
                      const __half* R, __half* Y, int M, int N, int K) {
    gemm_wgmma<EPI_BIAS_RESIDUAL>(X, W, bias, R, Y, M, N, K);
}
