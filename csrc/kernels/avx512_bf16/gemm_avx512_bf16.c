/* AVX512-BF16 GEMM kernels: float32 operands packed to bf16 pairs, products by VDPBF16PS (per
 * lane, two bf16 products added into a float32 accumulator: twice a float32 FMA's work for the
 * same issue slot), C and everything after the dot products in float32.
 *
 * The micro-kernel holds an MR x 32 tile of C in 2 * MR zmm accumulators; per pair of k steps it
 * loads two vectors of B's pairs and broadcasts each row's pair of A. */
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma")
#include <immintrin.h>
#include <string.h>

#include "kernel_context.h"
#include "kernels/dot_tile.h"

#define NR 32
/* Both blockings below share these: a k pass ends at the same k for either, so a row's sums come
 * out in the same order (and bits) whichever tile computes it. Their choice is argued at the wide
 * blocking. */
#define KC 1024
#define NC 256
/* B's panel streams from L2: fetched this many bf16 values (8 pairs of k steps) ahead */
#define B_PREFETCH (16 * NR)

static inline __m512bh pair_broadcast(const fastnn_bf16 *pair)
{
    int32_t bits;
    memcpy(&bits, pair, sizeof bits);
    return (__m512bh)_mm512_set1_epi32(bits);
}

/* One line of a fetch stream (kernel_context.h's fastnn_fetch_lines) */
static inline void fetch_next_line(fastnn_fetch_lines *f)
{
    _mm_prefetch(f->row + 64 * f->line, _MM_HINT_T0);
    f->count--;
    if (++f->line == f->per_row) {
        f->line = 0;
        f->row += f->stride;
    }
}

/* The MR x 32 register tile, for each MR the blockings below use: inlined into the plain kernel
 * (ahead NULL: no fetching code) and the fetching one, which takes a line of its streams every
 * `every` pairs of k steps. */
#define DEFINE_BF16_TILE(MR)                                                                      \
    static inline __attribute__((always_inline)) void bf16_tile_##MR##x32(                        \
        ptrdiff_t k, const fastnn_bf16 *a, const fastnn_bf16 *b, float *c, ptrdiff_t ldc,         \
        float alpha, float beta, const fastnn_fetch_lines *ahead)                                 \
    {                                                                                             \
        __m512 acc[MR][2];                                                                        \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] =             \
            _mm512_setzero_ps();                                                                  \
        ptrdiff_t pairs = (k + 1) / 2;                                                            \
        fastnn_fetch_lines first = {0}, second = {0};                                             \
        ptrdiff_t every = pairs + 1, tick = 0;                                                    \
        if (ahead) {                                                                              \
            first = ahead[0], second = ahead[1];                                                  \
            ptrdiff_t lines = first.count + second.count;                                         \
            if (lines > 0)                                                                        \
                every = pairs / lines > 1 ? pairs / lines : 1;                                    \
        }                                                                                         \
        _Pragma("GCC unroll 2") for (ptrdiff_t q = 0; q < pairs; q++, a += 2 * MR, b += 2 * NR)   \
        {                                                                                         \
            if (ahead && ++tick >= every) {                                                       \
                tick = 0;                                                                         \
                if (first.count > 0)                                                              \
                    fetch_next_line(&first);                                                      \
                else if (second.count > 0)                                                        \
                    fetch_next_line(&second);                                                     \
            }                                                                                     \
            _mm_prefetch((const char *)(b + B_PREFETCH), _MM_HINT_T0);                            \
            _mm_prefetch((const char *)(b + B_PREFETCH + 32), _MM_HINT_T0);                       \
            __m512bh b0 = (__m512bh)_mm512_loadu_si512(b);                                        \
            __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + 32);                                   \
            _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                                 \
            {                                                                                     \
                __m512bh ai = pair_broadcast(a + 2 * i);                                          \
                acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);                                  \
                acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);                                  \
            }                                                                                     \
        }                                                                                         \
        __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);                             \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++, c += ldc)                           \
        {                                                                                         \
            __m512 r0 = _mm512_mul_ps(va, acc[i][0]), r1 = _mm512_mul_ps(va, acc[i][1]);          \
            if (beta != 0) {                                                                      \
                r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c), r0);                                 \
                r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + 16), r1);                            \
            }                                                                                     \
            _mm512_storeu_ps(c, r0);                                                              \
            _mm512_storeu_ps(c + 16, r1);                                                         \
        }                                                                                         \
    }                                                                                             \
    static void bf16gemm_avx512_bf16_##MR##x32(ptrdiff_t k, const fastnn_bf16 *a,                \
                                               const fastnn_bf16 *b, ptrdiff_t rs_b, float *c,    \
                                               ptrdiff_t ldc, float alpha, float beta)            \
    {                                                                                             \
        (void)rs_b;                                                                               \
        bf16_tile_##MR##x32(k, a, b, c, ldc, alpha, beta, NULL);                                  \
    }                                                                                             \
    static void bf16gemm_avx512_bf16_##MR##x32_fetching(                                          \
        ptrdiff_t k, const fastnn_bf16 *a, const fastnn_bf16 *b, float *c, ptrdiff_t ldc,         \
        float alpha, float beta, const fastnn_fetch_lines ahead[2])                               \
    {                                                                                             \
        bf16_tile_##MR##x32(k, a, b, c, ldc, alpha, beta, ahead);                                 \
    }
