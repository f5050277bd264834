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
#define DEFINE_DOT_UKERNEL(NAME, T, V, LANES, MASK, ZERO, LOADU, MASKZ_LOADU, FMADD, REDUCE_ADD)  \
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
        for (ptrdiff_t i = 0; i < rows; i++)                                                     \
            for (ptrdiff_t j = 0; j < cols; j++) {                                               \
                T sum = alpha * REDUCE_ADD(acc[i][j]);                                           \
                c[i * ldc + j] = beta == 0 ? sum : sum + beta * c[i * ldc + j];                  \
            }                                                                                    \
    }

DEFINE_DOT_UKERNEL(sgemm_dot_avx512_4x4, float, __m512, 16, __mmask16, _mm512_setzero_ps,
                   _mm512_loadu_ps, _mm512_maskz_loadu_ps, _mm512_fmadd_ps, _mm512_reduce_add_ps)
DEFINE_DOT_UKERNEL(dgemm_dot_avx512_4x4, double, __m512d, 8, __mmask8, _mm512_setzero_pd,
                   _mm512_loadu_pd, _mm512_maskz_loadu_pd, _mm512_fmadd_pd, _mm512_reduce_add_pd)

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
