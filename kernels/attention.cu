// Multi-head self-attention over a packed, unpadded batch (cu_seqlens), in
// one fused kernel: S = Q K^T on tensor cores, online softmax in registers,
// O = P V on tensor cores (FlashAttention-2 style, P never leaves registers).
//
// Input: qkv [total_tokens, 3 * hidden] fp16 (the fused QKV projection:
// Q | K | V, head h at columns h * 32 .. h * 32 + 31 of each third).
// Output: ctx [total_tokens, hidden] fp16, heads concatenated.
// Head dim is fixed at 32; sequences are at most ATT_MAXL tokens. Each block
// takes 64 queries of one sequence for one head (4 warps x 16 rows) and holds
// that sequence's whole K and V for the head in shared memory.
#include "common.cuh"

#define ATT_D 32
#define ATT_QB 64
#define ATT_MAXL 256
#define ATT_KB 64
#define ATT_LD 40  // padded row stride (halves): 80-byte rows keep ldmatrix conflict-free

// blocks[i] = (sequence index, first query row) for block i (built on the host).
// Launch: grid (num_blocks, num_heads), block 128.
// scale_log2 = log2(e) / sqrt(head_dim).
extern "C" __global__ void __launch_bounds__(128)
attention_varlen(const __half* __restrict__ qkv, const int* __restrict__ cu_seqlens, const int2* __restrict__ blocks,
                 int num_heads, float scale_log2, __half* __restrict__ out) {
    __shared__ __align__(16) __half Qs[ATT_QB * ATT_LD];
    __shared__ __align__(16) __half Ks[ATT_MAXL * ATT_LD];
    __shared__ __align__(16) __half Vs[ATT_MAXL * ATT_LD];

    const int2 blk = blocks[blockIdx.x];
    const int head = blockIdx.y;
    const int start = cu_seqlens[blk.x];
    const int len = cu_seqlens[blk.x + 1] - start;
    const int q0 = blk.y;
    const int hidden = num_heads * ATT_D;
    const int ld = 3 * hidden;
    const int nkeys = (len + ATT_KB - 1) / ATT_KB * ATT_KB;  // keys rounded up to whole chunks
    const int tid = threadIdx.x;

    // Stage Q (64 rows) and K, V (nkeys rows), 4 x 16-byte chunks per row;
    // rows past the sequence are zero so they add nothing and read no neighbour.
    const uint4 zero = make_uint4(0, 0, 0, 0);
    for (int i = tid; i < ATT_QB * 4; i += 128) {
        const int r = i >> 2, c = i & 3;
        const int q = q0 + r;
        uint4 v = zero;
        if (q < len) v = *reinterpret_cast<const uint4*>(qkv + (size_t)(start + q) * ld + head * ATT_D + c * 8);
        *reinterpret_cast<uint4*>(Qs + r * ATT_LD + c * 8) = v;
    }
    for (int i = tid; i < nkeys * 4; i += 128) {
        const int r = i >> 2, c = i & 3;
        uint4 k = zero, v = zero;
        if (r < len) {
            const __half* row = qkv + (size_t)(start + r) * ld + head * ATT_D + c * 8;
            k = *reinterpret_cast<const uint4*>(row + hidden);
            v = *reinterpret_cast<const uint4*>(row + 2 * hidden);
        }
        *reinterpret_cast<uint4*>(Ks + r * ATT_LD + c * 8) = k;
        *reinterpret_cast<uint4*>(Vs + r * ATT_LD + c * 8) = v;
    }
    __syncthreads();

    const int warp = tid >> 5, lane = tid & 31;
    const int wq = warp * 16;  // this warp's first query row within the block
    if (q0 + wq >= len) return;  // no barrier follows
    const int g = lane >> 2, t4 = lane & 3;

    unsigned qf[2][4];
#pragma unroll
    for (int kk = 0; kk < 2; ++kk)
        ldmatrix_x4(qf[kk], Qs + (wq + (lane & 15)) * ATT_LD + kk * 16 + (lane >> 4) * 8);

    float m_run[2] = {-DF_INF, -DF_INF};  // running max (log2 domain), rows g and g+8
    float l_run[2] = {0.f, 0.f};          // this lane's share of the running denominators
    float o[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int e = 0; e < 4; ++e) o[i][e] = 0.f;

    for (int kb = 0; kb < nkeys; kb += ATT_KB) {
        float s[8][4];
#pragma unroll
        for (int j = 0; j < 8; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) s[j][e] = 0.f;
#pragma unroll
        for (int kk = 0; kk < 2; ++kk) {
#pragma unroll
            for (int np = 0; np < 4; ++np) {
                unsigned b[4];
                const int r = kb + np * 16 + (lane & 7) + ((lane >> 4) << 3);
                ldmatrix_x4(b, Ks + r * ATT_LD + kk * 16 + ((lane >> 3) & 1) * 8);
                mma_16816(s[np * 2], qf[kk], b[0], b[1]);
                mma_16816(s[np * 2 + 1], qf[kk], b[2], b[3]);
            }
        }
        // Scale into the log2 domain, mask keys past the sequence, row maxima.
        float mx[2] = {-DF_INF, -DF_INF};
#pragma unroll
        for (int j = 0; j < 8; ++j) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int key = kb + j * 8 + t4 * 2 + (e & 1);
                const float v = key < len ? s[j][e] * scale_log2 : -DF_INF;
                s[j][e] = v;
                mx[e >> 1] = fmaxf(mx[e >> 1], v);
            }
        }
        float alpha[2];
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
            mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
            // Every chunk holds at least one real key (kb < len), so the max is finite.
            const float m_new = fmaxf(m_run[h], mx[h]);
            alpha[h] = exp2f(m_run[h] - m_new);
            m_run[h] = m_new;
            l_run[h] *= alpha[h];
        }
