/* What an instruction set contributes to the GEMM: micro-kernels and their block sizes.
 *
 * A micro-kernel computes one MR x NR tile:
 *     C = alpha * sum_p a[p*MR + i] * b[p*rs_b + j] + beta * C
 * from a packed panel of A (MR values per k step, 64-byte aligned) and NR consecutive values of B
 * per k step, rs_b apart (NR for a packed panel; B's row stride where it is read in place), for a
 * full tile only: the loop nest (gemm_loop_nest.h) handles edge tiles through a scratch tile.
 * beta == 0 must not read C.
 *
 * Block sizes: KC is the depth of a packed panel; a packed MR x KC micro-panel of A stays in L1
 * while the KC x NC panel of B (in L2) streams past it; MC rows of A are packed at a time.
 */
#ifndef FASTNN_KERNEL_CONTEXT_H
#define FASTNN_KERNEL_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "activation_table.h"

typedef void (*fastnn_sgemm_ukernel)(ptrdiff_t k, const float *a, const float *b, ptrdiff_t rs_b,
                                     float *c, ptrdiff_t ldc, float alpha, float beta);
/* The micro-kernel on a packed micro-panel of B (rs_b = NR) that, as it runs, also copies
 * copy_rows k steps of B's next micro-panel into place: k step p, NR contiguous floats at
 * src + p * ld_src, to dst + p * NR (the copy packing of a row-major B, spread over the kernel's
 * free load and store slots rather than a pass of its own). Any copy_rows >= 0; C as ukernel's,
 * bit for bit. */
typedef void (*fastnn_sgemm_packing_ukernel)(ptrdiff_t k, const float *a, const float *b,
                                             float *c, ptrdiff_t ldc, float alpha, float beta,
                                             const float *src, ptrdiff_t ld_src,
                                             float *restrict dst, ptrdiff_t copy_rows);
typedef void (*fastnn_dgemm_ukernel)(ptrdiff_t k, const double *a, const double *b,
                                     ptrdiff_t rs_b, double *c, ptrdiff_t ldc, double alpha,
                                     double beta);

/* The micro-kernel reading an MR-row block of A where it lies, A(i, p) at a[i * rs_a + p * cs_a]
 * (a row-major A, or a transposed one), for products whose few column tiles would not repay
 * packing A. */
typedef void (*fastnn_sgemm_strided_a_ukernel)(ptrdiff_t k, const float *a, ptrdiff_t rs_a,
                                               ptrdiff_t cs_a, const float *b, ptrdiff_t rs_b,
                                               float *c, ptrdiff_t ldc, float alpha, float beta);
typedef void (*fastnn_dgemm_strided_a_ukernel)(ptrdiff_t k, const double *a, ptrdiff_t rs_a,
                                               ptrdiff_t cs_a, const double *b, ptrdiff_t rs_b,
                                               double *c, ptrdiff_t ldc, double alpha,
                                               double beta);

/* Optional: packs a full panel of w rows, each contiguous along k (row r at src + r * ld), into
 * dst[p * w + r]. NULL where the portable loop is as good. */
typedef void (*fastnn_spack_transposed)(ptrdiff_t kc, const float *src, ptrdiff_t ld, int w,
                                        float *dst);
typedef void (*fastnn_dpack_transposed)(ptrdiff_t kc, const double *src, ptrdiff_t ld, int w,
                                        double *dst);

/* Packs `panels` full panels by copying, whatever the type: k step p of panel i, row_bytes
 * contiguous bytes at src + p * ld + i * row_bytes (ld in bytes), into
 * dst + (i * kc + p) * row_bytes (csrc/kernels/pack_copy.h). */
typedef void (*fastnn_pack_copy)(ptrdiff_t kc, const void *src, ptrdiff_t ld, int row_bytes,
                                 ptrdiff_t panels, void *dst);

/* Optional: a dot-product micro-kernel for operands contiguous along k, A rows lda apart and B
 * columns ldb apart (as X and W in X W^T): a rows x cols tile (at most dot_mr x dot_nr) of
 * C = alpha * A B + beta * C, any k, reading nothing outside the given rows and columns. */
typedef void (*fastnn_sgemm_dot_ukernel)(ptrdiff_t k, const float *a, ptrdiff_t lda,
                                         ptrdiff_t rows, const float *b, ptrdiff_t ldb,
                                         ptrdiff_t cols, float *c, ptrdiff_t ldc, float alpha,
                                         float beta);
