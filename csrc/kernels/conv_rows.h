/* The convolution by rows (conv_rows_template.h): its two kernels, one source compiled once per
 * instruction set, like conv_gather.h. A file under csrc/kernels/<isa>/ sets its target,
 * includes this and defines its set's table (fastnn_conv_rows_kernels, kernel_context.h).
 *
 * The tile: C (mr x nr, rows ldc apart) = C itself with `accumulate`, else bias (one value per
 * row; zero if bias is NULL), plus, over `segments` segments, A_s (mr x k, k-major panels, the
 * segments one after the other from a) times B_s (k rows rs_b apart from b + offsets[s]). In the
 * forward a segment is one kernel column (and run of kernel rows): the accumulators stay in
 * registers across all of them, so C is written once per tile, with the bias, where one GEMM
 * call per kernel column read and wrote it KW times and a write-back pass added the bias after.
 * In the weight gradient a segment is an output row, k its pixels.
 *
 * A kernel file defines its two tiles, fastnn_conv_rows_tile_f32_<isa> and _f64_<isa>, then
 * FASTNN_DEFINE_CONV_ROWS_SET(<isa>, ...), which adds the fills and the set's table.
 *
 * The band fill: `rows` rows of wp values from dst on (dst_stride apart), each zero but for
 * [lo, lo + len), a copy of a source row (src_stride apart); values moved as integers. Its loops
 * stay loops: gcc would make each row's copy a call to memcpy (a row is a few vectors), which
 * measured 3% of a 3x3 64 -> 64 forward at 32x32.
 */
#include <stddef.h>
#include <stdint.h>

#include "register_tile.h"

/* A vector set's tile: MR rows of two vectors of LANES values, the steps of its GEMM
 * micro-kernel (register_tile.h). */
#define FASTNN_DEFINE_CONV_ROWS_TILE(NAME, T, V, LANES, MR, SET1, ZERO, LOADU, STOREU, FMADD)    \
    void NAME(ptrdiff_t segments, ptrdiff_t k, const T *a, const T *b, const ptrdiff_t *offsets,  \
              ptrdiff_t rs_b, const T *bias, int accumulate, T *c, ptrdiff_t ldc)                 \
    {                                                                                             \
        V acc[MR][2];                                                                             \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                                     \
        {                                                                                         \
            acc[i][0] = accumulate ? LOADU(c + i * ldc) : bias ? SET1(bias[i]) : ZERO();          \
            acc[i][1] = accumulate ? LOADU(c + i * ldc + LANES) : bias ? SET1(bias[i]) : ZERO();  \
        }                                                                                         \
        for (ptrdiff_t s = 0; s < segments; s++) {                                                \
            const T *bs = b + offsets[s];                                                         \
            FASTNN_REGISTER_TILE_STEPS(MR, V, LANES, SET1, LOADU, FMADD, acc, k, a, bs, rs_b);    \
        }                                                                                         \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++, c += ldc)                           \
        {                                                                                         \
            STOREU(c, acc[i][0]);                                                                 \
            STOREU(c + LANES, acc[i][1]);                                                         \
        }                                                                                         \
    }                                                                                             \
    enum { NAME##_mr = MR, NAME##_nr = 2 * LANES };

/* The baseline's tile, in plain C for the compiler to vectorise. */
#define FASTNN_DEFINE_CONV_ROWS_TILE_PLAIN(NAME, T, MR, NR)                                      \
    void NAME(ptrdiff_t segments, ptrdiff_t k, const T *a, const T *b, const ptrdiff_t *offsets,  \
              ptrdiff_t rs_b, const T *bias, int accumulate, T *c, ptrdiff_t ldc)                 \
    {                                                                                             \
        T acc[MR][NR];                                                                            \
        for (int i = 0; i < MR; i++)                                                              \
            for (int j = 0; j < NR; j++)                                                          \
                acc[i][j] = accumulate ? c[i * ldc + j] : bias ? bias[i] : 0;                     \
        for (ptrdiff_t s = 0; s < segments; s++) {                                                \
            const T *bs = b + offsets[s];                                                         \
            for (ptrdiff_t p = 0; p < k; p++, a += MR, bs += rs_b)                                \
                for (int i = 0; i < MR; i++)                                                      \
                    for (int j = 0; j < NR; j++) acc[i][j] += a[i] * bs[j];                       \
        }                                                                                         \
        for (int i = 0; i < MR; i++, c += ldc)                                                    \
            for (int j = 0; j < NR; j++) c[j] = acc[i][j];                                        \
    }                                                                                             \
    enum { NAME##_mr = MR, NAME##_nr = NR };

#define FASTNN_DEFINE_CONV_ROWS_FILL(NAME, U)                                                    \
    __attribute__((optimize("no-tree-loop-distribute-patterns"))) void NAME(                     \
        ptrdiff_t rows, const U *restrict src, ptrdiff_t src_stride, ptrdiff_t lo, ptrdiff_t len, \
        ptrdiff_t wp, U *restrict dst, ptrdiff_t dst_stride)                                      \
    {                                                                                             \
        for (ptrdiff_t r = 0; r < rows; r++, src += src_stride, dst += dst_stride) {              \
            for (ptrdiff_t b = 0; b < lo; b++) dst[b] = 0;                                        \
            for (ptrdiff_t b = 0; b < len; b++) dst[lo + b] = src[b];                             \
            for (ptrdiff_t b = lo + len; b < wp; b++) dst[b] = 0;                                 \
        }                                                                                         \
    }

/* The fills and the table of the set whose tiles are already defined: their mr and nr as the
 * tile macros emitted them, so the tiles' sizes are written once. */
#define FASTNN_DEFINE_CONV_ROWS_SET(ISA)                                                         \
    FASTNN_DEFINE_CONV_ROWS_FILL(fastnn_conv_rows_fill_f32_##ISA, uint32_t)                      \
    FASTNN_DEFINE_CONV_ROWS_FILL(fastnn_conv_rows_fill_f64_##ISA, uint64_t)                      \
    const fastnn_conv_rows_kernels fastnn_conv_rows_##ISA = {                                     \
        .mr_f32 = fastnn_conv_rows_tile_f32_##ISA##_mr,                                           \
        .nr_f32 = fastnn_conv_rows_tile_f32_##ISA##_nr,                                           \
        .mr_f64 = fastnn_conv_rows_tile_f64_##ISA##_mr,                                           \
        .nr_f64 = fastnn_conv_rows_tile_f64_##ISA##_nr,                                           \
        .tile_f32 = fastnn_conv_rows_tile_f32_##ISA, .tile_f64 = fastnn_conv_rows_tile_f64_##ISA, \
        .fill_f32 = fastnn_conv_rows_fill_f32_##ISA, .fill_f64 = fastnn_conv_rows_fill_f64_##ISA};