#pragma unroll
        for (int j = 0; j < 8; ++j) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const float p = exp2f(s[j][e] - m_run[e >> 1]);
                s[j][e] = p;
                l_run[e >> 1] += p;
            }
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            o[i][0] *= alpha[0];
            o[i][1] *= alpha[0];
            o[i][2] *= alpha[1];
            o[i][3] *= alpha[1];
        }
        // O += P V: the S accumulators of key tiles 2k, 2k+1 are exactly the
        // A fragment of the k-th 16-key step.
#pragma unroll
        for (int k2 = 0; k2 < 4; ++k2) {
            unsigned a[4];
            a[0] = pack_half2(s[2 * k2][0], s[2 * k2][1]);
            a[1] = pack_half2(s[2 * k2][2], s[2 * k2][3]);
            a[2] = pack_half2(s[2 * k2 + 1][0], s[2 * k2 + 1][1]);
            a[3] = pack_half2(s[2 * k2 + 1][2], s[2 * k2 + 1][3]);
#pragma unroll
            for (int dp = 0; dp < 2; ++dp) {
                unsigned b[4];
                ldmatrix_x4_trans(b, Vs + (kb + k2 * 16 + (lane & 15)) * ATT_LD + dp * 16 + (lane >> 4) * 8);
                mma_16816(o[dp * 2], a, b[0], b[1]);
                mma_16816(o[dp * 2 + 1], a, b[2], b[3]);
            }
        }
    }

    float inv_l[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        float l = l_run[h];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        inv_l[h] = 1.0f / l;
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int q = q0 + wq + g + h * 8;
        if (q < len) {
            __half* dst = out + (size_t)(start + q) * hidden + head * ATT_D + t4 * 2;
#pragma unroll
            for (int i = 0; i < 4; ++i)
                *reinterpret_cast<__half2*>(dst + i * 8) =
                    __floats2half2_rn(o[i][h * 2] * inv_l[h], o[i][h * 2 + 1] * inv_l[h]);
        }
    }
}
