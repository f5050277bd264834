/* The forward by rows' kernels (../conv_rows.h) on AVX-512: tiles of 8 x 32 floats and 8 x 16
 * doubles, the register tiles of this set's GEMM micro-kernels. */
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,prefer-vector-width=512")
#include <immintrin.h>

#include "../conv_rows.h"
#include "kernel_context.h"

FASTNN_DEFINE_CONV_ROWS_TILE(fastnn_conv_rows_tile_f32_avx512, float, __m512, 16, 8, _mm512_set1_ps,
                             _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_fmadd_ps)
FASTNN_DEFINE_CONV_ROWS_TILE(fastnn_conv_rows_tile_f64_avx512, double, __m512d, 8, 8, _mm512_set1_pd,
                             _mm512_setzero_pd, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_fmadd_pd)
FASTNN_DEFINE_CONV_ROWS_SET(avx512)
