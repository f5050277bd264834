/* The optimizers' row loops (csrc/optim_kernels.h), one source compiled once per instruction set:
 * a file under csrc/kernels/<isa>/ sets its target and FASTNN_ISA, then includes this.
 *
 * The rules are PyTorch's (optim.h). Each momentum variant is its own restrict-qualified loop, so
 * each vectorises without run-time branches or alias checks. */
#ifndef FASTNN_ISA
#error "define FASTNN_ISA (the suffix of the kernel set) before including optim_rows.h"
#endif

#include <math.h>

#include "optim_kernels.h"

#define FASTNN_PASTE_(a, b) a##b
#define FASTNN_PASTE(a, b) FASTNN_PASTE_(a, b)
#define KERNEL(NAME, SUFFIX) FASTNN_PASTE(NAME##_##SUFFIX##_, FASTNN_ISA)

/* The penalised gradient g of optim.h; a zero coefficient adds nothing (not 0 * inf = nan). */
#define PENALISED_GRADIENT(T, w, grad_i)                                                          \
    ((grad_i) + (weight_decay != 0 ? weight_decay * (w) : (T)0) +                                \
     (l1 != 0 ? l1 * (T)(((w) > 0) - ((w) < 0)) : (T)0))

/* Four zmm registers of sums in the few-row gradient. */
#define FEW_ROW_BLOCK_BYTES 256

