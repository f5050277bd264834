/* AVX-512 micro-kernels: 8 x 32 floats and 8 x 16 doubles, i.e. 16 zmm accumulators fed by two
 * vectors of B and eight broadcasts of A per k step. MR = 8 divides the batch sizes MLPs use
 * (16, 32, 64, 256), so small batches waste no rows in edge tiles. */
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
#include <immintrin.h>

#include "kernel_context.h"
#include "kernels/dot_tile.h"
#include "kernels/register_tile.h"

#define MR 8

FASTNN_DEFINE_REGISTER_TILE_UKERNEL(sgemm_avx512_8x32, float, __m512, 16, _mm512_set1_ps,
                                    _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps,
                                    _mm512_fmadd_ps, _mm512_mul_ps)
FASTNN_DEFINE_REGISTER_TILE_UKERNEL(dgemm_avx512_8x16, double, __m512d, 8, _mm512_set1_pd,
                                    _mm512_setzero_pd, _mm512_loadu_pd, _mm512_storeu_pd,
                                    _mm512_fmadd_pd, _mm512_mul_pd)
FASTNN_DEFINE_HALF_TILE_UKERNEL(sgemm_avx512_8x16, float, __m512, 16, _mm512_set1_ps,
                                _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps,
                                _mm512_fmadd_ps, _mm512_mul_ps)
FASTNN_DEFINE_HALF_TILE_UKERNEL(dgemm_avx512_8x8, double, __m512d, 8, _mm512_set1_pd,
                                _mm512_setzero_pd, _mm512_loadu_pd, _mm512_storeu_pd,
                                _mm512_fmadd_pd, _mm512_mul_pd)

/* The 8 x 32 kernel that also packs a share of B's next micro-panel
 * (fastnn_sgemm_packing_ukernel): one k step of it (32 floats: 2 loads, 2 stores) every
 * PACKING_B_EVERY k steps of the product (each: 2 loads of B, 8 broadcasts of A, 16 multiply-adds,
 * 8 cycles at two FMAs a cycle), any steps left over after the loop. Every accumulator sees the
 * operations of sgemm_avx512_8x32 in the same order, so C is the same bit for bit. The loop nest
 * spreads each micro-panel over PACKING_B_EVERY tiles of rows (.packing_b_tiles), a quarter of
 * it a call: copying all of it in one call (a k step each k step: 6 line fills per 8 cycles with
 * B's own) made that call 1.8x a plain one (perf shares, 256 x 1024 x 1024, Zen 5), a quarter
 * 1.15x; 2 or 8 tiles measured as 4; fetching the source 16 k steps ahead changed nothing. */
#define PACKING_B_EVERY 4
static void sgemm_avx512_8x32_packing_b(ptrdiff_t k, const float *a, const float *b, float *c,
                                        ptrdiff_t ldc, float alpha, float beta, const float *src,
                                        ptrdiff_t ld_src, float *restrict dst, ptrdiff_t copy_rows)
{
    __m512 acc[MR][2];
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    ptrdiff_t p = 0;
    for (; p + PACKING_B_EVERY <= k; p += PACKING_B_EVERY) {
        if (copy_rows > 0) {
            __m512 s0 = _mm512_loadu_ps(src), s1 = _mm512_loadu_ps(src + 16);
            _mm512_storeu_ps(dst, s0);
            _mm512_storeu_ps(dst + 16, s1);
            src += ld_src, dst += 32, copy_rows--;
        }
        FASTNN_REGISTER_TILE_STEPS(MR, __m512, 16, _mm512_set1_ps, _mm512_loadu_ps,
                                   _mm512_fmadd_ps, acc, PACKING_B_EVERY, a, b, 32);
    }
    FASTNN_REGISTER_TILE_STEPS(MR, __m512, 16, _mm512_set1_ps, _mm512_loadu_ps, _mm512_fmadd_ps,
                               acc, k - p, a, b, 32);
    for (; copy_rows > 0; copy_rows--, src += ld_src, dst += 32) {
        _mm512_storeu_ps(dst, _mm512_loadu_ps(src));
        _mm512_storeu_ps(dst + 16, _mm512_loadu_ps(src + 16));
    }
    FASTNN_REGISTER_TILE_STORE(__m512, 16, _mm512_set1_ps, _mm512_loadu_ps, _mm512_storeu_ps,
                               _mm512_fmadd_ps, _mm512_mul_ps, acc, c, ldc, alpha, beta)
}

