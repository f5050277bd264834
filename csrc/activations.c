/* Whole-array activations, softmax, and the fused delta / bias-gradient pass of Linear's backward.
 *
 * Each loop is instantiated once per activation (the switch sits outside the loop), so the
 * compiler sees a constant activation and can vectorise ReLU and friends. */
/* Without trapping math, gcc if-converts ReLU's derivative (a select multiplied into the gradient)
 * and vectorises the backward pass; with it, the loop stays scalar and branchy, ~10x slower.
 * Nothing here relies on floating-point traps. Set before the includes, so that the inlined
 * formulas of activation_math.h are compiled the same way. */
#pragma GCC optimize("no-trapping-math")

#include "activations.h"

#include <math.h>

#include "activation_math.h"
#include "elementwise.h"

/* Columns per block of the bias-gradient reduction: the block's double accumulators stay in L1
 * while the rows stream past, and blocks are what threads share out. */
#define BIAS_GRAD_BLOCK 256

#define FOR_EACH_ACTIVATION(act, LOOP)                                                            \
    switch ((fastnn_activation)(act)) {                                                           \
    case FASTNN_ACT_RELU: LOOP(FASTNN_ACT_RELU); break;                                           \
    case FASTNN_ACT_TANH: LOOP(FASTNN_ACT_TANH); break;                                           \
    case FASTNN_ACT_SIGMOID: LOOP(FASTNN_ACT_SIGMOID); break;                                     \
    case FASTNN_ACT_GELU: LOOP(FASTNN_ACT_GELU); break;                                           \
    case FASTNN_ACT_GELU_TANH: LOOP(FASTNN_ACT_GELU_TANH); break;                                 \
    default: LOOP(FASTNN_ACT_IDENTITY); break;                                                    \
    }

/* The derivative's second and third arguments are the input s and the output y; each activation
 * reads only the one it is written in (activation_math.h), and `saved` is that one. */
#define FORWARD_LOOP(ACT)                                                                         \
    for (ptrdiff_t i = lo; i < hi; i++) y[i] = FORWARD(ACT, x[i])
#define BACKWARD_LOOP(ACT)                                                                        \
    for (ptrdiff_t i = lo; i < hi; i++)                                                           \
        grad_input[i] = grad_output[i] * DERIVATIVE(ACT, saved[i], saved[i])
#define DELTA_ROW_LOOP(ACT)                                                                       \
    for (ptrdiff_t j = 0; j < width; j++) {                                                       \
        __typeof__(*d) delta_j = g[j] * DERIVATIVE(ACT, s[j], s[j]);                              \
        d[j] = delta_j;                                                                           \
        sums[j] += delta_j;                                                                       \
    }

#define DEFINE_ACTIVATIONS(T, SUFFIX, EXP)                                                        \
    void fastnn_activation_forward_##SUFFIX(int act, ptrdiff_t n, const T *x, T *y)               \
    {                                                                                             \
        FASTNN_FOR_EACH_SPAN(n, n, FOR_EACH_ACTIVATION(act, FORWARD_LOOP));                       \
    }                                                                                             \
                                                                                                  \
    void fastnn_activation_backward_##SUFFIX(int act, ptrdiff_t n, const T *grad_output,          \
                                             const T *saved, T *grad_input)                       \
    {                                                                                             \
        FASTNN_FOR_EACH_SPAN(n, n, FOR_EACH_ACTIVATION(act, BACKWARD_LOOP));                      \
    }                                                                                             \
                                                                                                  \
    void fastnn_delta_and_bias_grad_##SUFFIX(                                                     \
        int act, ptrdiff_t rows, ptrdiff_t cols, const T *grad_output, ptrdiff_t ld_grad_output,  \
        const T *saved, ptrdiff_t ld_saved, T *delta, ptrdiff_t ld_delta, T *bias_grad,           \
        int accumulate)                                                                           \
    {                                                                                             \
        ptrdiff_t blocks = (cols + BIAS_GRAD_BLOCK - 1) / BIAS_GRAD_BLOCK;                        \
        FASTNN_FOR_EACH_SPAN(rows * cols, blocks, {                                               \
            for (ptrdiff_t block = lo; block < hi; block++) {                                     \
                ptrdiff_t j0 = block * BIAS_GRAD_BLOCK;                                           \
                ptrdiff_t width = cols - j0 < BIAS_GRAD_BLOCK ? cols - j0 : BIAS_GRAD_BLOCK;      \
                double sums[BIAS_GRAD_BLOCK];                                                     \
                for (ptrdiff_t j = 0; j < width; j++) sums[j] = 0;                                \
                for (ptrdiff_t i = 0; i < rows; i++) {                                            \
                    const T *g = grad_output + i * ld_grad_output + j0;                           \
                    if (delta) {                                                                  \
                        const T *s = saved + i * ld_saved + j0;                                   \
                        T *d = delta + i * ld_delta + j0;                                         \
                        FOR_EACH_ACTIVATION(act, DELTA_ROW_LOOP);                                 \
                    } else {                                                                      \
                        for (ptrdiff_t j = 0; j < width; j++) sums[j] += g[j];                    \
                    }                                                                             \
                }                                                                                 \
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

#define FORWARD fastnn_act_forward_f32
#define DERIVATIVE fastnn_act_derivative_f32
DEFINE_ACTIVATIONS(float, f32, expf)
#undef FORWARD
#undef DERIVATIVE
#define FORWARD fastnn_act_forward_f64
#define DERIVATIVE fastnn_act_derivative_f64
DEFINE_ACTIVATIONS(double, f64, exp)
