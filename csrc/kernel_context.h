/* What an instruction set contributes to the GEMM: micro-kernels and their block sizes.
 *
 * A micro-kernel computes one MR x NR tile: C = alpha * sum_p a[p*MR + i] * b[p*rs_b + j] + beta * C
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

#include "activation_table.h"

typedef void (*fastnn_sgemm_ukernel)(ptrdiff_t k, const float *a, const float *b, ptrdiff_t rs_b,
                                     float *c, ptrdiff_t ldc, float alpha, float beta);
typedef void (*fastnn_dgemm_ukernel)(ptrdiff_t k, const double *a, const double *b,
                                     ptrdiff_t rs_b, double *c, ptrdiff_t ldc, double alpha,
                                     double beta);

/* Optional: packs a full panel of w rows, each contiguous along k (row r at src + r * ld), into
 * dst[p * w + r]. NULL where the portable loop is as good. */
typedef void (*fastnn_spack_transposed)(ptrdiff_t kc, const float *src, ptrdiff_t ld, int w,
                                        float *dst);
typedef void (*fastnn_dpack_transposed)(ptrdiff_t kc, const double *src, ptrdiff_t ld, int w,
                                        double *dst);

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

typedef struct {
    int mr, nr, kc, mc, nc;
    fastnn_sgemm_ukernel ukernel;
    fastnn_spack_transposed pack_transposed;
    int dot_mr, dot_nr, dot_max_rows; /* dot kernels beat packing up to dot_max_rows rows of C */
    fastnn_sgemm_dot_ukernel dot_ukernel;
} fastnn_sgemm_blocking;

typedef struct {
    int mr, nr, kc, mc, nc;
    fastnn_dgemm_ukernel ukernel;
    fastnn_dpack_transposed pack_transposed;
    int dot_mr, dot_nr, dot_max_rows;
    fastnn_dgemm_dot_ukernel dot_ukernel;
} fastnn_dgemm_blocking;

/* AVX transposes of 8 x 8 floats and 4 x 4 doubles (csrc/kernels/avx2/pack_avx2.c), used by the
 * AVX2 and AVX-512 kernel sets, for any w. */
void fastnn_spack_transposed_avx2(ptrdiff_t kc, const float *src, ptrdiff_t ld, int w, float *dst);
void fastnn_dpack_transposed_avx2(ptrdiff_t kc, const double *src, ptrdiff_t ld, int w,
                                  double *dst);

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

typedef struct {
    const char *name;
    fastnn_sgemm_blocking sgemm;
    fastnn_dgemm_blocking dgemm;
    const fastnn_activation_kernels *activations;
} fastnn_kernel_context;

extern const fastnn_kernel_context fastnn_context_avx512;
extern const fastnn_kernel_context fastnn_context_avx2;
extern const fastnn_kernel_context fastnn_context_generic;

/* The context chosen at import (dispatch.c). */
const fastnn_kernel_context *fastnn_active_context(void);

/* Upper bounds on any context's MR and NR, for scratch tiles on the stack. */
#define FASTNN_MAX_MR 16
#define FASTNN_MAX_NR 64

#endif
