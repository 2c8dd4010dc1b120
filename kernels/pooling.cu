// Mean pooling over each packed sequence followed by L2 normalisation: the
// sentence embedding. One block per sequence.
#include "common.cuh"

#define POOL_THREADS 128
#define POOL_MAXC 8  // hidden <= POOL_THREADS * POOL_MAXC

// out[s, :] = normalize(mean over t in seq s of x[t, :]), fp32 output.
extern "C" __global__ void __launch_bounds__(POOL_THREADS)
mean_pool_l2norm(const __half* __restrict__ x, const int* __restrict__ cu_seqlens, int hidden,
                 float* __restrict__ out) {
    const int s = blockIdx.x;
    const int start = cu_seqlens[s], end = cu_seqlens[s + 1];
    const float inv_len = 1.0f / (float)(end - start);
    float acc[POOL_MAXC];
    float sq = 0.f;
#pragma unroll
    for (int i = 0; i < POOL_MAXC; ++i) {
        const int c = i * POOL_THREADS + threadIdx.x;
        float a = 0.f;
        if (c < hidden) {
            for (int t = start; t < end; ++t) a += __half2float(x[(size_t)t * hidden + c]);
        }
        a *= inv_len;
        acc[i] = a;
        sq += a * a;
    }
    __shared__ float part[POOL_THREADS / 32];
    sq = warp_sum(sq);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = sq;
    __syncthreads();
    float total = 0.f;
#pragma unroll
    for (int w = 0; w < POOL_THREADS / 32; ++w) total += part[w];
    // Same clamp as torch.nn.functional.normalize (eps = 1e-12).
    const float inv_norm = 1.0f / fmaxf(sqrtf(total), 1e-12f);
#pragma unroll
    for (int i = 0; i < POOL_MAXC; ++i) {
        const int c = i * POOL_THREADS + threadIdx.x;
        if (c < hidden) out[(size_t)s * hidden + c] = acc[i] * inv_norm;
    }
}
