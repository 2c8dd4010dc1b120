// Tensor-core GEMM for the encoder's linear layers: Y[M,N] = X[M,K] W[N,K]^T
// (+ bias, + GELU or + residual), fp16 in, fp32 accumulate, fp16 out.
// X is row-major activations, W is the PyTorch Linear weight as stored
// ([out, in], row-major), so both operands are K-contiguous ("TN") and feed
// ldmatrix without transposes.
//
// Tiling: 128x128 block tile, BK = 32, 3-stage cp.async pipeline, 8 warps in
// a 2 (M) x 4 (N) grid, 64x32 per warp = 4x4 mma.sync m16n8k16 tiles.
// Shared tiles are XOR-swizzled at 16-byte granularity so ldmatrix reads and
// cp.async writes are free of bank conflicts without padding (3 stages fit
// the 48 KiB static limit exactly).
// Requirements (checked by the host): N % 128 == 0, K % 32 == 0, 16-byte
// aligned pointers. M is arbitrary (rows past M read as zero, are not stored).
#include "common.cuh"

#define GEMM_BM 128
#define GEMM_BN 128
#define GEMM_BK 32
#define GEMM_STAGES 3
#define GEMM_THREADS 256

// Offset (in halves) of 16-byte chunk `c` (0..3) of row `r` in a [rows][32] tile.
__device__ __forceinline__ int swz(int r, int c) { return r * GEMM_BK + ((c ^ ((r >> 1) & 3)) << 3); }

template <int EPI>
__device__ __forceinline__ void gemm_tn(const __half* __restrict__ X, const __half* __restrict__ W,
                                        const __half* __restrict__ bias, const __half* residual, __half* Y, int M,
                                        int N, int K) {
    __shared__ __align__(128) __half smem[GEMM_STAGES][2][GEMM_BM * GEMM_BK];

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int warp_m = warp >> 2;  // 0..1
    const int warp_n = warp & 3;   // 0..3
    const int m0 = blockIdx.y * GEMM_BM;
    const int n0 = blockIdx.x * GEMM_BN;
    const int ktiles = K / GEMM_BK;

    // Each thread copies 2 chunks of A and 2 of B per stage.
    auto load_tile = [&](int stage, int kt) {
        const int k0 = kt * GEMM_BK;
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int id = tid + i * GEMM_THREADS;
            const int r = id >> 2, c = id & 3;
            const int gm = m0 + r;
            const bool ok = gm < M;
            const __half* src = X + (size_t)(ok ? gm : 0) * K + k0 + c * 8;
            cp_async16(&smem[stage][0][swz(r, c)], src, ok);
            const __half* wsrc = W + (size_t)(n0 + r) * K + k0 + c * 8;
            cp_async16(&smem[stage][1][swz(r, c)], wsrc, true);
        }
    };

    float acc[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.f;

#pragma unroll
    for (int s = 0; s < GEMM_STAGES - 1; ++s) {
        if (s < ktiles) load_tile(s, s);
        cp_async_commit();
    }

    for (int kt = 0; kt < ktiles; ++kt) {
        cp_async_wait<GEMM_STAGES - 2>();
        __syncthreads();
        // Refill the stage consumed in the previous iteration (every warp is
        // past it: the barrier above).
        const int nk = kt + GEMM_STAGES - 1;
        if (nk < ktiles) load_tile(nk % GEMM_STAGES, nk);
        cp_async_commit();

        const __half* As = smem[kt % GEMM_STAGES][0];
        const __half* Bs = smem[kt % GEMM_STAGES][1];
#pragma unroll
        for (int kk = 0; kk < 2; ++kk) {
            unsigned a[4][4];
            unsigned b[4][2];
#pragma unroll
            for (int mi = 0; mi < 4; ++mi) {
                const int r = warp_m * 64 + mi * 16 + (lane & 15);
                const int c = kk * 2 + (lane >> 4);
                ldmatrix_x4(a[mi], As + swz(r, c));
            }
#pragma unroll
            for (int np = 0; np < 2; ++np) {
                const int r = warp_n * 32 + np * 16 + (lane & 7) + ((lane >> 4) << 3);
                const int c = kk * 2 + ((lane >> 3) & 1);
                unsigned t[4];
                ldmatrix_x4(t, Bs + swz(r, c));
                b[np * 2][0] = t[0];
                b[np * 2][1] = t[1];
                b[np * 2 + 1][0] = t[2];
                b[np * 2 + 1][1] = t[3];
            }
#pragma unroll
            for (int mi = 0; mi < 4; ++mi)
#pragma unroll
                for (int nj = 0; nj < 4; ++nj) mma_16816(acc[mi][nj], a[mi], b[nj][0], b[nj][1]);
        }
    }
    cp_async_wait<0>();

    // Epilogue straight from the accumulators: lane holds rows g and g+8,
    // columns 2*(lane%4) and +1 of each 16x8 tile.
    const int g = lane >> 2, t4 = lane & 3;
#pragma unroll
    for (int nj = 0; nj < 4; ++nj) {
        const int col = n0 + warp_n * 32 + nj * 8 + t4 * 2;
        const float2 bv = __half22float2(*reinterpret_cast<const __half2*>(bias + col));
#pragma unroll
        for (int mi = 0; mi < 4; ++mi) {
#pragma unroll
            for (int hr = 0; hr < 2; ++hr) {
                const int row = m0 + warp_m * 64 + mi * 16 + g + hr * 8;
                if (row < M)
                    gemm_store_pair<EPI>(acc[mi][nj][hr * 2], acc[mi][nj][hr * 2 + 1], bv, residual, Y, N, row, col);
            }
        }
    }
}

// Launch for all three: grid (N / 128, ceil(M / 128)), block 256, no dynamic smem.

// Y = X W^T + bias.
extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 2)
gemm_bias(const __half* __restrict__ X, const __half* __restrict__ W, const __half* __restrict__ bias, __half* Y,
          int M, int N, int K) {
    gemm_tn<EPI_BIAS>(X, W, bias, nullptr, Y, M, N, K);
}

// Y = GELU(X W^T + bias).
extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 2)
gemm_bias_gelu(const __half* __restrict__ X, const __half* __restrict__ W, const __half* __restrict__ bias,
               __half* Y, int M, int N, int K) {
    gemm_tn<EPI_BIAS_GELU>(X, W, bias, nullptr, Y, M, N, K);
}

// Y = X W^T + bias + R (R may alias Y: each element is read before it is written, by the same thread).
extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 2)
gemm_bias_residual(const __half* __restrict__ X, const __half* __restrict__ W, const __half* __restrict__ bias,
                   const __half* R, __half* Y, int M, int N, int K) {
    gemm_tn<EPI_BIAS_RESIDUAL>(X, W, bias, R, Y, M, N, K);
}