typedef void (*fastnn_dgemm_dot_ukernel)(ptrdiff_t k, const double *a, ptrdiff_t lda,
                                         ptrdiff_t rows, const double *b, ptrdiff_t ldb,
                                         ptrdiff_t cols, double *c, ptrdiff_t ldc, double alpha,
                                         double beta);

/* In every blocking, mc is a multiple of mr: the packing buffer holds mc x kc of A. */
typedef struct fastnn_sgemm_blocking {
    int mr, nr, kc, mc, nc;
    fastnn_sgemm_ukernel ukernel;
    /* Optional: the MR x NR/2 tile, for a last column tile of at most NR/2 columns */
    fastnn_sgemm_ukernel half_ukernel;
    fastnn_spack_transposed pack_transposed;
    fastnn_pack_copy pack_copy;
    int dot_mr, dot_nr, dot_max_rows; /* dot kernels beat packing up to dot_max_rows rows of C */
    fastnn_sgemm_dot_ukernel dot_ukernel;
    fastnn_sgemm_strided_a_ukernel strided_a_ukernel;
    /* Zero in the tables; set on a product's own copy of its blocking (the loop nest's
     * PREFETCH_NEXT_B 2) where NC was halved so that B's next panel is fetched over all of a
     * panel's calls */
    int fetch_next_b_whole_panel;
    /* Optional: ukernel packing B's next micro-panel as it runs, the loop nest handing each
     * of the first packing_b_tiles tiles of rows a share (1 / packing_b_tiles) of its k steps
     * (gemm_loop_nest.h: PACK_IN_KERNEL) */
    fastnn_sgemm_packing_ukernel ukernel_packing_b;
    int packing_b_tiles;
    /* Optional: the same with a larger MR, for products of a few rows that it covers in fewer
     * tiles with no more padded rows (10 rows: one tile of 12 rather than 8 + 2 padded to 8,
     * each reading B whole) */
    const struct fastnn_sgemm_blocking *tall;
    /* Optional: a dot kernel as dot_ukernel with a wider tile, for the dot path's products that
     * it covers in fewer groups of columns (X W^T into 10 outputs: two rather than three), each
     * group reading A whole; each element summed as dot_ukernel sums it (the same bits) */
    int dot_wide_mr, dot_wide_nr;
    fastnn_sgemm_dot_ukernel dot_wide_ukernel;
} fastnn_sgemm_blocking;

typedef struct {
    int mr, nr, kc, mc, nc;
    fastnn_dgemm_ukernel ukernel;
    fastnn_dgemm_ukernel half_ukernel;
    fastnn_dpack_transposed pack_transposed;
    fastnn_pack_copy pack_copy;
    int dot_mr, dot_nr, dot_max_rows;
    fastnn_dgemm_dot_ukernel dot_ukernel;
    fastnn_dgemm_strided_a_ukernel strided_a_ukernel;
} fastnn_dgemm_blocking;

/* AVX transposes of 8 x 8 floats and 4 x 4 doubles (csrc/kernels/avx2/pack_avx2.c), used by the
 * AVX2 and AVX-512 kernel sets, for any w. */
void fastnn_spack_transposed_avx2(ptrdiff_t kc, const float *src, ptrdiff_t ld, int w, float *dst);
void fastnn_dpack_transposed_avx2(ptrdiff_t kc, const double *src, ptrdiff_t ld, int w,
                                  double *dst);
/* AVX-512's: 16 x 16 blocks for panels of a multiple of 16 rows, AVX's otherwise
 * (csrc/kernels/avx512/pack_avx512.c) */
void fastnn_spack_transposed_avx512(ptrdiff_t kc, const float *src, ptrdiff_t ld, int w, float *dst);
/* Each set's copying packer (fastnn_pack_copy) */
void fastnn_pack_copy_avx512(ptrdiff_t kc, const void *src, ptrdiff_t ld, int row_bytes,
                             ptrdiff_t panels, void *dst);
void fastnn_pack_copy_avx2(ptrdiff_t kc, const void *src, ptrdiff_t ld, int row_bytes,
                           ptrdiff_t panels, void *dst);
void fastnn_pack_copy_generic(ptrdiff_t kc, const void *src, ptrdiff_t ld, int row_bytes,
                              ptrdiff_t panels, void *dst);

