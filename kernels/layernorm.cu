// Row LayerNorm over [rows, hidden] fp16; the residual add is already fused
// into the preceding GEMM's epilogue. One warp per row; in-place is allowed.
#include "common.cuh"

// Launch: blockDim 128 (4 warps), grid ceil(rows / 4).
extern "C" __global__ void __launch_bounds__(128)
layernorm(const __half* x, const __half* __restrict__ gamma, const __half* __restrict__ beta, float eps, int rows,
          int hidden, __half* out) {
    const int r = blockIdx.x * 4 + (threadIdx.x >> 5);
    if (r >= rows) return;
    const int lane = threadIdx.x & 31;
    const __half* xr = x + (size_t)r * hidden;
    float v[LN_MAXP][2];
#pragma unroll
    for (int i = 0; i < LN_MAXP; ++i) {
        int c = i * 64 + lane * 2;
        if (c < hidden) {
            float2 a = __half22float2(*reinterpret_cast<const __half2*>(xr + c));
            v[i][0] = a.x;
            v[i][1] = a.y;
        } else {
            v[i][0] = 0.f;
            v[i][1] = 0.f;
        }
    }
    warp_layernorm_store<LN_MAXP>(v, hidden, gamma, beta, eps, out + (size_t)r * hidden);
}