/* Dot-product kernels for X W^T at small batches (up to 32 rows, where they beat transposing W
 * into panels) and into a few columns: a 4 x 4 tile of C in 16 accumulators
 * (kernels/dot_tile.h), 4 rows of A and 4 of B loaded per k step. */
#define DOT_M 4
#define DOT_N 4
#define TAIL_MASK_16(r) ((__mmask16)((1u << (r)) - 1))
#define TAIL_MASK_8(r) ((__mmask8)((1u << (r)) - 1))

/* The lane sums of `count` accumulators in order: halves added (zmm to ymm), then horizontal-add
 * trees of eight, a third of the instructions of separate reductions. Each sum depends on its
 * own accumulator alone, so every dot tile that reduces with this sums alike (the same bits). */
static inline void reduce_lanes_f32(const __m512 *acc, int count, float *sums)
{
    for (int t = 0; t < count; t += 8) {
        __m256 half[8];
        for (int u = 0; u < 8; u++) {
            __m512 v = t + u < count ? acc[t + u] : _mm512_setzero_ps();
            half[u] = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
        }
        float group[8];
        _mm256_storeu_ps(group, fastnn_sum_lanes_8x8(half));
        for (int u = 0; u < 8 && t + u < count; u++) sums[t + u] = group[u];
    }
}

/* The DOT_M x DOT_N sums of a float32 dot tile, row-major (DOT_M and DOT_N as where the tile's
 * kernel is defined) */
#define REDUCE_TILE_F32(acc, sums) reduce_lanes_f32(&(acc)[0][0], DOT_M * DOT_N, (sums))

static inline void reduce_tile_f64(__m512d acc[DOT_M][DOT_N], double sums[DOT_M * DOT_N])
{
    for (int t = 0; t < DOT_M * DOT_N; t++) sums[t] = _mm512_reduce_add_pd(acc[t / DOT_N][t % DOT_N]);
}

FASTNN_DEFINE_DOT_UKERNEL(sgemm_dot_avx512_4x4, float, __m512, 16, __mmask16, TAIL_MASK_16,
                          _mm512_setzero_ps, _mm512_loadu_ps, _mm512_maskz_loadu_ps,
                          _mm512_fmadd_ps, REDUCE_TILE_F32)
FASTNN_DEFINE_DOT_UKERNEL(dgemm_dot_avx512_4x4, double, __m512d, 8, __mmask8, TAIL_MASK_8,
                          _mm512_setzero_pd, _mm512_loadu_pd, _mm512_maskz_loadu_pd,
                          _mm512_fmadd_pd, reduce_tile_f64)

/* A wider dot tile for products of 5 to 10 columns (kernel_context.h: dot_wide_ukernel): 4 rows
 * x 5 columns in 20 accumulators, 4 rows of A and 5 of B loaded per k step (9 loads for 20 FMAs,
 * the 4 x 4 tile's 8 for 16). S = H W^T of a layer into 10 outputs took three 4-column groups,
 * each reading H whole (1 MiB at B = 256, 4 at 1024, from L3 in a step); two 5-column groups
 * read it twice. A 2 x 10 tile reading H once ran slower: W's 10 rows (40 KiB at k = 1024) and
 * H's rows do not stay together in a 48 KiB L1 (B = 256: 0.039 -> 0.052-0.064 ms). Measured on
 * one Zen 5 core, builds alternated (benchmarks/skinny_products.py, H from L3, three pairs):
 * B = 256 0.038-0.039 -> 0.032-0.033 ms, B = 1024 0.151-0.168 -> 0.122-0.134 ms; 5 and 9
 * columns at B = 256 0.028 -> 0.018 and 0.045 -> 0.032 ms. Each sum is the 4 x 4 tile's: the
 * same lanes along k, the same tree across them (reduce_lanes_f32), so either tile gives the
 * same bits. */
