/* Matrix-vector kernels (../gemv_rows.h) on AVX-512: 16 floats or 8 doubles per FMA. */
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
#include <immintrin.h>

#include "gemv.h"
#include "kernels/gemv_rows.h"

FASTNN_DEFINE_GEMV(sgemv_avx512, float, __m512, 16, _mm512_setzero_ps, _mm512_loadu_ps,
                   _mm512_fmadd_ps, _mm512_add_ps, _mm512_reduce_add_ps)
FASTNN_DEFINE_GEMV(dgemv_avx512, double, __m512d, 8, _mm512_setzero_pd, _mm512_loadu_pd,
                   _mm512_fmadd_pd, _mm512_add_pd, _mm512_reduce_add_pd)

FASTNN_DEFINE_GEVM(sgevm_avx512, float, __m512, 16, _mm512_setzero_ps, _mm512_loadu_ps,
                   _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps)
FASTNN_DEFINE_GEVM(dgevm_avx512, double, __m512d, 8, _mm512_setzero_pd, _mm512_loadu_pd,
                   _mm512_storeu_pd, _mm512_set1_pd, _mm512_fmadd_pd)

const fastnn_gemv_kernels fastnn_gemv_avx512 = {.f32 = sgemv_avx512, .f64 = dgemv_avx512,
                                               .gevm_f32 = sgevm_avx512, .gevm_f64 = dgevm_avx512};