/* The activations' row loops (csrc/kernels/activation_rows.h, compiled once per instruction set).
 * `act` is an activation of the table and its parameters; a row is contiguous; an output may be
 * its input (y == x) but no other overlap is allowed. */
#define FASTNN_DECLARE_ACTIVATION_KERNELS(T, SUFFIX)                                              \
    typedef struct {                                                                              \
        /* The Linear layer's epilogue on a rows x cols block of C: c = act(c + bias), bias       \
         * (cols) may be NULL; pre (if not NULL) first receives c + bias. */                      \
        void (*bias_activation)(fastnn_activation_spec act, ptrdiff_t rows, ptrdiff_t cols,       \
                                const T *bias, T *c, ptrdiff_t ldc, T *pre, ptrdiff_t ld_pre);    \
        /* y = act(x) */                                                                          \
        void (*forward)(fastnn_activation_spec act, ptrdiff_t n, const T *x, T *y);               \
        /* grad_input = grad_output * act'(saved): saved is the output y or the input s, as the   \
         * activation table says; grad_input may be either input. */                              \
        void (*backward)(fastnn_activation_spec act, ptrdiff_t n, const T *grad_output,           \
                         const T *saved, T *grad_input);                                          \
        /* Over rows x cols: delta = grad_output * act'(saved) unless delta is NULL (then only    \
         * the sums), and sums[j] += delta[i][j] (or grad_output's) in double. */                 \
        void (*delta_and_column_sums)(fastnn_activation_spec act, ptrdiff_t rows, ptrdiff_t cols, \
                                      const T *grad_output, ptrdiff_t ld_grad_output,             \
                                      const T *saved, ptrdiff_t ld_saved, T *delta,               \
                                      ptrdiff_t ld_delta, double *sums);                          \
    } fastnn_activation_kernels_##SUFFIX;

FASTNN_DECLARE_ACTIVATION_KERNELS(float, f32)
FASTNN_DECLARE_ACTIVATION_KERNELS(double, f64)
#undef FASTNN_DECLARE_ACTIVATION_KERNELS

typedef struct {
    fastnn_activation_kernels_f32 f32;
    fastnn_activation_kernels_f64 f64;
} fastnn_activation_kernels;

extern const fastnn_activation_kernels fastnn_activations_avx512;
extern const fastnn_activation_kernels fastnn_activations_avx2;
extern const fastnn_activation_kernels fastnn_activations_generic;

/* bfloat16: the upper half of a float32 (8 exponent bits, 7 of mantissa). A product of two is
 * exact in float32, so a bf16 GEMM differs from float32 arithmetic on the rounded operands only
 * in the order of its sums. */
typedef uint16_t fastnn_bf16;

/* A bf16 micro-kernel: an MR x NR tile of C = alpha * A B + beta * C in float32 from packed bf16
 * panels whose k steps come in pairs, as VDPBF16PS reads them: A's panel holds, per pair q, MR
 * pairs (a[i][2q], a[i][2q+1]); B's holds NR pairs (b[2q][j], b[2q+1][j]). An odd k is padded
 * with a zero pair member by the packing. rs_b is unused (B is always packed: it has to be
 * converted); it keeps the loop nest's call the same for every type. */
typedef void (*fastnn_bf16gemm_ukernel)(ptrdiff_t k, const fastnn_bf16 *a, const fastnn_bf16 *b,
                                        ptrdiff_t rs_b, float *c, ptrdiff_t ldc, float alpha,
                                        float beta);

/* Cache lines a micro-kernel fetches as it runs, spread evenly over its k loop: `count` lines,
 * from line `line` of `row`, `per_row` lines a row, rows `stride` bytes apart. The loop nest hands
 * over each call's share of the next blocks' sources (gemm_loop_nest.h: FETCH_IN_KERNEL), which
 * come from memory: a burst of them between calls waited on its own (bf16, one Zen 5 core,
 * n = 1024, interleaved: 1-4% faster than the burst). */
typedef struct {
    const char *row;
    ptrdiff_t stride, per_row, line, count;
} fastnn_fetch_lines;

/* The bf16 micro-kernel (B always packed, so no rs_b) that also fetches two such streams, first
 * ahead[0]'s lines, then ahead[1]'s. */
