/* The AVX2 FMA peak probe: 12 independent chains of vfmadd on ymm registers. Two FMA pipes of
 * latency 4 need 8 chains in flight; 12 plus the two constants fit the 16 ymm registers. */
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include "fma_peak.h"

#define CHAINS 12

static double sum_ps(__m256 v)
{
    float lanes[8];
    _mm256_storeu_ps(lanes, v);
    double sum = 0;
    for (int i = 0; i < 8; i++) sum += lanes[i];
    return sum;
}

static double sum_pd(__m256d v)
{
    double lanes[4];
    _mm256_storeu_pd(lanes, v);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

FASTNN_DEFINE_FMA_CHAINS(fma_chains_avx2_f32, CHAINS, __m256, float, _mm256_set1_ps,
                         _mm256_fmadd_ps, sum_ps)
FASTNN_DEFINE_FMA_CHAINS(fma_chains_avx2_f64, CHAINS, __m256d, double, _mm256_set1_pd,
                         _mm256_fmadd_pd, sum_pd)

const fastnn_fma_peak_kernels fastnn_fma_peak_avx2 = {
    .chains = CHAINS, .lanes_f32 = 8, .lanes_f64 = 4,
    .run_f32 = fma_chains_avx2_f32, .run_f64 = fma_chains_avx2_f64,
};
