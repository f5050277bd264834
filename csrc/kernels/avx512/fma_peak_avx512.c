/* The AVX-512 FMA peak probe: 16 independent chains of vfmadd on zmm registers. Two FMA pipes of
 * latency 4 need 8 chains in flight; 16 leave margin for cores with longer latency and still fit
 * the 32 zmm registers with the two constants. */
#pragma GCC target("avx512f,fma")
#include <immintrin.h>

#include "fma_peak.h"

#define CHAINS 16

FASTNN_DEFINE_FMA_CHAINS(fma_chains_avx512_f32, CHAINS, __m512, float, _mm512_set1_ps,
                         _mm512_fmadd_ps, _mm512_reduce_add_ps)
FASTNN_DEFINE_FMA_CHAINS(fma_chains_avx512_f64, CHAINS, __m512d, double, _mm512_set1_pd,
                         _mm512_fmadd_pd, _mm512_reduce_add_pd)

const fastnn_fma_peak_kernels fastnn_fma_peak_avx512 = {
    .chains = CHAINS, .lanes_f32 = 16, .lanes_f64 = 8,
    .run_f32 = fma_chains_avx512_f32, .run_f64 = fma_chains_avx512_f64,
};