#define DEFINE_OPTIM_ROWS(T, SUFFIX, SQRT)                                                        \
    static void KERNEL(sgd, SUFFIX)(ptrdiff_t n, T *restrict param, const T *restrict grad,       \
                                    T *restrict buf, const fastnn_sgd_hyper *h)                   \
    {                                                                                             \
        const T lr = (T)h->lr, momentum = (T)h->momentum, keep = (T)(1.0 - h->dampening);         \
        const T weight_decay = (T)h->weight_decay, l1 = (T)h->l1;                                 \
        if (!buf) {                                                                               \
            for (ptrdiff_t i = 0; i < n; i++)                                                     \
                param[i] -= lr * PENALISED_GRADIENT(T, param[i], grad[i]);                        \
        } else if (h->first_step) {                                                               \
            for (ptrdiff_t i = 0; i < n; i++) {                                                   \
                T g = PENALISED_GRADIENT(T, param[i], grad[i]);                                   \
                buf[i] = g;                                                                       \
                param[i] -= lr * (h->nesterov ? g + momentum * g : g);                            \
            }                                                                                     \
        } else if (h->nesterov) {                                                                 \
            for (ptrdiff_t i = 0; i < n; i++) {                                                   \
                T g = PENALISED_GRADIENT(T, param[i], grad[i]);                                   \
                T b = momentum * buf[i] + keep * g;                                               \
                buf[i] = b;                                                                       \
                param[i] -= lr * (g + momentum * b);                                              \
            }                                                                                     \
        } else {                                                                                  \
            for (ptrdiff_t i = 0; i < n; i++) {                                                   \
                T b = momentum * buf[i] + keep * PENALISED_GRADIENT(T, param[i], grad[i]);        \
                buf[i] = b;                                                                       \
                param[i] -= lr * b;                                                               \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
                                                                                                  \
    static void KERNEL(adam, SUFFIX)(ptrdiff_t n, T *restrict param, const T *restrict grad,      \
                                     T *restrict exp_avg, T *restrict exp_avg_sq,                 \
                                     T *restrict max_exp_avg_sq, const fastnn_adam_scalars *s)    \
    {                                                                                             \
        const T step_size = (T)s->step_size, bias_correction2_sqrt = (T)s->bias_correction2_sqrt; \
        const T average_weight = (T)s->average_weight, beta2 = (T)s->beta2;                       \
        const T square_weight = (T)s->square_weight, eps = (T)s->eps;                             \
        const T weight_decay = (T)s->weight_decay, shrink = (T)s->shrink;                         \
        const int decoupled = s->decoupled;                                                       \
        for (ptrdiff_t i = 0; i < n; i++) {                                                       \
            T w = param[i], g = grad[i];                                                          \
            if (decoupled)                                                                        \
                w *= shrink;                                                                      \
            else if (weight_decay != 0)                                                           \
                g += weight_decay * w;                                                            \
            T m = exp_avg[i] + average_weight * (g - exp_avg[i]);                                 \
            T v = beta2 * exp_avg_sq[i] + square_weight * g * g;                                  \
            exp_avg[i] = m;                                                                       \
            exp_avg_sq[i] = v;                                                                    \
            if (max_exp_avg_sq) {                                                                 \
                v = v > max_exp_avg_sq[i] ? v : max_exp_avg_sq[i];                                \
                max_exp_avg_sq[i] = v;                                                            \
            }                                                                                     \
            param[i] = w - step_size * m / (SQRT(v) / bias_correction2_sqrt + eps);               \
        }                                                                                         \
    }                                                                                             \

#define DEFINE_FEW_ROW_GRADIENT(T, SUFFIX)                                                        \
    /* Blocks of FEW_ROW_BLOCK columns whose sums stay in registers over all k rows: a load of  \
     * x and an FMA per product, no store until the block is done. */                             \
    static void KERNEL(few_row_gradient, SUFFIX)(ptrdiff_t k, const T *restrict a, ptrdiff_t lda, \
                                                 const T *restrict x, ptrdiff_t ldx, ptrdiff_t n, \
                                                 const T *restrict acc, T *restrict g)            \
    {                                                                                             \
        enum { W = FEW_ROW_BLOCK_BYTES / sizeof(T) };                                             \
        ptrdiff_t j = 0;                                                                          \
        for (; j + W <= n; j += W) {                                                              \
            T sum[W];                                                                             \
            const T a0 = a[0];                                                                    \
            _Pragma("GCC unroll 64") for (int t = 0; t < W; t++) sum[t] = a0 * x[j + t];          \
            for (ptrdiff_t p = 1; p < k; p++) {                                                   \
                const T ap = a[p * lda], *xp = x + p * ldx + j;                                   \
                _Pragma("GCC unroll 64") for (int t = 0; t < W; t++) sum[t] += ap * xp[t];        \
            }                                                                                     \
            if (acc)                                                                              \
                _Pragma("GCC unroll 64") for (int t = 0; t < W; t++) sum[t] = acc[j + t] + sum[t]; \
            _Pragma("GCC unroll 64") for (int t = 0; t < W; t++) g[j + t] = sum[t];               \
        }                                                                                         \
        for (; j < n; j++) {                                                                      \
            T sum = a[0] * x[j];                                                                  \
            for (ptrdiff_t p = 1; p < k; p++) sum += a[p * lda] * x[p * ldx + j];                 \
            g[j] = acc ? acc[j] + sum : sum;                                                      \
        }                                                                                         \
    }

/* y + a * b as the dot and GEMV kernels of the instruction set form it: one fused multiply-add
 * where the set has it (the baseline's kernels multiply, then add). */
#ifdef __FMA__
#define MULTIPLY_ADD_f32(a, b, y) __builtin_fmaf(a, b, y)
#define MULTIPLY_ADD_f64(a, b, y) __builtin_fma(a, b, y)
#else
#define MULTIPLY_ADD_f32(a, b, y) ((y) + (a) * (b))
#define MULTIPLY_ADD_f64(a, b, y) ((y) + (a) * (b))
#endif

/* One row of a batch-1 step in one pass over the row: the gradient g = a * x[i] (the outer
 * product's row, as the few-row gradient forms it), and before the row changes, the input
 * gradient's y[i] += a * w[i] when y is not NULL. BODY reads w and g and stores the update. */
#define RANK1_LOOPS(T, SUFFIX, BODY)                                                              \
    if (y) {                                                                                      \
        for (ptrdiff_t i = 0; i < n; i++) {                                                       \
            const T w = param[i], g = a * x[i];                                                   \
            y[i] = MULTIPLY_ADD_##SUFFIX(a, w, y[i]);                                             \
            BODY                                                                                  \
        }                                                                                         \
    } else {                                                                                      \
        for (ptrdiff_t i = 0; i < n; i++) {                                                       \
            const T w = param[i], g = a * x[i];                                                   \
            BODY                                                                                  \
        }                                                                                         \
    }

/* The SGD rule of the sgd kernel above, on the gradient of one weight row at batch 1 (the same
 * expressions, so the same values). */
#define DEFINE_RANK1_SGD(T, SUFFIX)                                                               \
    static void KERNEL(rank1_sgd, SUFFIX)(ptrdiff_t n, T a, const T *restrict x,                  \
                                          T *restrict param, T *restrict buf, T *restrict y,      \
                                          const fastnn_sgd_hyper *h)                              \
    {                                                                                             \
        const T lr = (T)h->lr, momentum = (T)h->momentum, keep = (T)(1.0 - h->dampening);         \
        const T weight_decay = (T)h->weight_decay, l1 = (T)h->l1;                                 \
        if (!buf) {                                                                               \
            RANK1_LOOPS(T, SUFFIX, param[i] = w - lr * PENALISED_GRADIENT(T, w, g);)              \
        } else if (h->first_step) {                                                               \
            RANK1_LOOPS(T, SUFFIX, {                                                              \
                T p = PENALISED_GRADIENT(T, w, g);                                                \
                buf[i] = p;                                                                       \
                param[i] = w - lr * (h->nesterov ? p + momentum * p : p);                         \
            })                                                                                    \
        } else if (h->nesterov) {                                                                 \
            RANK1_LOOPS(T, SUFFIX, {                                                              \
                T p = PENALISED_GRADIENT(T, w, g);                                                \
                T b = momentum * buf[i] + keep * p;                                               \
                buf[i] = b;                                                                       \
                param[i] = w - lr * (p + momentum * b);                                           \
            })                                                                                    \
        } else {                                                                                  \
            RANK1_LOOPS(T, SUFFIX, {                                                              \
                T b = momentum * buf[i] + keep * PENALISED_GRADIENT(T, w, g);                     \
                buf[i] = b;                                                                       \
                param[i] = w - lr * b;                                                            \
            })                                                                                    \
        }                                                                                         \
    }

/* The updates round every operation as written (no fused multiply-add), as the scalar reference
 * and numpy do; the few-row gradient contracts its products as the GEMM's kernels of the same
 * instruction set do (FMA on AVX2 and AVX-512, none on the baseline), so that both give one dW. */
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
DEFINE_OPTIM_ROWS(float, f32, sqrtf)
DEFINE_OPTIM_ROWS(double, f64, sqrt)
DEFINE_RANK1_SGD(float, f32)
DEFINE_RANK1_SGD(double, f64)
#pragma GCC pop_options
DEFINE_FEW_ROW_GRADIENT(float, f32)
DEFINE_FEW_ROW_GRADIENT(double, f64)

/* Eight vector registers of partial sums, reduced as a tree at the end of each block: enough
 * independent chains to keep two FMA pipes busy (one row of lanes would wait on each add). */
#define SQUARES_LANES 128
#define SQUARES_BLOCK 2048
/* Squares of a block's values, each value x[i] first made by STEP(i) (nothing, or the update
 * that writes it), in SQUARES_LANES float lanes then the block's tail, added in double. */
#define SQUARES_OF_BLOCKS(T, n, x, STEP)                                                          \
    double total = 0;                                                                             \
    for (ptrdiff_t b = 0; b < n; b += SQUARES_BLOCK) {                                            \
        ptrdiff_t m = n - b < SQUARES_BLOCK ? n - b : SQUARES_BLOCK, j = 0;                       \
        T lane[SQUARES_LANES] = {0}, sum = 0;                                                     \
        for (; j + SQUARES_LANES <= m; j += SQUARES_LANES)                                        \
            for (int t = 0; t < SQUARES_LANES; t++) {                                             \
                STEP(b + j + t);                                                                  \
                lane[t] += x[b + j + t] * x[b + j + t];                                           \
            }                                                                                     \
        for (; j < m; j++) {                                                                      \
            STEP(b + j);                                                                          \
            sum += x[b + j] * x[b + j];                                                           \
        }                                                                                         \
        for (int width = SQUARES_LANES / 2; width > 0; width /= 2)                                \
            for (int t = 0; t < width; t++) lane[t] += lane[t + width];                           \
        total += (double)(sum + lane[0]);                                                         \
    }                                                                                             \
    return total

#define NO_STEP(i)
/* the momentum branch of the sgd kernel, element i (of the kernel's value_type) */
#define MOMENTUM_STEP(i)                                                                          \
    {                                                                                             \
        value_type b_ = momentum * buf[i] + keep * PENALISED_GRADIENT(value_type, param[i], grad[i]); \
        buf[i] = b_;                                                                              \
        param[i] -= lr * b_;                                                                      \
    }

/* ... and its Nesterov branch */
#define NESTEROV_STEP(i)                                                                          \
    {                                                                                             \
        value_type g_ = PENALISED_GRADIENT(value_type, param[i], grad[i]);                        \
        value_type b_ = momentum * buf[i] + keep * g_;                                            \
        buf[i] = b_;                                                                              \
        param[i] -= lr * (g_ + momentum * b_);                                                    \
    }

#define DEFINE_SUM_SQUARES(T, SUFFIX)                                                             \
    static double KERNEL(sum_squares, SUFFIX)(ptrdiff_t n, const T *restrict x)                   \
    {                                                                                             \
        SQUARES_OF_BLOCKS(T, n, x, NO_STEP);                                                      \
    }                                                                                             \
                                                                                                  \
    static double KERNEL(sgd_momentum_squares, SUFFIX)(ptrdiff_t n, T *restrict param,            \
                                                       const T *restrict grad, T *restrict buf,   \
                                                       const fastnn_sgd_hyper *h)                 \
    {                                                                                             \
        const T lr = (T)h->lr, momentum = (T)h->momentum, keep = (T)(1.0 - h->dampening);         \
        const T weight_decay = (T)h->weight_decay, l1 = (T)h->l1;                                 \
        typedef T value_type;                                                                     \
        if (h->nesterov) {                                                                        \
            SQUARES_OF_BLOCKS(T, n, param, NESTEROV_STEP);                                        \
        }                                                                                         \
        SQUARES_OF_BLOCKS(T, n, param, MOMENTUM_STEP);                                            \
    }
DEFINE_SUM_SQUARES(float, f32)
DEFINE_SUM_SQUARES(double, f64)

const fastnn_optim_kernels FASTNN_PASTE(fastnn_optim_, FASTNN_ISA) = {
    .f32 = {.sgd = KERNEL(sgd, f32), .adam = KERNEL(adam, f32),
            .few_row_gradient = KERNEL(few_row_gradient, f32), .rank1_sgd = KERNEL(rank1_sgd, f32),
            .sum_squares = KERNEL(sum_squares, f32),
            .sgd_momentum_squares = KERNEL(sgd_momentum_squares, f32)},
    .f64 = {.sgd = KERNEL(sgd, f64), .adam = KERNEL(adam, f64),
            .few_row_gradient = KERNEL(few_row_gradient, f64), .rank1_sgd = KERNEL(rank1_sgd, f64),
            .sum_squares = KERNEL(sum_squares, f64),
            .sgd_momentum_squares = KERNEL(sgd_momentum_squares, f64)},
};