typedef void (*fastnn_bf16gemm_fetching_ukernel)(ptrdiff_t k, const fastnn_bf16 *a,
                                                 const fastnn_bf16 *b, float *c, ptrdiff_t ldc,
                                                 float alpha, float beta,
                                                 const fastnn_fetch_lines ahead[2]);

/* Optional vector packers of `panels` full panels of width w from float32 into the pair layout
 * above (rounding to nearest even), panel i at dst + i * w * (kc rounded up to even):
 * `transposed` for rows each contiguous along k (row r at src + r * ld), `interleaved` for k
 * steps of consecutive values (step p at src + p * ld). */
typedef void (*fastnn_bf16_pack)(ptrdiff_t kc, const float *src, ptrdiff_t ld, int w,
                                 ptrdiff_t panels, fastnn_bf16 *dst);
/* ... and from operands stored in bf16 (no rounding): for the rows contiguous along k, a 32-bit
 * transposition of their k pairs; for k steps of consecutive values, two steps' values
 * interleaved. An odd kc's last pair is completed with zero, never read past kc. */
typedef void (*fastnn_bf16_pack_from_bf16)(ptrdiff_t kc, const fastnn_bf16 *src, ptrdiff_t ld,
                                           int w, ptrdiff_t panels, fastnn_bf16 *dst);

/* The dot kernel of a bf16 product whose operands may be stored in bf16 (a_is_bf16, b_is_bf16:
 * a and b are then fastnn_bf16 rows, else float32 rows rounded as they load): the same tile
 * and the same sums in the same order as the float32 one, so either storage gives the same
 * bits. */
typedef void (*fastnn_bf16_dot_stored_ukernel)(ptrdiff_t k, const void *a, int a_is_bf16,
                                               ptrdiff_t lda, ptrdiff_t rows, const void *b,
                                               int b_is_bf16, ptrdiff_t ldb, ptrdiff_t cols,
                                               float *c, ptrdiff_t ldc, float alpha, float beta);

typedef struct fastnn_bf16gemm_blocking {
    int mr, nr, kc, mc, nc; /* kc even: only the last block of k may be odd; mc a multiple of mr */
    fastnn_bf16gemm_ukernel ukernel;
    fastnn_bf16gemm_fetching_ukernel ukernel_fetching; /* optional: ukernel, fetching lines */
    fastnn_bf16_pack pack_transposed, pack_interleaved;
    fastnn_bf16_pack_from_bf16 pack_transposed_from_bf16, pack_interleaved_from_bf16;
    /* Optional: a dot-product kernel as float32's, on float32 rows rounded to bf16 as it loads
     * them (a few rows of X W^T, where converting W into panels would cost more than the
     * product). */
    int dot_mr, dot_nr, dot_max_rows;
    fastnn_sgemm_dot_ukernel dot_ukernel;
    fastnn_bf16_dot_stored_ukernel dot_ukernel_stored; /* with dot_ukernel: the same, stored */
    /* Optional: the same with a smaller MR, for the products whose rows it tiles with fewer
     * padded rows (64 rows on 8-row tiles rather than 12) */
    const struct fastnn_bf16gemm_blocking *narrow;
} fastnn_bf16gemm_blocking;

/* The convolution's window gather (kernels/conv_gather.h) into packed panels as wide as the
 * set's float32 and float64 register tiles (nr_f32, nr_f64), values moved as integers. */
typedef struct {
    int nr_f32, nr_f64;
    void (*f32)(ptrdiff_t k0, ptrdiff_t kc, ptrdiff_t taps, const uint32_t *x, ptrdiff_t total,
                ptrdiff_t plane, const ptrdiff_t *tap_offset, const uint32_t *lane_mask,
                uint32_t *dst);
    void (*f64)(ptrdiff_t k0, ptrdiff_t kc, ptrdiff_t taps, const uint64_t *x, ptrdiff_t total,
                ptrdiff_t plane, const ptrdiff_t *tap_offset, const uint64_t *lane_mask,
                uint64_t *dst);
} fastnn_conv_gather_kernels;

/* The convolution by rows (kernels/conv_rows.h): a register tile summed over segments (the
 * kernel's columns, or output rows) from C, the bias or zero, mr x nr as the set's GEMM
 * micro-kernel for the type; and the padded band's row fill, values moved as integers. */
