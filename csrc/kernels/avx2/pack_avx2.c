/* Packing by transposition with AVX: rows contiguous along k become k-major panels, in register
 * blocks of 8 x 8 floats or 4 x 4 doubles. This is how X W^T packs W and how a row-major A is
 * packed; the portable element-by-element loop costs as much as the small products it feeds. */
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include "kernel_context.h"
#include "kernels/pack_copy.h"

/* `bytes` (a multiple of 4) from src to dst, in whole ymm where it can */
static inline void copy_row_avx2(char *dst, const char *src, int bytes)
{
    int b = 0;
    for (; b + 32 <= bytes; b += 32)
        _mm256_storeu_si256((__m256i *)(dst + b), _mm256_loadu_si256((const __m256i *)(src + b)));
    if (b + 16 <= bytes) {
        _mm_storeu_si128((__m128i *)(dst + b), _mm_loadu_si128((const __m128i *)(src + b)));
        b += 16;
    }
    if (b + 8 <= bytes) {
        _mm_storel_epi64((__m128i *)(dst + b), _mm_loadl_epi64((const __m128i *)(src + b)));
        b += 8;
    }
    if (b < bytes)
        _mm_storeu_si32(dst + b, _mm_loadu_si32(src + b));
}

FASTNN_DEFINE_PACK_COPY(fastnn_pack_copy_avx2, copy_row_avx2)

static inline void transpose_8x8(const float *src, ptrdiff_t ld, float *dst, ptrdiff_t ldd)
{
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ld);
    __m256 r2 = _mm256_loadu_ps(src + 2 * ld), r3 = _mm256_loadu_ps(src + 3 * ld);
    __m256 r4 = _mm256_loadu_ps(src + 4 * ld), r5 = _mm256_loadu_ps(src + 5 * ld);
    __m256 r6 = _mm256_loadu_ps(src + 6 * ld), r7 = _mm256_loadu_ps(src + 7 * ld);
    /* pairs of rows interleaved, then quads: u0 holds columns 0 and 4 of rows 0-3, ... */
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    _mm256_storeu_ps(dst + 0 * ldd, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + 1 * ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}

static inline void transpose_4x4(const double *src, ptrdiff_t ld, double *dst, ptrdiff_t ldd)
{
    __m256d r0 = _mm256_loadu_pd(src), r1 = _mm256_loadu_pd(src + ld);
    __m256d r2 = _mm256_loadu_pd(src + 2 * ld), r3 = _mm256_loadu_pd(src + 3 * ld);
    __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
    __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(dst + 0 * ldd, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(dst + 1 * ldd, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(dst + 2 * ldd, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(dst + 3 * ldd, _mm256_permute2f128_pd(t1, t3, 0x31));
}

#define DEFINE_PACK_TRANSPOSED(T, NAME, BLOCK, TRANSPOSE)                                       \
    void NAME(ptrdiff_t kc, const T *src, ptrdiff_t ld, int w, T *dst)                         \
    {                                                                                          \
        ptrdiff_t k_blocked = kc - kc % BLOCK;                                                 \
        int r0 = 0;                                                                            \
        for (; r0 + BLOCK <= w; r0 += BLOCK)                                                   \
            for (ptrdiff_t p0 = 0; p0 < k_blocked; p0 += BLOCK)                                \
                TRANSPOSE(src + r0 * ld + p0, ld, dst + p0 * w + r0, w);                       \
        for (int r = 0; r < w; r++) /* what the register blocks left: k's tail, w's tail */   \
            for (ptrdiff_t p = r < r0 ? k_blocked : 0; p < kc; p++)                            \
                dst[p * w + r] = src[r * ld + p];                                              \
    }

DEFINE_PACK_TRANSPOSED(float, fastnn_spack_transposed_avx2, 8, transpose_8x8)
DEFINE_PACK_TRANSPOSED(double, fastnn_dpack_transposed_avx2, 4, transpose_4x4)
