/* AVX512-BF16 GEMM kernels: float32 operands packed to bf16 pairs, products by VDPBF16PS (per
 * lane, two bf16 products added into a float32 accumulator: twice a float32 FMA's work for the
 * same issue slot), C and everything after the dot products in float32.
 *
 * The micro-kernel holds an MR x 32 tile of C in 2 * MR zmm accumulators; per pair of k steps it
 * loads two vectors of B's pairs and broadcasts each row's pair of A (folded into the
 * instruction as an embedded broadcast). */
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma")
#include <immintrin.h>
#include <string.h>

#include "kernel_context.h"

#define MR 8
#define NR 32

static inline __m512bh pair_broadcast(const fastnn_bf16 *pair)
{
    int32_t bits;
    memcpy(&bits, pair, sizeof bits);
    return (__m512bh)_mm512_set1_epi32(bits);
}

static void bf16gemm_avx512_bf16_8x32(ptrdiff_t k, const fastnn_bf16 *a, const fastnn_bf16 *b,
                                      ptrdiff_t rs_b, float *c, ptrdiff_t ldc, float alpha,
                                      float beta)
{
    (void)rs_b;
    __m512 acc[MR][2];
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    ptrdiff_t pairs = (k + 1) / 2;
    _Pragma("GCC unroll 2") for (ptrdiff_t q = 0; q < pairs; q++, a += 2 * MR, b += 2 * NR)
    {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 32);
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)
        {
            __m512bh ai = pair_broadcast(a + 2 * i);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
        }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++, c += ldc)
    {
        __m512 r0 = _mm512_mul_ps(va, acc[i][0]), r1 = _mm512_mul_ps(va, acc[i][1]);
        if (beta != 0) {
            r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c), r0);
            r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + 16), r1);
        }
        _mm512_storeu_ps(c, r0);
        _mm512_storeu_ps(c + 16, r1);
    }
}

static inline __mmask16 first_lanes_16(ptrdiff_t n) { return n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1); }

/* k steps of w consecutive floats (step p at src + p * ld) to pairs of steps interleaved:
 * 16 columns of two steps are rounded by one VCVTNE2PS2BF16 and interleaved by one permute. */
static void pack_interleaved_avx512_bf16(ptrdiff_t kc, const float *src, ptrdiff_t ld, int w,
                                         fastnn_bf16 *dst)
{
    /* after the conversion, columns 0-15 of step 2q sit in lanes 0-15, of step 2q+1 in 16-31 */
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10,
                                                25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3,
                                                18, 2, 17, 1, 16, 0);
    for (ptrdiff_t p = 0; p < kc; p += 2, src += 2 * ld, dst += 2 * w) {
        int second = p + 1 < kc;
        for (int j = 0; j < w; j += 16) {
            __mmask16 lanes = first_lanes_16(w - j);
            __m512 even = _mm512_maskz_loadu_ps(lanes, src + j);
            __m512 odd = second ? _mm512_maskz_loadu_ps(lanes, src + ld + j) : _mm512_setzero_ps();
            __m512i pairs = _mm512_permutexvar_epi16(interleave,
                                                     (__m512i)_mm512_cvtne2ps_pbh(odd, even));
            __mmask32 halves = w - j >= 16 ? 0xffffffffu : (__mmask32)((1ull << (2 * (w - j))) - 1);
            _mm512_mask_storeu_epi16(dst + 2 * j, halves, pairs);
        }
    }
}

/* 8 rows of 8 dwords (each a bf16 pair) transposed: out[q] holds pair q of the 8 rows. */
static inline void transpose_8x8_epi32(__m256i r[8])
{
    __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
    __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
    __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
    r[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
    r[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
    r[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
    r[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
    r[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
    r[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
    r[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
    r[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

/* w rows contiguous along k (row r at src + r * ld) to pairs: blocks of 8 rows x 16 steps, each
 * row's 16 steps rounded to 8 pairs (dwords), then an 8 x 8 dword transposition. A block past
 * the last row re-reads it and stores only real rows; past kc, the masked load reads zeros,
 * which also pad an odd kc's last pair. */
static void pack_transposed_avx512_bf16(ptrdiff_t kc, const float *src, ptrdiff_t ld, int w,
                                        fastnn_bf16 *dst)
{
    ptrdiff_t pairs = (kc + 1) / 2;
    for (int r0 = 0; r0 < w; r0 += 8) {
        __mmask8 rows = w - r0 >= 8 ? 0xff : (__mmask8)((1u << (w - r0)) - 1);
        for (ptrdiff_t p0 = 0; p0 < kc; p0 += 16) {
            __mmask16 steps = first_lanes_16(kc - p0);
            __m256i block[8];
            for (int i = 0; i < 8; i++) {
                const float *row = src + (r0 + i < w ? r0 + i : w - 1) * ld + p0;
                block[i] = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(steps, row));
            }
            transpose_8x8_epi32(block);
            ptrdiff_t q_end = pairs - p0 / 2 < 8 ? pairs - p0 / 2 : 8;
            for (ptrdiff_t q = 0; q < q_end; q++)
                _mm256_mask_storeu_epi32(dst + (p0 / 2 + q) * 2 * w + 2 * r0, rows, block[q]);
        }
    }
}

/* MR x 32 floats of C: 16 accumulators, enough independent chains for two VDPBF16PS pipes of
 * latency 6. An 8 x KC micro-panel of A in bf16 (8 KiB at KC = 512) stays in L1 while the
 * KC x NC panel of B (512 KiB at NC = 512) streams from a 1 MiB L2: bf16 halves the bytes, so KC
 * doubles against float32's for the same footprint, and C is read and written half as often. */
const fastnn_bf16gemm_blocking fastnn_bf16gemm_avx512_bf16 = {
    .mr = MR, .nr = NR, .kc = 512, .mc = 128, .nc = 512, .ukernel = bf16gemm_avx512_bf16_8x32,
    .pack_transposed = pack_transposed_avx512_bf16,
    .pack_interleaved = pack_interleaved_avx512_bf16,
};
