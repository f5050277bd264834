/* AVX-512 micro-kernels: 8 x 32 floats and 8 x 16 doubles, i.e. 16 zmm accumulators fed by two
 * vectors of B and eight broadcasts of A per k step. MR = 8 divides the batch sizes MLPs use
 * (16, 32, 64, 256), so small batches waste no rows in edge tiles. */
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
#include <immintrin.h>

#include "kernel_context.h"
#include "kernels/register_tile.h"

#define MR 8

FASTNN_DEFINE_REGISTER_TILE_UKERNEL(sgemm_avx512_8x32, float, __m512, 16, _mm512_set1_ps,
                                    _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps,
                                    _mm512_fmadd_ps, _mm512_mul_ps)
FASTNN_DEFINE_REGISTER_TILE_UKERNEL(dgemm_avx512_8x16, double, __m512d, 8, _mm512_set1_pd,
                                    _mm512_setzero_pd, _mm512_loadu_pd, _mm512_storeu_pd,
                                    _mm512_fmadd_pd, _mm512_mul_pd)

/* Dot-product kernels for X W^T at small batches: a 4 x 4 tile of C in 16 accumulators, each a
 * vector of partial sums along k (4 rows of A and 4 of B loaded per step, the k tail masked),
 * reduced across lanes at the end. Rows and columns past the tile's edge repeat the last one
 * (never read out of bounds) and are not stored. */
#define DOT_M 4
#define DOT_N 4
/* The 16 lane sums of a 4 x 4 tile of float accumulators, row-major into sums: halves added
 * (zmm to ymm), then two horizontal-add trees of eight, about a third of the instructions of
 * sixteen separate reductions. */
static inline void reduce_tile_f32(__m512 acc[DOT_M][DOT_N], float sums[DOT_M * DOT_N])
{
    __m256 half[DOT_M * DOT_N];
    for (int t = 0; t < DOT_M * DOT_N; t++) {
        __m512 v = acc[t / DOT_N][t % DOT_N];
        half[t] = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    }
    for (int g = 0; g < 2; g++) {
        const __m256 *v = half + 8 * g;
        __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
        __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
        _mm256_storeu_ps(sums + 8 * g, _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20),
                                                     _mm256_permute2f128_ps(u0, u1, 0x31)));
    }
}

static inline void reduce_tile_f64(__m512d acc[DOT_M][DOT_N], double sums[DOT_M * DOT_N])
{
    for (int t = 0; t < DOT_M * DOT_N; t++) sums[t] = _mm512_reduce_add_pd(acc[t / DOT_N][t % DOT_N]);
}

#define DEFINE_DOT_UKERNEL(NAME, T, V, LANES, MASK, ZERO, LOADU, MASKZ_LOADU, FMADD, REDUCE_TILE) \
    static void NAME(ptrdiff_t k, const T *a, ptrdiff_t lda, ptrdiff_t rows, const T *b,         \
                     ptrdiff_t ldb, ptrdiff_t cols, T *c, ptrdiff_t ldc, T alpha, T beta)         \
    {                                                                                            \
        const T *ar[DOT_M], *br[DOT_N];                                                          \
        for (int i = 0; i < DOT_M; i++) ar[i] = a + (i < rows ? i : rows - 1) * lda;              \
        for (int j = 0; j < DOT_N; j++) br[j] = b + (j < cols ? j : cols - 1) * ldb;              \
        V acc[DOT_M][DOT_N];                                                                     \
        _Pragma("GCC unroll 4") for (int i = 0; i < DOT_M; i++)                                  \
            _Pragma("GCC unroll 4") for (int j = 0; j < DOT_N; j++) acc[i][j] = ZERO();          \
        ptrdiff_t p = 0;                                                                         \
        for (; p + LANES <= k; p += LANES) {                                                     \
            V av[DOT_M], bv[DOT_N];                                                              \
            _Pragma("GCC unroll 4") for (int i = 0; i < DOT_M; i++) av[i] = LOADU(ar[i] + p);    \
            _Pragma("GCC unroll 4") for (int j = 0; j < DOT_N; j++) bv[j] = LOADU(br[j] + p);    \
            _Pragma("GCC unroll 4") for (int i = 0; i < DOT_M; i++)                              \
                _Pragma("GCC unroll 4") for (int j = 0; j < DOT_N; j++)                          \
                    acc[i][j] = FMADD(av[i], bv[j], acc[i][j]);                                  \
        }                                                                                        \
        if (p < k) {                                                                             \
            MASK tail = (MASK)((1u << (k - p)) - 1);                                             \
            V av[DOT_M], bv[DOT_N];                                                              \
            for (int i = 0; i < DOT_M; i++) av[i] = MASKZ_LOADU(tail, ar[i] + p);                \
            for (int j = 0; j < DOT_N; j++) bv[j] = MASKZ_LOADU(tail, br[j] + p);                \
            for (int i = 0; i < DOT_M; i++)                                                      \
                for (int j = 0; j < DOT_N; j++) acc[i][j] = FMADD(av[i], bv[j], acc[i][j]);      \
        }                                                                                        \
        T sums[DOT_M * DOT_N];                                                                   \
        REDUCE_TILE(acc, sums);                                                                  \
        for (ptrdiff_t i = 0; i < rows; i++)                                                     \
            for (ptrdiff_t j = 0; j < cols; j++) {                                               \
                T sum = alpha * sums[i * DOT_N + j];                                             \
                c[i * ldc + j] = beta == 0 ? sum : sum + beta * c[i * ldc + j];                  \
            }                                                                                    \
    }

DEFINE_DOT_UKERNEL(sgemm_dot_avx512_4x4, float, __m512, 16, __mmask16, _mm512_setzero_ps,
                   _mm512_loadu_ps, _mm512_maskz_loadu_ps, _mm512_fmadd_ps, reduce_tile_f32)
DEFINE_DOT_UKERNEL(dgemm_dot_avx512_4x4, double, __m512d, 8, __mmask8, _mm512_setzero_pd,
                   _mm512_loadu_pd, _mm512_maskz_loadu_pd, _mm512_fmadd_pd, reduce_tile_f64)

/* An 8 x KC micro-panel of A (8 KiB at KC = 256) stays in L1 while B's KC x NC panel (512 KiB)
 * streams from a 1 MiB L2. */
const fastnn_kernel_context fastnn_context_avx512 = {
    .name = "avx512",
    .sgemm = {.mr = MR, .nr = 32, .kc = 256, .mc = 128, .nc = 512, .ukernel = sgemm_avx512_8x32,
              .pack_transposed = fastnn_spack_transposed_avx2,
              .dot_mr = DOT_M, .dot_nr = DOT_N, .dot_ukernel = sgemm_dot_avx512_4x4},
    .dgemm = {.mr = MR, .nr = 16, .kc = 256, .mc = 128, .nc = 256, .ukernel = dgemm_avx512_8x16,
              .pack_transposed = fastnn_dpack_transposed_avx2,
              .dot_mr = DOT_M, .dot_nr = DOT_N, .dot_ukernel = dgemm_dot_avx512_4x4},
    .activations = &fastnn_activations_avx512,
};
