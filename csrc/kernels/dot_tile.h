/* The dot-product micro-kernel of every vector instruction set, written once: a DOT_M x DOT_N
 * tile of C = alpha * A B + beta * C for operands contiguous along k (X and W in X W^T), each
 * entry a vector of partial sums along k, reduced across lanes at the end by the set's
 * REDUCE_TILE. Rows and columns past the tile's edge repeat the last one (nothing is read out of
 * bounds) and are not stored; the k tail is read with a masked load, which touches no memory
 * past the mask. A kernel file defines DOT_M and DOT_N and names its vector type and
 * intrinsics; TAIL_MASK(r) makes the mask of the first r lanes, MASKED_LOAD(mask, p) loads. */
#ifndef FASTNN_DOT_TILE_H
#define FASTNN_DOT_TILE_H

/* Eight vectors of eight floats to their eight lane sums, by a horizontal-add tree. */
static inline __m256 fastnn_sum_lanes_8x8(const __m256 v[8])
{
    __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

#define FASTNN_DEFINE_DOT_UKERNEL(NAME, T, V, LANES, MASK, TAIL_MASK, ZERO, LOADU, MASKED_LOAD,    \
                                  FMADD, REDUCE_TILE)                                              \
    static void NAME(ptrdiff_t k, const T *a, ptrdiff_t lda, ptrdiff_t rows, const T *b,           \
                     ptrdiff_t ldb, ptrdiff_t cols, T *c, ptrdiff_t ldc, T alpha, T beta)           \
    {                                                                                              \
        const T *ar[DOT_M], *br[DOT_N];                                                            \
        for (int i = 0; i < DOT_M; i++) ar[i] = a + (i < rows ? i : rows - 1) * lda;                \
        for (int j = 0; j < DOT_N; j++) br[j] = b + (j < cols ? j : cols - 1) * ldb;                \
        V acc[DOT_M][DOT_N];                                                                       \
        _Pragma("GCC unroll 16") for (int i = 0; i < DOT_M; i++)                                    \
            _Pragma("GCC unroll 16") for (int j = 0; j < DOT_N; j++) acc[i][j] = ZERO();            \
        ptrdiff_t p = 0;                                                                           \
        for (; p + LANES <= k; p += LANES) {                                                       \
            V av[DOT_M], bv[DOT_N];                                                                \
            _Pragma("GCC unroll 16") for (int i = 0; i < DOT_M; i++) av[i] = LOADU(ar[i] + p);      \
            _Pragma("GCC unroll 16") for (int j = 0; j < DOT_N; j++) bv[j] = LOADU(br[j] + p);      \
            _Pragma("GCC unroll 16") for (int i = 0; i < DOT_M; i++)                                \
                _Pragma("GCC unroll 16") for (int j = 0; j < DOT_N; j++)                            \
                    acc[i][j] = FMADD(av[i], bv[j], acc[i][j]);                                    \
        }                                                                                          \
        if (p < k) {                                                                               \
            MASK tail = TAIL_MASK(k - p);                                                          \
            V av[DOT_M], bv[DOT_N];                                                                \
            _Pragma("GCC unroll 16") for (int i = 0; i < DOT_M; i++)                               \
                av[i] = MASKED_LOAD(tail, ar[i] + p);                                              \
            _Pragma("GCC unroll 16") for (int j = 0; j < DOT_N; j++)                               \
                bv[j] = MASKED_LOAD(tail, br[j] + p);                                              \
            _Pragma("GCC unroll 16") for (int i = 0; i < DOT_M; i++)                               \
                _Pragma("GCC unroll 16") for (int j = 0; j < DOT_N; j++)                           \
                    acc[i][j] = FMADD(av[i], bv[j], acc[i][j]);                                    \
        }                                                                                          \
        T sums[DOT_M * DOT_N];                                                                     \
        REDUCE_TILE(acc, sums);                                                                    \
        for (ptrdiff_t i = 0; i < rows; i++)                                                       \
            for (ptrdiff_t j = 0; j < cols; j++) {                                                 \
                T sum = alpha * sums[i * DOT_N + j];                                               \
                c[i * ldc + j] = beta == 0 ? sum : sum + beta * c[i * ldc + j];                    \
            }                                                                                      \
    }

#endif
