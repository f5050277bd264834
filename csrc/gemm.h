/* The GEMM: C = alpha * op(A) op(B) + beta * C, float32 and float64, and float32 on bf16 operands.
 *
 * op(A) is m x k and op(B) is k x n, each given by a pointer and two element strides (row, column),
 * so a transposed operand is the same matrix with its strides swapped and no copy is made.
 * C is m x n with rows ldc elements apart and unit column stride. beta == 0 never reads C.
 *
 * After the last k-block of a strip of C is written, an optional epilogue runs on that strip while
 * it is still in L1: this is where layers fuse bias and activation into the product.
 */
#ifndef FASTNN_GEMM_H
#define FASTNN_GEMM_H

#include <stddef.h>

#include "activation_table.h"

typedef struct fastnn_epilogue fastnn_epilogue;

/* Applied to rows x cols of C starting at c (absolute position row0, col0 in the whole C). */
typedef void (*fastnn_epilogue_fn)(const fastnn_epilogue *self, void *c, ptrdiff_t ldc,
                                   ptrdiff_t row0, ptrdiff_t col0, ptrdiff_t rows, ptrdiff_t cols);

struct fastnn_epilogue {
    fastnn_epilogue_fn apply;
    const void *bias;        /* n values added along each row, or NULL */
    fastnn_activation_spec activation; /* an activation of the table and its parameters */
    void *pre_activation;    /* if not NULL, receives bias-added C before the activation */
    ptrdiff_t ld_pre;        /* row stride of pre_activation, in elements */
};

/* The epilogue for a Linear layer: bias, then activation (csrc/epilogue.c). */
void fastnn_epilogue_init(fastnn_epilogue *epilogue, int is_double, const void *bias,
                          fastnn_activation_spec activation, void *pre_activation,
                          ptrdiff_t ld_pre);

void fastnn_bias_activation_f32(const fastnn_epilogue *self, void *c, ptrdiff_t ldc,
                                ptrdiff_t row0, ptrdiff_t col0, ptrdiff_t rows, ptrdiff_t cols);
void fastnn_bias_activation_f64(const fastnn_epilogue *self, void *c, ptrdiff_t ldc,
                                ptrdiff_t row0, ptrdiff_t col0, ptrdiff_t rows, ptrdiff_t cols);

/* Return 0, -1 when the packing buffers could not be allocated, or -2 when the interrupt check
 * (thread_pool.h) stopped a long product; C is then undefined. */
int fastnn_sgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                 const float *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                 const float *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
                 float beta, float *c, ptrdiff_t ldc, const fastnn_epilogue *epilogue);

int fastnn_dgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                 const double *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                 const double *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
                 double beta, double *c, ptrdiff_t ldc, const fastnn_epilogue *epilogue);

/* Any of the products above, by element type (named by the suffix the type-generic code uses),
 * for code that picks fastnn_sgemm or fastnn_sgemm_bf16 per layer. */
typedef int (*fastnn_gemm_fn_f32)(ptrdiff_t, ptrdiff_t, ptrdiff_t, float, const float *, ptrdiff_t,
                                  ptrdiff_t, const float *, ptrdiff_t, ptrdiff_t, float, float *,
                                  ptrdiff_t, const fastnn_epilogue *);
typedef int (*fastnn_gemm_fn_f64)(ptrdiff_t, ptrdiff_t, ptrdiff_t, double, const double *,
                                  ptrdiff_t, ptrdiff_t, const double *, ptrdiff_t, ptrdiff_t, double,
                                  double *, ptrdiff_t, const fastnn_epilogue *);

/* The float32 product with A and B rounded to bfloat16 (nearest even) and everything else
 * (accumulation, alpha, beta, the epilogue) in float32: on AVX512-BF16, twice the float32
 * arithmetic rate; elsewhere the float32 kernels on the rounded operands, the same numbers up to
 * the order of the sums. */
int fastnn_sgemm_bf16(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                      const float *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                      const float *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
                      float beta, float *c, ptrdiff_t ldc, const fastnn_epilogue *epilogue);

/* The same product with either operand (or both) stored in bf16 already (uint16 bit patterns,
 * as ml_dtypes.bfloat16 and torch keep them): a_is_bf16 / b_is_bf16 say which; a float32 operand
 * is rounded as above. A stored operand is read at half the bytes and packed without rounding;
 * a denormal bf16 counts as zero, as VDPBF16PS reads it. */
int fastnn_sgemm_bf16_stored(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                             const void *a, int a_is_bf16, ptrdiff_t rs_a, ptrdiff_t cs_a,
                             const void *b, int b_is_bf16, ptrdiff_t rs_b, ptrdiff_t cs_b,
                             float beta, float *c, ptrdiff_t ldc,
                             const fastnn_epilogue *epilogue);

#endif
