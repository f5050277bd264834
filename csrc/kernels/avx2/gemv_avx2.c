/* Matrix-vector kernels (../gemv_rows.h) on AVX2 with FMA: 8 floats or 4 doubles per FMA. */
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include "gemv.h"
#include "kernels/gemv_rows.h"

static inline float sum_lanes_f32_avx2(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}

static inline double sum_lanes_f64_avx2(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

FASTNN_DEFINE_GEMV(sgemv_avx2, float, __m256, 8, _mm256_setzero_ps, _mm256_loadu_ps,
                   _mm256_fmadd_ps, _mm256_add_ps, sum_lanes_f32_avx2)
FASTNN_DEFINE_GEMV(dgemv_avx2, double, __m256d, 4, _mm256_setzero_pd, _mm256_loadu_pd,
                   _mm256_fmadd_pd, _mm256_add_pd, sum_lanes_f64_avx2)

FASTNN_DEFINE_GEVM(sgevm_avx2, float, __m256, 8, _mm256_setzero_ps, _mm256_loadu_ps,
                   _mm256_storeu_ps, _mm256_set1_ps, _mm256_fmadd_ps)
FASTNN_DEFINE_GEVM(dgevm_avx2, double, __m256d, 4, _mm256_setzero_pd, _mm256_loadu_pd,
                   _mm256_storeu_pd, _mm256_set1_pd, _mm256_fmadd_pd)

const fastnn_gemv_kernels fastnn_gemv_avx2 = {.f32 = sgemv_avx2, .f64 = dgemv_avx2,
                                               .gevm_f32 = sgevm_avx2, .gevm_f64 = dgevm_avx2};