typedef struct {
    int mr_f32, nr_f32, mr_f64, nr_f64;
    void (*tile_f32)(ptrdiff_t segments, ptrdiff_t k, const float *a, const float *b,
                     const ptrdiff_t *offsets, ptrdiff_t rs_b, const float *bias, int accumulate,
                     float *c, ptrdiff_t ldc);
    void (*tile_f64)(ptrdiff_t segments, ptrdiff_t k, const double *a, const double *b,
                     const ptrdiff_t *offsets, ptrdiff_t rs_b, const double *bias, int accumulate,
                     double *c, ptrdiff_t ldc);
    void (*fill_f32)(ptrdiff_t rows, const uint32_t *src, ptrdiff_t src_stride, ptrdiff_t lo,
                     ptrdiff_t len, ptrdiff_t wp, uint32_t *dst, ptrdiff_t dst_stride);
    void (*fill_f64)(ptrdiff_t rows, const uint64_t *src, ptrdiff_t src_stride, ptrdiff_t lo,
                     ptrdiff_t len, ptrdiff_t wp, uint64_t *dst, ptrdiff_t dst_stride);
} fastnn_conv_rows_kernels;

typedef struct fastnn_fma_peak_kernels fastnn_fma_peak_kernels;
typedef struct fastnn_gemv_kernels fastnn_gemv_kernels;     /* gemv.h */
typedef struct fastnn_optim_kernels fastnn_optim_kernels; /* optim_kernels.h */
typedef struct fastnn_stream_probe_kernels fastnn_stream_probe_kernels; /* stream_probe.h */

/* Everything a kernel set runs, declared once per set in the registry (dispatch.c): code outside
 * the registry reads the active context and never compares sets. */
typedef struct {
    const char *name;
    const fastnn_sgemm_blocking *sgemm;
    const fastnn_dgemm_blocking *dgemm;
    /* NULL where the ISA has no bf16 arithmetic: bf16 products then round their operands to
     * bf16 while packing and run on the float32 kernels (gemm.c) */
    const fastnn_bf16gemm_blocking *bf16gemm;
    const fastnn_activation_kernels *activations;
    /* matrix-vector products at batch 1; NULL where the GEMM serves one row as well */
    const fastnn_gemv_kernels *gemv;
    const fastnn_optim_kernels *optim; /* the optimizers' row loops */
    const fastnn_conv_gather_kernels *conv_gather;
    const fastnn_conv_rows_kernels *conv_rows;
    const fastnn_fma_peak_kernels *fma_peak;
    const fastnn_stream_probe_kernels *stream_probe;
} fastnn_kernel_context;

/* What each kernel set exports for the contexts built on it. */
extern const fastnn_sgemm_blocking fastnn_sgemm_avx512, fastnn_sgemm_avx2, fastnn_sgemm_generic;
extern const fastnn_dgemm_blocking fastnn_dgemm_avx512, fastnn_dgemm_avx2, fastnn_dgemm_generic;
extern const fastnn_bf16gemm_blocking fastnn_bf16gemm_avx512_bf16;
extern const fastnn_conv_gather_kernels fastnn_conv_gather_avx512, fastnn_conv_gather_avx2,
    fastnn_conv_gather_generic;
extern const fastnn_conv_rows_kernels fastnn_conv_rows_avx512, fastnn_conv_rows_avx2,
    fastnn_conv_rows_generic;
extern const fastnn_fma_peak_kernels fastnn_fma_peak_avx512_bf16, fastnn_fma_peak_avx512,
    fastnn_fma_peak_avx2, fastnn_fma_peak_generic;
extern const fastnn_stream_probe_kernels fastnn_stream_probe_avx512, fastnn_stream_probe_avx2,
    fastnn_stream_probe_generic;

/* The registry of kernel sets, newest first (dispatch.c): the one list of ISAs, from which
 * dispatch, FASTNN_ISA, cpu_info() and the tests all derive. */
typedef struct {
    const char *name;
    int (*cpu_runs)(void); /* this CPU and OS run the set's instructions */
    const fastnn_kernel_context *context;
} fastnn_isa_entry;

extern const fastnn_isa_entry fastnn_isa_registry[];
extern const int fastnn_isa_registry_size;

/* The context chosen at import (dispatch.c). */
const fastnn_kernel_context *fastnn_active_context(void);

/* Upper bounds on any context's MR and NR, for scratch tiles on the stack. */
#define FASTNN_MAX_MR 16
#define FASTNN_MAX_NR 64

#endif
