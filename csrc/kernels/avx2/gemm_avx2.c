/* AVX2 + FMA micro-kernels: 6 x 16 floats and 6 x 8 doubles, i.e. 12 ymm accumulators, two
 * vectors of B and one broadcast of A per k step: 15 of the 16 ymm registers, and enough
 * independent FMA chains to cover two FMA pipes of latency 4-5. */
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include "kernel_context.h"
#include "kernels/dot_tile.h"
#include "kernels/register_tile.h"

#define MR 6

FASTNN_DEFINE_REGISTER_TILE_UKERNEL(sgemm_avx2_6x16, float, __m256, 8, _mm256_set1_ps,
                                    _mm256_setzero_ps, _mm256_loadu_ps, _mm256_storeu_ps,
                                    _mm256_fmadd_ps, _mm256_mul_ps)
FASTNN_DEFINE_REGISTER_TILE_UKERNEL(dgemm_avx2_6x8, double, __m256d, 4, _mm256_set1_pd,
                                    _mm256_setzero_pd, _mm256_loadu_pd, _mm256_storeu_pd,
                                    _mm256_fmadd_pd, _mm256_mul_pd)
FASTNN_DEFINE_HALF_TILE_UKERNEL(sgemm_avx2_6x8, float, __m256, 8, _mm256_set1_ps,
                                _mm256_setzero_ps, _mm256_loadu_ps, _mm256_storeu_ps,
                                _mm256_fmadd_ps, _mm256_mul_ps)
FASTNN_DEFINE_HALF_TILE_UKERNEL(dgemm_avx2_6x4, double, __m256d, 4, _mm256_set1_pd,
                                _mm256_setzero_pd, _mm256_loadu_pd, _mm256_storeu_pd,
                                _mm256_fmadd_pd, _mm256_mul_pd)

/* Dot-product kernels for X W^T into a few columns (at small batches they measured no faster
 * than transposing W into panels, so dot_max_rows is 0): a 2 x 4 tile of C in 8 accumulators
 * (kernels/dot_tile.h), with the 2 + 4 loaded rows: 14 of the 16 ymm registers. */
#define DOT_M 2
#define DOT_N 4
#define TAIL_MASK_F32(r) \
    _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(r)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define TAIL_MASK_F64(r) \
    _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)(r)), _mm256_setr_epi64x(0, 1, 2, 3))
#define MASKED_LOAD_F32(mask, p) _mm256_maskload_ps((p), (mask))
#define MASKED_LOAD_F64(mask, p) _mm256_maskload_pd((p), (mask))

static inline void reduce_tile_f32(__m256 acc[DOT_M][DOT_N], float sums[DOT_M * DOT_N])
{
    _mm256_storeu_ps(sums, fastnn_sum_lanes_8x8(&acc[0][0]));
}

static inline void reduce_tile_f64(__m256d acc[DOT_M][DOT_N], double sums[DOT_M * DOT_N])
{
    for (int t = 0; t < DOT_M * DOT_N; t++) {
        __m256d v = acc[t / DOT_N][t % DOT_N];
        __m128d pair = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
        sums[t] = _mm_cvtsd_f64(_mm_add_sd(pair, _mm_unpackhi_pd(pair, pair)));
    }
}

FASTNN_DEFINE_DOT_UKERNEL(sgemm_dot_avx2_2x4, float, __m256, 8, __m256i, TAIL_MASK_F32,
                          _mm256_setzero_ps, _mm256_loadu_ps, MASKED_LOAD_F32, _mm256_fmadd_ps,
                          reduce_tile_f32)
FASTNN_DEFINE_DOT_UKERNEL(dgemm_dot_avx2_2x4, double, __m256d, 4, __m256i, TAIL_MASK_F64,
                          _mm256_setzero_pd, _mm256_loadu_pd, MASKED_LOAD_F64, _mm256_fmadd_pd,
                          reduce_tile_f64)

/* KC x NR of B (16 KiB at KC = 256) and MR x KC of A fit L1 beside each other; the KC x NC panel
 * of B (512 KiB) stays in a 1 MiB L2. */
const fastnn_sgemm_blocking fastnn_sgemm_avx2 = {
    .mr = MR, .nr = 16, .kc = 256, .mc = 144, .nc = 512, .ukernel = sgemm_avx2_6x16,
    .half_ukernel = sgemm_avx2_6x8,
    .strided_a_ukernel = sgemm_avx2_6x16_strided_a,
    .pack_transposed = fastnn_spack_transposed_avx2, .pack_copy = fastnn_pack_copy_avx2,
    .dot_mr = DOT_M, .dot_nr = DOT_N, .dot_max_rows = 0, .dot_ukernel = sgemm_dot_avx2_2x4,
};
const fastnn_dgemm_blocking fastnn_dgemm_avx2 = {
    .mr = MR, .nr = 8, .kc = 256, .mc = 96, .nc = 256, .ukernel = dgemm_avx2_6x8,
    .half_ukernel = dgemm_avx2_6x4,
    .strided_a_ukernel = dgemm_avx2_6x8_strided_a,
    .pack_transposed = fastnn_dpack_transposed_avx2, .pack_copy = fastnn_pack_copy_avx2,
    .dot_mr = DOT_M, .dot_nr = DOT_N, .dot_max_rows = 0, .dot_ukernel = dgemm_dot_avx2_2x4,
};
