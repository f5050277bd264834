/* The forward by rows' kernels (../conv_rows.h) on AVX2: tiles of 6 x 16 floats and 6 x 8
 * doubles, the register tiles of this set's GEMM micro-kernels. */
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include "../conv_rows.h"
#include "kernel_context.h"

FASTNN_DEFINE_CONV_ROWS_TILE(fastnn_conv_rows_tile_f32_avx2, float, __m256, 8, 6, _mm256_set1_ps,
                             _mm256_setzero_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_fmadd_ps)
FASTNN_DEFINE_CONV_ROWS_TILE(fastnn_conv_rows_tile_f64_avx2, double, __m256d, 4, 6, _mm256_set1_pd,
                             _mm256_setzero_pd, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_fmadd_pd)
FASTNN_DEFINE_CONV_ROWS_SET(avx2)
