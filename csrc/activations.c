/* Whole-array activations, softmax, and the fused delta / bias-gradient pass of Linear's backward.
 *
 * The activations' row loops are kernels, compiled once per instruction set
 * (csrc/kernels/activation_rows.h) and taken from the active context; this file splits the work
 * among threads and sets the floating-point environment around them. */
#include "activations.h"

#include <math.h>

#include "elementwise.h"
#include "kernel_context.h"

#define TABLE_ROW(ARG, NAME, name, FROM, param_a, default_a, param_b, default_b)                  \
    [FASTNN_ACT_##NAME] = {#name, FASTNN_FROM_##FROM, param_a, default_a, param_b, default_b},
#define FASTNN_FROM_INPUT 1
#define FASTNN_FROM_OUTPUT 0
const fastnn_activation_info fastnn_activation_table[FASTNN_ACT_COUNT] = {
    FASTNN_ACTIVATION_TABLE(TABLE_ROW, _)};
#undef TABLE_ROW

/* Columns per block of the bias-gradient reduction: the block's double accumulators stay in L1
 * while the rows stream past, and blocks are what threads share out. */
#define BIAS_GRAD_BLOCK 256

#define DEFINE_ACTIVATIONS(T, SUFFIX, EXP)                                                        \
    static const fastnn_activation_kernels_##SUFFIX *kernels_##SUFFIX(void)                       \
    {                                                                                             \
        return &fastnn_active_context()->activations->SUFFIX;                                     \
    }                                                                                             \
                                                                                                  \
    void fastnn_activation_forward_##SUFFIX(fastnn_activation_spec act, ptrdiff_t n, const T *x,  \
                                            T *y)                                                 \
    {                                                                                             \
        const fastnn_activation_kernels_##SUFFIX *k = kernels_##SUFFIX();                         \
        FASTNN_FOR_EACH_SPAN(n, n, k->forward(act, hi - lo, x + lo, y + lo));                     \
    }                                                                                             \
                                                                                                  \
    void fastnn_activation_backward_##SUFFIX(fastnn_activation_spec act, ptrdiff_t n,             \
                                             const T *grad_output, const T *saved,                \
                                             T *grad_input)                                       \
    {                                                                                             \
        const fastnn_activation_kernels_##SUFFIX *k = kernels_##SUFFIX();                         \
        FASTNN_FOR_EACH_SPAN(n, n,                                                                \
                             k->backward(act, hi - lo, grad_output + lo, saved + lo,              \
                                         grad_input + lo));                                       \
    }                                                                                             \
                                                                                                  \
    void fastnn_delta_and_bias_grad_##SUFFIX(                                                     \
        fastnn_activation_spec act, ptrdiff_t rows, ptrdiff_t cols, const T *grad_output,         \
        ptrdiff_t ld_grad_output,                                                                 \
        const T *saved, ptrdiff_t ld_saved, T *delta, ptrdiff_t ld_delta, T *bias_grad,           \
        int accumulate)                                                                           \
    {                                                                                             \
        const fastnn_activation_kernels_##SUFFIX *k = kernels_##SUFFIX();                         \
        ptrdiff_t blocks = (cols + BIAS_GRAD_BLOCK - 1) / BIAS_GRAD_BLOCK;                        \
        FASTNN_FOR_EACH_SPAN(rows * cols, blocks, {                                               \
            for (ptrdiff_t block = lo; block < hi; block++) {                                     \
                ptrdiff_t j0 = block * BIAS_GRAD_BLOCK;                                           \
                ptrdiff_t width = cols - j0 < BIAS_GRAD_BLOCK ? cols - j0 : BIAS_GRAD_BLOCK;      \
                double sums[BIAS_GRAD_BLOCK];                                                     \
                for (ptrdiff_t j = 0; j < width; j++) sums[j] = 0;                                \
                k->delta_and_column_sums(act, rows, width, grad_output + j0, ld_grad_output,      \
                                         delta ? saved + j0 : NULL, ld_saved,                     \
                                         delta ? delta + j0 : NULL, ld_delta, sums);              \
                if (bias_grad) {                                                                  \
                    T *out = bias_grad + j0;                                                      \
                    for (ptrdiff_t j = 0; j < width; j++)                                         \
                        out[j] = (T)(accumulate ? sums[j] + (double)out[j] : sums[j]);            \
                }                                                                                 \
            }                                                                                     \
        });                                                                                       \
    }                                                                                             \
                                                                                                  \
    void fastnn_softmax_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, const T *x, T *y, int take_log)  \
    {                                                                                             \
        FASTNN_FOR_EACH_SPAN(rows * cols, rows, {                                                 \
            for (ptrdiff_t i = lo; i < hi; i++) {                                                 \
                const T *xi = x + i * cols;                                                       \
                T *yi = y + i * cols;                                                             \
                T max = xi[0];                                                                    \
                for (ptrdiff_t j = 1; j < cols; j++) max = xi[j] > max ? xi[j] : max;             \
                double sum = 0;                                                                   \
                if (take_log) {                                                                   \
                    for (ptrdiff_t j = 0; j < cols; j++) sum += EXP(xi[j] - max);                 \
                    T shift = max + (T)log(sum);                                                  \
                    for (ptrdiff_t j = 0; j < cols; j++) yi[j] = xi[j] - shift;                   \
                } else {                                                                          \
                    for (ptrdiff_t j = 0; j < cols; j++) sum += yi[j] = EXP(xi[j] - max);         \
                    T scale = (T)(1 / sum);                                                       \
                    for (ptrdiff_t j = 0; j < cols; j++) yi[j] *= scale;                          \
                }                                                                                 \
            }                                                                                     \
        });                                                                                       \
    }                                                                                             \
                                                                                                  \
    void fastnn_softmax_backward_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, const T *grad_output,   \
                                          const T *output, T *grad_input, int take_log)           \
    {                                                                                             \
        FASTNN_FOR_EACH_SPAN(rows * cols, rows, {                                                 \
            for (ptrdiff_t i = lo; i < hi; i++) {                                                 \
                const T *g = grad_output + i * cols, *yi = output + i * cols;                     \
                T *gi = grad_input + i * cols;                                                    \
                double sum = 0;                                                                   \
                if (take_log) {                                                                   \
                    for (ptrdiff_t j = 0; j < cols; j++) sum += g[j];                             \
                    for (ptrdiff_t j = 0; j < cols; j++) gi[j] = g[j] - EXP(yi[j]) * (T)sum;      \
                } else {                                                                          \
                    for (ptrdiff_t j = 0; j < cols; j++) sum += (double)g[j] * yi[j];             \
                    for (ptrdiff_t j = 0; j < cols; j++) gi[j] = yi[j] * (g[j] - (T)sum);         \
                }                                                                                 \
            }                                                                                     \
        });                                                                                       \
    }

DEFINE_ACTIVATIONS(float, f32, expf)
DEFINE_ACTIVATIONS(double, f64, exp)
