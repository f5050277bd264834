/* The AVX512-BF16 peak probes: avx512's FMA chains, plus chains of VDPBF16PS, each lane adding
 * two bf16 products to its float32 accumulator. 24 chains: two pipes of a latency up to 6 need 12
 * in flight, and the 24 still fit the 32 zmm registers with the two operands. */
#pragma GCC target("avx512f,avx512bw,avx512bf16,fma")
#include <immintrin.h>

#include "fma_peak.h"

#define CHAINS 24

FASTNN_DEFINE_FMA_CHAINS(fma_chains_avx512_bf16_f32, CHAINS, __m512, float, _mm512_set1_ps,
                         _mm512_fmadd_ps, _mm512_reduce_add_ps)
FASTNN_DEFINE_FMA_CHAINS(fma_chains_avx512_bf16_f64, CHAINS, __m512d, double, _mm512_set1_pd,
                         _mm512_fmadd_pd, _mm512_reduce_add_pd)

/* acc += x0 * y0 + x1 * y1 with x = (2^-10, 2^-10), y = (2^-10, 0): a step of 2^-20, which
 * neither overflows nor reaches the denormals in any run the probe makes; the chains depend on
 * nothing but themselves. */
static double dpbf16_chains_avx512_bf16(long iterations)
{
    __m512 acc[CHAINS];
    __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0x1p-10f), _mm512_set1_ps(0x1p-10f));
    __m512bh y = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.0f), _mm512_set1_ps(0x1p-10f));
    _Pragma("GCC unroll 32") for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_ps((float)c);
    for (long i = 0; i < iterations; i++) {
        _Pragma("GCC unroll 32") for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm512_dpbf16_ps(acc[c], x, y);
    }
    double sum = 0;
    for (int c = 0; c < CHAINS; c++) sum += _mm512_reduce_add_ps(acc[c]);
    return sum;
}

const fastnn_fma_peak_kernels fastnn_fma_peak_avx512_bf16 = {
    .chains = CHAINS, .lanes_f32 = 16, .lanes_f64 = 8,
    .run_f32 = fma_chains_avx512_bf16_f32, .run_f64 = fma_chains_avx512_bf16_f64,
    .run_bf16 = dpbf16_chains_avx512_bf16,
};
