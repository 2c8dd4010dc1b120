// Shared device helpers for the docflow kernels: fp16 types, warp reductions,
// and thin inline-PTX wrappers for the tensor-core instructions (ldmatrix,
// mma.sync m16n8k16) and asynchronous copies (cp.async), GELU, LayerNorm and
// the GEMM epilogue. Kept header-only; the Rust loader splices it into each
// .cu before NVRTC sees it.
#pragma once
#include <cuda_fp16.h>

#define DF_INF __int_as_float(0x7f800000)

// Sum across the 32 lanes of a warp.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Shared-memory address as the 32-bit value PTX expects.
__device__ __forceinline__ unsigned smem_u32(const void* p) {
    return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// 16-byte global->shared copy that bypasses L1; `valid == false` fills the
// destination with zeros (src-size 0), so out-of-range rows read as zero.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
    unsigned dst = smem_u32(smem);
    int n = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

// Four 8x8 b16 matrices from shared memory; lane i supplies the address of
// row (i % 8) of matrix (i / 8).
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p)));
}
// Same, transposed (used for a row-major [k][n] B operand such as V).
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_u32(p)));
}

// D = A(16x16, row) * B(16x8, col) + D, fp16 inputs, fp32 accumulators.
__device__ __forceinline__ void mma_16816(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats packed as an fp16x2 register (low half = first argument).
__device__ __forceinline__ unsigned pack_half2(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<unsigned*>(&h);
}

// BERT's GELU (the exact, erf-based form).
__device__ __forceinline__ float gelu_erf(float x) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

// GEMM epilogues (gemm.cu, gemm_sm90.cu): what happens to an accumulated
// output before it is stored.
#define EPI_BIAS 0           // Y = XW^T + bias
#define EPI_BIAS_GELU 1      // Y = GELU(XW^T + bias)
#define EPI_BIAS_RESIDUAL 2  // Y = XW^T + bias + R

// Stores the output pair Y[row][col], Y[row][col + 1] from its two fp32
// accumulators, after the epilogue EPI; `bv` is bias[col..col + 1]. R may
// alias Y: the pair is read before it is written, by the same thread.
template <int EPI>
__device__ __forceinline__ void gemm_store_pair(float v0, float v1, float2 bv, const __half* residual, __half* Y, int N,
                                                int row, int col) {
    v0 += bv.x;
    v1 += bv.y;
    if (EPI == EPI_BIAS_GELU) {
        v0 = gelu_erf(v0);
        v1 = gelu_erf(v1);
    } else if (EPI == EPI_BIAS_RESIDUAL) {
        const float2 rv = __half22float2(*reinterpret_cast<const __half2*>(residual + (size_t)row * N + col));
        v0 += rv.x;
        v1 += rv.y;
    }
    *reinterpret_cast<__half2*>(Y + (size_t)row * N + col) = __floats2half2_rn(v0, v1);
}

// LayerNorm of one row held by a warp: lane owns elements lane*2 + 64*i
// (as fp16 pairs). `v` holds the values on entry, the normalised values on exit.
template <int MAXP>
__device__ __forceinline__ void warp_layernorm_store(float (&v)[MAXP][2], int hidden, const __half* gamma,
                                                     const __half* beta, float eps, __half* out_row) {
    const int lane = threadIdx.x & 31;
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < MAXP; ++i) {
        int c = i * 64 + lane * 2;
        if (c < hidden) s += v[i][0] + v[i][1];
    }
    const float mean = warp_sum(s) / hidden;
    float q = 0.f;
#pragma unroll
    for (int i = 0; i < MAXP; ++i) {
        int c = i * 64 + lane * 2;
        if (c < hidden) {
            float a = v[i][0] - mean, b = v[i][1] - mean;
            q += a * a + b * b;
        }
    }
    const float rstd = rsqrtf(warp_sum(q) / hidden + eps);
#pragma unroll
    for (int i = 0; i < MAXP; ++i) {
        int c = i * 64 + lane * 2;
        if (c < hidden) {
            float2 g = __half22float2(*reinterpret_cast<const __half2*>(gamma + c));
            float2 b = __half22float2(*reinterpret_cast<const __half2*>(beta + c));
            float y0 = (v[i][0] - mean) * rstd * g.x + b.x;
            float y1 = (v[i][1] - mean) * rstd * g.y + b.y;
            *reinterpret_cast<__half2*>(out_row + c) = __floats2half2_rn(y0, y1);
        }
    }
}

// Largest hidden size the row kernels handle (64 * LN_MAXP).
#define LN_MAXP 16