DEFINE_BF16_TILE(12)
DEFINE_BF16_TILE(8)

/* How far ahead the packers fetch their source: k steps for the interleaving packer (rows far
 * apart), 16-step blocks along each row for the transposing one (a dozen streams at once). */
#define PREFETCH_STEPS 8
#define PREFETCH_BLOCKS 4

static inline __mmask16 first_lanes_16(ptrdiff_t n) { return n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1); }

/* After VCVTNE2PS2BF16 of (odd, even), columns 0-15 of step 2q sit in lanes 0-15, of step 2q+1 in
 * 16-31: this interleaves them into pairs. */
static inline __m512i pairs_of_steps(__m512 even, __m512 odd)
{
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10,
                                                25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3,
                                                18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(odd, even));
}

/* Panels of 8 (the narrow tiles' A) from k steps of consecutive values (step p at src + p * ld),
 * two panels to a vector, its halves stored one into each, by blocks of 16 steps, 16 columns at
 * a time (see pack_interleaved_avx512_bf16), for source type S: STEP_PAIRS(row, ld, lanes, odd)
 * gives the pairs of 16 columns of steps `row` and row + ld (zeros for it unless `odd`). */
#define DEFINE_PACK_PANELS_OF_8(S, STEP_PAIRS)                                                    \
    static void pack_panels_of_8_##S##_avx512_bf16(ptrdiff_t kc, const S *src, ptrdiff_t ld,      \
                                                  ptrdiff_t panels, fastnn_bf16 *dst)             \
    {                                                                                             \
        ptrdiff_t panel_size = 8 * (kc + (kc & 1)), columns = panels * 8;                         \
        for (ptrdiff_t p0 = 0; p0 < kc; p0 += 16) {                                               \
            ptrdiff_t p_end = kc - p0 < 16 ? kc : p0 + 16;                                        \
            for (ptrdiff_t p = p0 + 16; p < p0 + 32 && p < kc; p++) /* rows far apart */          \
                for (ptrdiff_t j = 0; j < columns; j += 64 / (ptrdiff_t)sizeof(S))                \
                    _mm_prefetch((const char *)(src + p * ld + j), _MM_HINT_T0);                  \
            for (ptrdiff_t j = 0; j < columns; j += 16) {                                         \
                __mmask16 lanes = first_lanes_16(columns - j);                                    \
                fastnn_bf16 *out = dst + j / 8 * panel_size + p0 * 8;                             \
                for (ptrdiff_t p = p0; p < p_end; p += 2, out += 16) {                            \
                    __m512i pairs = STEP_PAIRS(src + p * ld + j, ld, lanes, p + 1 < kc);         \
                    _mm256_storeu_si256((__m256i *)out, _mm512_castsi512_si256(pairs));           \
                    if (lanes == 0xffff)                                                          \
                        _mm256_storeu_si256((__m256i *)(out + panel_size),                        \
                                            _mm512_extracti64x4_epi64(pairs, 1));                 \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }

static inline __m512i float_step_pairs(const float *row, ptrdiff_t ld, __mmask16 lanes, int odd)
{
    return pairs_of_steps(_mm512_maskz_loadu_ps(lanes, row),
                          odd ? _mm512_maskz_loadu_ps(lanes, row + ld) : _mm512_setzero_ps());
}
DEFINE_PACK_PANELS_OF_8(float, float_step_pairs)

/* k steps of consecutive floats (step p at src + p * ld) to pairs of steps interleaved:
 * 16 columns of two steps are rounded by one VCVTNE2PS2BF16 and interleaved by one permute.
 * Two whole rows of the source are read at a time for all the panels, in chunks that never
 * straddle two panels: read panel by panel, rows 4 KiB apart would evict each other from L1
 * before the next panel used the rest of their lines.
 * Panels of 8 (the narrow tiles' A) go two to a vector, its halves stored into each, by blocks
 * of 16 steps, 16 columns at a time: each of the block's 16 source rows gives one 64-byte line,
 * used whole at once, and each panel 8 pairs in a row. Across all the panels a step at a time,
 * they used half of every vector and scattered 32-byte stores 8 KiB apart (one L1 set): one Zen 5
 * core, 512 steps x 128 columns from L2, 22 -> 56 GB/s. (Panels of 32 so: 49-52 GB/s against
 * 54-62 for a 1 MiB panel, kept the first way.) */
static void pack_interleaved_avx512_bf16(ptrdiff_t kc, const float *src, ptrdiff_t ld, int w,
                                         ptrdiff_t panels, fastnn_bf16 *dst)
{
    ptrdiff_t panel_size = (ptrdiff_t)w * (kc + (kc & 1)), columns = panels * w;
    if (w == 8) {
        pack_panels_of_8_float_avx512_bf16(kc, src, ld, panels, dst);
        return;
    }
    for (ptrdiff_t p = 0; p < kc; p += 2, src += 2 * ld, dst += 2 * w) {
        int second = p + 1 < kc;
        if (p + PREFETCH_STEPS + 1 < kc) /* short rows far apart: the hardware does not see it */
            for (ptrdiff_t j = 0; j < columns; j += 16) {
                _mm_prefetch((const char *)(src + PREFETCH_STEPS * ld + j), _MM_HINT_T0);
                _mm_prefetch((const char *)(src + (PREFETCH_STEPS + 1) * ld + j), _MM_HINT_T0);
            }
        for (ptrdiff_t panel = 0; panel < panels; panel++) {
            const float *even_row = src + panel * w, *odd_row = even_row + ld;
            fastnn_bf16 *out = dst + panel * panel_size;
            for (int j = 0; j < w; j += 16) {
                int n = w - j < 16 ? w - j : 16;
                __mmask16 lanes = first_lanes_16(n);
                __m512 even = _mm512_maskz_loadu_ps(lanes, even_row + j);
                __m512 odd = second ? _mm512_maskz_loadu_ps(lanes, odd_row + j) : _mm512_setzero_ps();
                __m512i pairs = pairs_of_steps(even, odd);
                __mmask32 halves = n == 16 ? 0xffffffffu : (__mmask32)((1ull << (2 * n)) - 1);
                _mm512_mask_storeu_epi16(out + 2 * j, halves, pairs);
            }
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
 * row's 16 steps rounded to 8 pairs (dwords), then an 8 x 8 dword transposition. Rows past w are
 * zeros and not stored; past kc, the masked load reads zeros, which also pad an odd kc's last
 * pair. */
static void pack_transposed_panel(ptrdiff_t kc, const float *src, ptrdiff_t ld, int w,
                                  fastnn_bf16 *dst)
{
    ptrdiff_t pairs = (kc + 1) / 2;
    for (int r0 = 0; r0 < w; r0 += 8) {
        __mmask8 rows = w - r0 >= 8 ? 0xff : (__mmask8)((1u << (w - r0)) - 1);
        for (ptrdiff_t p0 = 0; p0 < kc; p0 += 16) {
            __mmask16 steps = first_lanes_16(kc - p0);
            __m256i block[8];
            for (int i = 0; i < 8; i++) {
                if (r0 + i >= w) {
                    block[i] = _mm256_setzero_si256();
                    continue;
                }
                const float *row = src + (r0 + i) * ld + p0;
                _mm_prefetch((const char *)(row + 16 * PREFETCH_BLOCKS), _MM_HINT_T0);
                block[i] = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(steps, row));
            }
            transpose_8x8_epi32(block);
            ptrdiff_t q_end = pairs - p0 / 2 < 8 ? pairs - p0 / 2 : 8;
            for (ptrdiff_t q = 0; q < q_end; q++)
                _mm256_mask_storeu_epi32(dst + (p0 / 2 + q) * 2 * w + 2 * r0, rows, block[q]);
        }
    }
}

/* The same for panels of 12 rows (the 12 x 32 tiles' A), in whole zmm: rows 2g and 2g+1 rounded
 * by one VCVTNE2PS2BF16 into z[g] (8 pairs of each), and the 12 x 8 pairs of a 16-step block, 96
 * dwords pair-major, make 6 vectors, each gathered from the three groups of four rows by three
 * two-source permutes (one index vector serves all three) and two blends. Half the instructions
 * of the 8 x 8 transpositions, which also spent a third of their second block on the 4 rows past
 * 12 (one Zen 5 core, a 120 x 512 block in L2: 72-79 GB/s read against 53-66). */
#define PANEL_ROWS 12
#define ROW_GROUPS (PANEL_ROWS / 4)
#define BLOCK_VECTORS (PANEL_ROWS / 2) /* 16-lane vectors of a block's 12 x 8 pairs */

struct panel_transpose {
    __m512i index[BLOCK_VECTORS];
    __mmask16 group[BLOCK_VECTORS][ROW_GROUPS];
};

static struct panel_transpose panel_transpose_plan(void)
{
    struct panel_transpose plan;
    for (int v = 0; v < BLOCK_VECTORS; v++) {
        int32_t lanes[16];
        for (int g = 0; g < ROW_GROUPS; g++) plan.group[v][g] = 0;
        for (int l = 0; l < 16; l++) {
            int out = 16 * v + l, q = out / PANEL_ROWS, r = out % PANEL_ROWS;
            lanes[l] = (r % 4) * 8 + q; /* in (z[2g], z[2g+1]): row r % 4 of the group, pair q */
            plan.group[v][r / 4] |= (__mmask16)(1u << l);
        }
        plan.index[v] = _mm512_loadu_si512(lanes);
    }
    return plan;
}

static void pack_transposed_12_panel(const struct panel_transpose *plan, ptrdiff_t kc,
                                     const float *src, ptrdiff_t ld, fastnn_bf16 *dst)
{
    ptrdiff_t pairs = (kc + 1) / 2;
    for (ptrdiff_t p0 = 0; p0 < kc; p0 += 16) {
        __mmask16 steps = first_lanes_16(kc - p0);
        __m512i z[BLOCK_VECTORS];
        for (int g = 0; g < BLOCK_VECTORS; g++) {
            const float *even = src + 2 * g * ld + p0, *odd = even + ld;
            _mm_prefetch((const char *)(even + 16 * PREFETCH_BLOCKS), _MM_HINT_T0);
            _mm_prefetch((const char *)(odd + 16 * PREFETCH_BLOCKS), _MM_HINT_T0);
            z[g] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(steps, odd),
                                                _mm512_maskz_loadu_ps(steps, even));
        }
        /* whole dwords of this block in the panel: 12 a pair, as many pairs as are left */
        ptrdiff_t dwords = PANEL_ROWS * (pairs - p0 / 2 < 8 ? pairs - p0 / 2 : 8);
        int32_t *out = (int32_t *)(dst + p0 * PANEL_ROWS);
        for (int v = 0; v < BLOCK_VECTORS && 16 * v < dwords; v++) {
            __m512i x = _mm512_permutex2var_epi32(z[0], plan->index[v], z[1]);
            for (int g = 1; g < ROW_GROUPS; g++)
                x = _mm512_mask_blend_epi32(plan->group[v][g], x,
                                            _mm512_permutex2var_epi32(z[2 * g], plan->index[v],
                                                                      z[2 * g + 1]));
            _mm512_mask_storeu_epi32(out + 16 * v, first_lanes_16(dwords - 16 * v), x);
        }
    }
}

static void pack_transposed_avx512_bf16(ptrdiff_t kc, const float *src, ptrdiff_t ld, int w,
                                        ptrdiff_t panels, fastnn_bf16 *dst)
{
    if (w == PANEL_ROWS) {
        struct panel_transpose plan = panel_transpose_plan();
        for (ptrdiff_t i = 0; i < panels; i++)
            pack_transposed_12_panel(&plan, kc, src + i * PANEL_ROWS * ld, ld,
                                     dst + i * PANEL_ROWS * (kc + (kc & 1)));
        return;
    }
    for (ptrdiff_t i = 0; i < panels; i++)
        pack_transposed_panel(kc, src + i * w * ld, ld, w, dst + i * w * (kc + (kc & 1)));
}

/* The packers from operands stored in bf16 (kernel_context.h's fastnn_bf16_pack_from_bf16):
 * nothing to round, half the bytes of float32 to read. */

static inline __mmask32 first_lanes_32(ptrdiff_t n)
{
    return n >= 32 ? 0xffffffffu : (__mmask32)((1u << n) - 1);
}

/* Two k steps of 16 columns into their 16 pairs: each value widened to a dword, the odd step's
 * into the upper half. */
static inline __m512i pairs_of_bf16_steps(__m256i even, __m256i odd)
{
    return _mm512_or_si512(_mm512_cvtepu16_epi32(even),
                           _mm512_slli_epi32(_mm512_cvtepu16_epi32(odd), 16));
}

static inline __m512i bf16_step_pairs(const fastnn_bf16 *row, ptrdiff_t ld, __mmask16 lanes,
                                      int odd)
{
    return pairs_of_bf16_steps(_mm256_maskz_loadu_epi16(lanes, row),
                               odd ? _mm256_maskz_loadu_epi16(lanes, row + ld)
                                   : _mm256_setzero_si256());
}
DEFINE_PACK_PANELS_OF_8(fastnn_bf16, bf16_step_pairs)
#undef DEFINE_PACK_PANELS_OF_8

/* k steps of consecutive values (step p at src + p * ld), by blocks of 16 steps, panel by panel:
 * each panel gets its block's 8 pairs in a run (w x 32 bytes), where a step at a time across the
 * panels would scatter short stores over panels KC x w apart (the same few L1 sets); the block's
 * 16 source rows keep their lines in L1 while the panels beside take the rest of them. */
static void pack_interleaved_from_bf16_avx512_bf16(ptrdiff_t kc, const fastnn_bf16 *src,
                                                   ptrdiff_t ld, int w, ptrdiff_t panels,
                                                   fastnn_bf16 *dst)
{
    if (w == 8) {
        pack_panels_of_8_fastnn_bf16_avx512_bf16(kc, src, ld, panels, dst);
        return;
    }
    ptrdiff_t panel_size = (ptrdiff_t)w * (kc + (kc & 1)), columns = panels * w;
    for (ptrdiff_t p0 = 0; p0 < kc; p0 += 16) {
        ptrdiff_t p_end = kc - p0 < 16 ? kc : p0 + 16;
        for (ptrdiff_t p = p0 + 16; p < p0 + 32 && p < kc; p++) /* rows far apart */
            for (ptrdiff_t j = 0; j < columns; j += 32)
                _mm_prefetch((const char *)(src + p * ld + j), _MM_HINT_T0);
        for (ptrdiff_t panel = 0; panel < panels; panel++) {
            fastnn_bf16 *out = dst + panel * panel_size + p0 * w;
            for (ptrdiff_t p = p0; p < p_end; p += 2, out += 2 * w) {
                const fastnn_bf16 *even_row = src + p * ld + panel * w, *odd_row = even_row + ld;
                for (int j = 0; j < w; j += 16) {
                    __mmask16 lanes = first_lanes_16(w - j);
                    __m256i even = _mm256_maskz_loadu_epi16(lanes, even_row + j);
                    __m256i odd = p + 1 < kc ? _mm256_maskz_loadu_epi16(lanes, odd_row + j)
                                             : _mm256_setzero_si256();
                    _mm512_mask_storeu_epi32(out + 2 * j, lanes, pairs_of_bf16_steps(even, odd));
                }
            }
        }
    }
}

/* w rows contiguous along k (row r at src + r * ld): a k pair is already a dword, so a panel is
 * the rows' dwords transposed, by blocks of 8 rows x 32 steps (one line of each row) in two
 * 8 x 8 dword transpositions. Past kc the masked load reads zeros, which also complete an odd
 * kc's last pair; rows past w are not read. */
static void pack_transposed_from_bf16_avx512_bf16(ptrdiff_t kc, const fastnn_bf16 *src,
                                                  ptrdiff_t ld, int w, ptrdiff_t panels,
                                                  fastnn_bf16 *dst)
{
    ptrdiff_t pairs = (kc + 1) / 2, panel_size = (ptrdiff_t)w * 2 * pairs;
    for (ptrdiff_t i = 0; i < panels; i++, src += w * ld, dst += panel_size)
        for (ptrdiff_t p0 = 0; p0 < kc; p0 += 32) {
            __mmask32 steps = first_lanes_32(kc - p0);
            ptrdiff_t q_end = pairs - p0 / 2 < 16 ? pairs - p0 / 2 : 16;
            for (int r0 = 0; r0 < w; r0 += 8) {
                __mmask8 rows = w - r0 >= 8 ? 0xff : (__mmask8)((1u << (w - r0)) - 1);
                __m256i lo[8], hi[8];
                for (int r = 0; r < 8; r++) {
                    if (r0 + r >= w) {
                        lo[r] = hi[r] = _mm256_setzero_si256();
                        continue;
                    }
                    const fastnn_bf16 *row = src + (r0 + r) * ld + p0;
                    _mm_prefetch((const char *)(row + 32 * PREFETCH_BLOCKS), _MM_HINT_T0);
                    __m512i v = _mm512_maskz_loadu_epi16(steps, row);
                    lo[r] = _mm512_castsi512_si256(v);
                    hi[r] = _mm512_extracti64x4_epi64(v, 1);
                }
                transpose_8x8_epi32(lo);
                transpose_8x8_epi32(hi);
                fastnn_bf16 *out = dst + p0 * w + 2 * r0; /* pair p0 / 2 of row r0 */
                for (ptrdiff_t q = 0; q < q_end; q++)
                    _mm256_mask_storeu_epi32(out + q * 2 * w, rows, q < 8 ? lo[q] : hi[q - 8]);
            }
        }
}

/* The dot-product kernel for a few rows of X W^T: A and B rows read where they are, 32 floats of
 * each at a time rounded to bf16 by one VCVTNE2PS2BF16 (the same rounding as the packers), a 4 x 4
 * tile of C in 16 accumulators. Both operands pair their k steps alike, so VDPBF16PS multiplies
 * matching pairs; rows past the tile's edge repeat the last (not stored), the k tail is a masked
 * load of zeros. */
#define DOT_M 4
#define DOT_N 4
/* up to this many rows the dot kernel beats converting W into panels (measured, X W^T into 1024
 * outputs from 784, GFLOP/s dot against packed: 1 row 31 against 15, 8 rows 130 against 107,
 * 16 rows 136 against 168) */
#define DOT_MAX_ROWS 12

/* 32 values of a row from step p, as bf16: loaded where the row is stored in bf16, else rounded
 * from float32 by one VCVTNE2PS2BF16; either way in the order of k, so that a stored operand's
 * pairs meet the same partners as a rounded one's. */
static inline __m512bh load_pairs(const char *row, int stored, ptrdiff_t p, __mmask16 lo,
                                  __mmask16 hi)
{
    if (stored)
        return (__m512bh)_mm512_maskz_loadu_epi16(lo | (__mmask32)hi << 16,
                                                  (const fastnn_bf16 *)row + p);
    const float *x = (const float *)row + p;
    return _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, x + 16), _mm512_maskz_loadu_ps(lo, x));
}

static inline __attribute__((always_inline)) void bf16_dot_tile_4x4(
    ptrdiff_t k, const void *a, int a_stored, ptrdiff_t lda, ptrdiff_t rows, const void *b,
    int b_stored, ptrdiff_t ldb, ptrdiff_t cols, float *c, ptrdiff_t ldc, float alpha, float beta)
{
    ptrdiff_t a_bytes = a_stored ? 2 : 4, b_bytes = b_stored ? 2 : 4;
    const char *ar[DOT_M], *br[DOT_N];
    for (int i = 0; i < DOT_M; i++)
        ar[i] = (const char *)a + (i < rows ? i : rows - 1) * lda * a_bytes;
    for (int j = 0; j < DOT_N; j++)
        br[j] = (const char *)b + (j < cols ? j : cols - 1) * ldb * b_bytes;
    __m512 acc[DOT_M][DOT_N];
    _Pragma("GCC unroll 4") for (int i = 0; i < DOT_M; i++)
        _Pragma("GCC unroll 4") for (int j = 0; j < DOT_N; j++) acc[i][j] = _mm512_setzero_ps();
    for (ptrdiff_t p = 0; p < k; p += 32) {
        __mmask16 lo = first_lanes_16(k - p), hi = k - p > 16 ? first_lanes_16(k - p - 16) : 0;
        __m512bh av[DOT_M], bv[DOT_N];
        _Pragma("GCC unroll 4") for (int i = 0; i < DOT_M; i++)
            av[i] = load_pairs(ar[i], a_stored, p, lo, hi);
        _Pragma("GCC unroll 4") for (int j = 0; j < DOT_N; j++)
            bv[j] = load_pairs(br[j], b_stored, p, lo, hi);
        _Pragma("GCC unroll 4") for (int i = 0; i < DOT_M; i++)
            _Pragma("GCC unroll 4") for (int j = 0; j < DOT_N; j++)
                acc[i][j] = _mm512_dpbf16_ps(acc[i][j], av[i], bv[j]);
    }
    __m256 half[DOT_M * DOT_N];
    for (int t = 0; t < DOT_M * DOT_N; t++) {
        __m512 v = acc[t / DOT_N][t % DOT_N];
        half[t] = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    }
    float sums[DOT_M * DOT_N];
    _mm256_storeu_ps(sums, fastnn_sum_lanes_8x8(half));
    _mm256_storeu_ps(sums + 8, fastnn_sum_lanes_8x8(half + 8));
    for (ptrdiff_t i = 0; i < rows; i++)
        for (ptrdiff_t j = 0; j < cols; j++) {
            float sum = alpha * sums[i * DOT_N + j];
            c[i * ldc + j] = beta == 0 ? sum : sum + beta * c[i * ldc + j];
        }
}

static void sgemm_bf16_dot_avx512_bf16_4x4(ptrdiff_t k, const float *a, ptrdiff_t lda,
                                           ptrdiff_t rows, const float *b, ptrdiff_t ldb,
                                           ptrdiff_t cols, float *c, ptrdiff_t ldc, float alpha,
                                           float beta)
{
    bf16_dot_tile_4x4(k, a, 0, lda, rows, b, 0, ldb, cols, c, ldc, alpha, beta);
}

/* The same where either operand is stored in bf16: one copy of the tile per storage pair. */
static void bf16_dot_stored_avx512_bf16_4x4(ptrdiff_t k, const void *a, int a_is_bf16,
                                            ptrdiff_t lda, ptrdiff_t rows, const void *b,
                                            int b_is_bf16, ptrdiff_t ldb, ptrdiff_t cols,
                                            float *c, ptrdiff_t ldc, float alpha, float beta)
{
    if (a_is_bf16 && b_is_bf16)
        bf16_dot_tile_4x4(k, a, 1, lda, rows, b, 1, ldb, cols, c, ldc, alpha, beta);
    else if (a_is_bf16)
        bf16_dot_tile_4x4(k, a, 1, lda, rows, b, 0, ldb, cols, c, ldc, alpha, beta);
    else if (b_is_bf16)
        bf16_dot_tile_4x4(k, a, 0, lda, rows, b, 1, ldb, cols, c, ldc, alpha, beta);
    else
        bf16_dot_tile_4x4(k, a, 0, lda, rows, b, 0, ldb, cols, c, ldc, alpha, beta);
}

/* 8 x 32 for products of few rows that 12 tiles badly: 64 rows are 8 full tiles instead of 5 and
 * a third of one, whose rows are packed one value at a time and computed in full for nothing.
 * Measured on one Zen 5 core, 256 x 256 bf16 weights: 64 rows took 24.3 us against 19.9 for 60
 * and 22.9 for 72 with 12 x 32 tiles. The L2-streaming argument for 12 rows (above) does not
 * bind at these sizes: B's panel is a few KiB. MC is a multiple of 8. */
static const fastnn_bf16gemm_blocking narrow_tiles = {
    .mr = 8, .nr = NR, .kc = KC, .mc = 128, .nc = NC, .ukernel = bf16gemm_avx512_bf16_8x32,
    .ukernel_fetching = bf16gemm_avx512_bf16_8x32_fetching,
    .pack_transposed = pack_transposed_avx512_bf16,
    .pack_interleaved = pack_interleaved_avx512_bf16,
    .pack_transposed_from_bf16 = pack_transposed_from_bf16_avx512_bf16,
    .pack_interleaved_from_bf16 = pack_interleaved_from_bf16_avx512_bf16,
    .dot_mr = DOT_M, .dot_nr = DOT_N, .dot_max_rows = DOT_MAX_ROWS,
    .dot_ukernel = sgemm_bf16_dot_avx512_bf16_4x4,
    .dot_ukernel_stored = bf16_dot_stored_avx512_bf16_4x4,
};

/* 12 x 32 floats of C: 24 accumulators, enough independent chains for two VDPBF16PS pipes of
 * latency 6 with room to spare; measured on the L1-resident kernel alone (Zen 5): 523 GFLOP/s
 * against the probe's 540. The 8 x 32 tile (narrow_tiles) has fewer flops per load of B; the loop
 * nest takes it where it pads fewer rows, which includes m = 256, 784 and 1024: measured there level
 * with 12 x 32 for A.B and A.B^T and faster for A^T.B (n = 1024, one Zen 5 core).
 * The KC x NC panel of B (512 KiB in bf16) stays in a 1 MiB L2 while the 12 x KC micro-panels of A
 * stream past it. KC = 1024 makes a depth up to 1024 one pass over C: C is written once, never read
 * back (4 MiB of float32 at n = 1024, from memory), and the loop nest packs A once for all the
 * panels of B, so NC need not cover the product's columns. Measured on one Zen 5 core at n = 1024,
 * interleaved, against KC = 512, NC = 512 (which was 3-4% faster than KC = 256, NC = 1024): A.B
 * and A.B^T 3-4% faster, A^T.B 1%. MC is a multiple of MR, as the packing buffer's size assumes. */
const fastnn_bf16gemm_blocking fastnn_bf16gemm_avx512_bf16 = {
    .mr = 12, .nr = NR, .kc = KC, .mc = 120, .nc = NC, .ukernel = bf16gemm_avx512_bf16_12x32,
    .ukernel_fetching = bf16gemm_avx512_bf16_12x32_fetching,
    .pack_transposed = pack_transposed_avx512_bf16,
    .pack_interleaved = pack_interleaved_avx512_bf16,
    .pack_transposed_from_bf16 = pack_transposed_from_bf16_avx512_bf16,
    .pack_interleaved_from_bf16 = pack_interleaved_from_bf16_avx512_bf16,
    .dot_mr = DOT_M, .dot_nr = DOT_N, .dot_max_rows = DOT_MAX_ROWS,
    .dot_ukernel = sgemm_bf16_dot_avx512_bf16_4x4,
    .dot_ukernel_stored = bf16_dot_stored_avx512_bf16_4x4,
    .narrow = &narrow_tiles,
};