#define DOT_WIDE_M 4
#define DOT_WIDE_N 5
#undef DOT_M
#undef DOT_N
#define DOT_M DOT_WIDE_M
#define DOT_N DOT_WIDE_N
FASTNN_DEFINE_DOT_UKERNEL(sgemm_dot_avx512_4x5, float, __m512, 16, __mmask16, TAIL_MASK_16,
                          _mm512_setzero_ps, _mm512_loadu_ps, _mm512_maskz_loadu_ps,
                          _mm512_fmadd_ps, REDUCE_TILE_F32)
#undef DOT_M
#undef DOT_N
#define DOT_M 4
#define DOT_N 4

/* 12 x 32 floats (24 accumulators, 27 of the 32 zmm registers) for products of a few rows that
 * 8-row tiles cover in more tiles with as many padded rows: the loop nest takes it there
 * (gemm_loop_nest.h, TALL_TILES). dW = dS^T H of a layer into 10 outputs ran on two 8-row
 * tiles, 6 of their 16 rows padding, each reading H whole. Measured on the 784-1024-1024-10
 * SGD step's 1024 -> 10 layer, one Zen 5 core shared with other work, that product with its
 * fused update (benchmarks/step_phases.py, the best of four interleaved runs): 0.048 -> 0.034 ms
 * at B = 256, 0.175 -> 0.124 ms at B = 1024 (benchmarks/skinny_products.py, H from L3:
 * 0.047 -> 0.036 and 0.193 -> 0.126 ms). */
#undef MR
#define MR 12
FASTNN_DEFINE_REGISTER_TILE_UKERNEL(sgemm_avx512_12x32, float, __m512, 16, _mm512_set1_ps,
                                    _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps,
                                    _mm512_fmadd_ps, _mm512_mul_ps)
FASTNN_DEFINE_HALF_TILE_UKERNEL(sgemm_avx512_12x16, float, __m512, 16, _mm512_set1_ps,
                                _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps,
                                _mm512_fmadd_ps, _mm512_mul_ps)
/* What the float32 blockings share: packers and dot kernels */
#define SGEMM_AVX512_PACKERS_AND_DOT_TILES                                                        \
    .pack_transposed = fastnn_spack_transposed_avx512, .pack_copy = fastnn_pack_copy_avx512,     \
    .dot_mr = DOT_M, .dot_nr = DOT_N, .dot_max_rows = 32, .dot_ukernel = sgemm_dot_avx512_4x4,   \
    .dot_wide_mr = DOT_WIDE_M, .dot_wide_nr = DOT_WIDE_N, .dot_wide_ukernel = sgemm_dot_avx512_4x5
static const fastnn_sgemm_blocking tall_tiles = {
    .mr = MR, .nr = 32, .kc = 256, .mc = 120, .nc = 512, .ukernel = sgemm_avx512_12x32,
    .half_ukernel = sgemm_avx512_12x16,
    .strided_a_ukernel = sgemm_avx512_12x32_strided_a,
    SGEMM_AVX512_PACKERS_AND_DOT_TILES,
};
#undef MR
#define MR 8

/* An 8 x KC micro-panel of A (8 KiB at KC = 256) stays in L1 while B's KC x NC panel (512 KiB)
 * streams from a 1 MiB L2. */
const fastnn_sgemm_blocking fastnn_sgemm_avx512 = {
    .mr = MR, .nr = 32, .kc = 256, .mc = 128, .nc = 512, .ukernel = sgemm_avx512_8x32,
    .half_ukernel = sgemm_avx512_8x16,
    .strided_a_ukernel = sgemm_avx512_8x32_strided_a,
    .ukernel_packing_b = sgemm_avx512_8x32_packing_b, .packing_b_tiles = PACKING_B_EVERY,
    .tall = &tall_tiles,
    SGEMM_AVX512_PACKERS_AND_DOT_TILES,
};
const fastnn_dgemm_blocking fastnn_dgemm_avx512 = {
    .mr = MR, .nr = 16, .kc = 256, .mc = 128, .nc = 256, .ukernel = dgemm_avx512_8x16,
    .half_ukernel = dgemm_avx512_8x8,
    .strided_a_ukernel = dgemm_avx512_8x16_strided_a,
    .pack_transposed = fastnn_dpack_transposed_avx2, .pack_copy = fastnn_pack_copy_avx512,
    .dot_mr = DOT_M, .dot_nr = DOT_N, .dot_max_rows = 32, .dot_ukernel = dgemm_dot_avx512_4x4,
};
