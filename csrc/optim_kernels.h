/* The optimizers' row loops, compiled once per instruction set (csrc/kernels/optim_rows.h), and
 * the per-step scalars they read.
 *
 * One source serves the plain optimizer step (optim.c, a whole tensor), the update fused into the
 * write-back of a weight gradient (fused_optim.c, one strip of it) and the few-row update of small
 * batches, so the three give the same values for the same gradient. */
#ifndef FASTNN_OPTIM_KERNELS_H
#define FASTNN_OPTIM_KERNELS_H

#include <stddef.h>

#include "optim.h"

/* Adam's per-step scalars, computed once per step in double (fastnn_adam_prepare) and rounded to
 * the element type once, so that a tensor updated in many pieces matches one updated whole. */
typedef struct {
    double step_size, bias_correction2_sqrt, average_weight, beta2, square_weight, eps;
    double weight_decay, shrink;
    int decoupled;
} fastnn_adam_scalars;

void fastnn_adam_prepare(const fastnn_adam_hyper *hyper, fastnn_adam_scalars *scalars);

#define FASTNN_DECLARE_OPTIM_KERNELS(T, SUFFIX)                                                   \
    typedef struct {                                                                              \
        /* optim.h's SGD rule on n elements; buf NULL without momentum */                        \
        void (*sgd)(ptrdiff_t n, T *param, const T *grad, T *buf, const fastnn_sgd_hyper *h);     \
        /* optim.h's Adam rule on n elements; max_exp_avg_sq NULL unless amsgrad */               \
        void (*adam)(ptrdiff_t n, T *param, const T *grad, T *exp_avg, T *exp_avg_sq,            \
                     T *max_exp_avg_sq, const fastnn_adam_scalars *s);                            \
        /* g[j] = (acc ? acc[j] : 0) + sum_p a[p * lda] * x[p * ldx + j], j < n: one row of a     \
         * weight gradient dS^T X from k samples (k small), summed in p order as the GEMM does */ \
        void (*few_row_gradient)(ptrdiff_t k, const T *a, ptrdiff_t lda, const T *x,              \
                                 ptrdiff_t ldx, ptrdiff_t n, const T *acc, T *g);                 \
        /* a weight row (n elements) stepped by SGD at batch 1 with the gradient a * x[j], after \
         * y[j] += a * w[j] (the input gradient, from the row before it changes) when y is not   \
         * NULL: the few-row gradient and the sgd kernel in one pass */                          \
        void (*rank1_sgd)(ptrdiff_t n, T a, const T *x, T *param, T *buf, T *y,                   \
                          const fastnn_sgd_hyper *h);                                             \
        /* sum_i x[i]^2 (the L2 penalty's |W|^2): float partial sums over blocks, added in double */ \
        double (*sum_squares)(ptrdiff_t n, const T *x);                                           \
        /* the sgd kernel's momentum step (buf set, past the first step), returning sum_squares   \
         * of the stepped weights, summed alike, from registers */                                \
        double (*sgd_momentum_squares)(ptrdiff_t n, T *param, const T *grad, T *buf,              \
                                       const fastnn_sgd_hyper *h);                                \
    } fastnn_optim_kernels_##SUFFIX;

FASTNN_DECLARE_OPTIM_KERNELS(float, f32)
FASTNN_DECLARE_OPTIM_KERNELS(double, f64)
#undef FASTNN_DECLARE_OPTIM_KERNELS

struct fastnn_optim_kernels {
    fastnn_optim_kernels_f32 f32;
    fastnn_optim_kernels_f64 f64;
};
typedef struct fastnn_optim_kernels fastnn_optim_kernels;

extern const fastnn_optim_kernels fastnn_optim_avx512;
extern const fastnn_optim_kernels fastnn_optim_avx2;
extern const fastnn_optim_kernels fastnn_optim_generic;

/* The active kernel context's (its .optim, dispatch.c). */
const fastnn_optim_kernels *fastnn_optim_kernels_active(void);

#endif
