// Embeddings: word + position + token-type (0) gathered per token of a packed
// batch, then LayerNorm, in one pass. One warp per token.
#include "common.cuh"

// Sequence that owns packed token `t` (binary search over cu_seqlens).
__device__ __forceinline__ int seq_of_token(const int* cu_seqlens, int num_seqs, int t) {
    int lo = 0, hi = num_seqs - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (cu_seqlens[mid] <= t) lo = mid; else hi = mid - 1;
    }
    return lo;
}

// out[t, :] = LayerNorm(word[ids[t]] + pos[t - start(seq)] + type[0]).
// Launch: blockDim 128 (4 warps), grid ceil(total_tokens / 4).
extern "C" __global__ void __launch_bounds__(128)
embed_layernorm(const unsigned* __restrict__ ids, const int* __restrict__ cu_seqlens, int num_seqs, int total_tokens,
                const __half* __restrict__ word, const __half* __restrict__ pos, const __half* __restrict__ type0,
                const __half* __restrict__ gamma, const __half* __restrict__ beta, float eps, int hidden,
                __half* __restrict__ out) {
    const int t = blockIdx.x * 4 + (threadIdx.x >> 5);
    if (t >= total_tokens) return;
    const int lane = threadIdx.x & 31;
    const int seq = seq_of_token(cu_seqlens, num_seqs, t);
    const int p = t - cu_seqlens[seq];
    const __half* w = word + (size_t)ids[t] * hidden;
    const __half* ps = pos + (size_t)p * hidden;
    float v[LN_MAXP][2];
#pragma unroll
    for (int i = 0; i < LN_MAXP; ++i) {
        int c = i * 64 + lane * 2;
        if (c < hidden) {
            float2 a = __half22float2(*reinterpret_cast<const __half2*>(w + c));
            float2 b = __half22float2(*reinterpret_cast<const __half2*>(ps + c));
            float2 d = __half22float2(*reinterpret_cast<const __half2*>(type0 + c));
            v[i][0] = a.x + b.x + d.x;
            v[i][1] = a.y + b.y + d.y;
        } else {
            v[i][0] = 0.f;
            v[i][1] = 0.f;
        }
    }
    warp_layernorm_store<LN_MAXP>(v, hidden, gamma, beta, eps, out + (size_t)t * hidden);
}
