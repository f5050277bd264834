/* Packing by transposition with AVX-512: float32 panels of a multiple of 16 rows (the 32-wide
 * panels of B in X W^T) in register blocks of 16 x 16, four shuffle stages of 16 instructions
 * for 256 values where AVX's 8 x 8 blocks take six of 32 per 256 (three of 8 per block of 64).
 * Measured on the digits MLP's X W^T, one Zen 5 core, operands hot, AVX -> AVX-512 blocks:
 * 64 x 256 x 256 35.3 -> 34.3 us, 64 x 256 x 64 9.1 -> 8.8 us. Narrower panels (the 8 rows of A) and float64 keep the AVX transposes. */
#pragma GCC target("avx512f,avx512dq,avx2,fma")
#include <immintrin.h>

#include "kernel_context.h"
#include "kernels/pack_copy.h"

/* `bytes` (a multiple of 4) from src to dst, in whole zmm where it can */
static inline void copy_row_avx512(char *dst, const char *src, int bytes)
{
    int b = 0;
    for (; b + 64 <= bytes; b += 64) _mm512_storeu_si512(dst + b, _mm512_loadu_si512(src + b));
    if (b + 32 <= bytes) {
        _mm256_storeu_si256((__m256i *)(dst + b), _mm256_loadu_si256((const __m256i *)(src + b)));
        b += 32;
    }
    if (b < bytes) {
        __mmask16 lanes = (__mmask16)((1u << ((bytes - b) / 4)) - 1);
        _mm512_mask_storeu_epi32(dst + b, lanes, _mm512_maskz_loadu_epi32(lanes, src + b));
    }
}

FASTNN_DEFINE_PACK_COPY(fastnn_pack_copy_avx512, copy_row_avx512)

static inline __m512 interleave_pairs_lo_avx512(__m512 a, __m512 b)
{
    return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}

static inline __m512 interleave_pairs_hi_avx512(__m512 a, __m512 b)
{
    return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}

/* dst[p * ldd + r] = src[r * ld + p] for r, p < 16 */
static inline void transpose_16x16_avx512(const float *src, ptrdiff_t ld, float *dst, ptrdiff_t ldd)
{
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * ld);
    /* values, pairs, then quads of lanes interleaved; then 128-bit quarters gathered twice */
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = interleave_pairs_lo_avx512(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = interleave_pairs_hi_avx512(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = interleave_pairs_lo_avx512(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = interleave_pairs_hi_avx512(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
            t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        _mm512_storeu_ps(dst + j * ldd, _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88));
        _mm512_storeu_ps(dst + (8 + j) * ldd, _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd));
    }
}

void fastnn_spack_transposed_avx512(ptrdiff_t kc, const float *src, ptrdiff_t ld, int w, float *dst)
{
    if (w % 16) {
        fastnn_spack_transposed_avx2(kc, src, ld, w, dst);
        return;
    }
    ptrdiff_t k_blocked = kc - kc % 16;
    for (int r0 = 0; r0 < w; r0 += 16)
        for (ptrdiff_t p0 = 0; p0 < k_blocked; p0 += 16)
            transpose_16x16_avx512(src + r0 * ld + p0, ld, dst + p0 * w + r0, w);
    for (int r = 0; r < w; r++) /* k's tail */
        for (ptrdiff_t p = k_blocked; p < kc; p++) dst[p * w + r] = src[r * ld + p];
}
