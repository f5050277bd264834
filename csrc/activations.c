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

/* Each pass: its operands in a struct, and the work on a span [lo, hi) of its elements, rows or
 * column blocks (elementwise.h splits the spans among threads). */
#define DEFINE_ACTIVATIONS(T, SUFFIX, EXP)                                                        \
    static const fastnn_activation_kernels_##SUFFIX *kernels_##SUFFIX(void)                       \
    {                                                                                             \
        return &fastnn_active_context()->activations->SUFFIX;                                     \
    }                                                                                             \
                                                                                                  \
    typedef struct {                                                                              \
        const fastnn_activation_kernels_##SUFFIX *k;                                              \
        fastnn_activation_spec act;                                                               \
        const T *x, *saved;                                                                       \
        T *y;                                                                                     \
    } activation_args_##SUFFIX;                                                                   \
                                                                                                  \
    static void forward_span_##SUFFIX(const void *args, ptrdiff_t lo, ptrdiff_t hi)               \
    {                                                                                             \
        const activation_args_##SUFFIX *p = args;                                                 \
        p->k->forward(p->act, hi - lo, p->x + lo, p->y + lo);                                     \
    }                                                                                             \
                                                                                                  \
    void fastnn_activation_forward_##SUFFIX(fastnn_activation_spec act, ptrdiff_t n, const T *x,  \
                                            T *y)                                                 \
    {                                                                                             \
        activation_args_##SUFFIX args = {kernels_##SUFFIX(), act, x, NULL, y};                    \
        fastnn_for_each_span(n, n, forward_span_##SUFFIX, &args);                                 \
    }                                                                                             \
                                                                                                  \
    static void backward_span_##SUFFIX(const void *args, ptrdiff_t lo, ptrdiff_t hi)              \
    {                                                                                             \
        const activation_args_##SUFFIX *p = args; /* x: the output gradient, y: the input's */    \
        p->k->backward(p->act, hi - lo, p->x + lo, p->saved + lo, p->y + lo);                     \
    }                                                                                             \
                                                                                                  \
    void fastnn_activation_backward_##SUFFIX(fastnn_activation_spec act, ptrdiff_t n,             \
                                             const T *grad_output, const T *saved,                \
                                             T *grad_input)                                       \
    {                                                                                             \
        activation_args_##SUFFIX args = {kernels_##SUFFIX(), act, grad_output, saved, grad_input};\
        fastnn_for_each_span(n, n, backward_span_##SUFFIX, &args);                                \
    }                                                                                             \
                                                                                                  \
    typedef struct {                                                                              \
        const fastnn_activation_kernels_##SUFFIX *k;                                              \
        fastnn_activation_spec act;                                                               \
        int accumulate;                                                                           \
        ptrdiff_t rows, cols, ld_grad_output, ld_saved, ld_delta;                                 \
        const T *grad_output, *saved;                                                             \
        T *delta, *bias_grad;                                                                     \
    } delta_args_##SUFFIX;                                                                        \
                                                                                                  \
    static void delta_span_##SUFFIX(const void *args, ptrdiff_t lo, ptrdiff_t hi)                 \
    {                                                                                             \
        const delta_args_##SUFFIX *p = args;                                                      \
        for (ptrdiff_t block = lo; block < hi; block++) {                                         \
            ptrdiff_t j0 = block * BIAS_GRAD_BLOCK;                                               \
            ptrdiff_t width = p->cols - j0 < BIAS_GRAD_BLOCK ? p->cols - j0 : BIAS_GRAD_BLOCK;    \
            double sums[BIAS_GRAD_BLOCK];                                                         \
            for (ptrdiff_t j = 0; j < width; j++) sums[j] = 0;                                    \
            p->k->delta_and_column_sums(p->act, p->rows, width, p->grad_output + j0,              \
                                        p->ld_grad_output, p->delta ? p->saved + j0 : NULL,       \
                                        p->ld_saved, p->delta ? p->delta + j0 : NULL,             \
                                        p->ld_delta, sums);                                       \
            if (p->bias_grad) {                                                                   \
                T *out = p->bias_grad + j0;                                                       \
                for (ptrdiff_t j = 0; j < width; j++)                                             \
                    out[j] = (T)(p->accumulate ? sums[j] + (double)out[j] : sums[j]);             \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
                                                                                                  \
    void fastnn_delta_and_bias_grad_##SUFFIX(                                                     \
        fastnn_activation_spec act, ptrdiff_t rows, ptrdiff_t cols, const T *grad_output,         \
        ptrdiff_t ld_grad_output,                                                                 \
        const T *saved, ptrdiff_t ld_saved, T *delta, ptrdiff_t ld_delta, T *bias_grad,           \
        int accumulate)                                                                           \
    {                                                                                             \
        delta_args_##SUFFIX args = {kernels_##SUFFIX(), act, accumulate, rows, cols,              \
                                    ld_grad_output, ld_saved, ld_delta, grad_output, saved,       \
                                    delta, bias_grad};                                            \
        ptrdiff_t blocks = (cols + BIAS_GRAD_BLOCK - 1) / BIAS_GRAD_BLOCK;                        \
        fastnn_for_each_span(rows * cols, blocks, delta_span_##SUFFIX, &args);                    \
    }                                                                                             \
                                                                                                  \
    typedef struct {                                                                              \
        ptrdiff_t cols;                                                                           \
        const T *x, *y; /* forward: input and output; backward: grad_output and output */         \
        T *out;         /* forward: unused (y is written); backward: grad_input */                \
        int take_log;                                                                             \
    } softmax_args_##SUFFIX;                                                                      \
                                                                                                  \
    static void softmax_span_##SUFFIX(const void *args, ptrdiff_t lo, ptrdiff_t hi)               \
    {                                                                                             \
        const softmax_args_##SUFFIX *p = args;                                                    \
        const ptrdiff_t cols = p->cols;                                                           \
        for (ptrdiff_t i = lo; i < hi; i++) {                                                     \
            const T *xi = p->x + i * cols;                                                        \
            T *yi = p->out + i * cols;                                                            \
            T max = xi[0];                                                                        \
            for (ptrdiff_t j = 1; j < cols; j++) max = xi[j] > max ? xi[j] : max;                 \
            double sum = 0;                                                                       \
            if (p->take_log) {                                                                    \
                for (ptrdiff_t j = 0; j < cols; j++) sum += EXP(xi[j] - max);                     \
                T shift = max + (T)log(sum);                                                      \
                for (ptrdiff_t j = 0; j < cols; j++) yi[j] = xi[j] - shift;                       \
            } else {                                                                              \
                for (ptrdiff_t j = 0; j < cols; j++) sum += yi[j] = EXP(xi[j] - max);             \
                T scale = (T)(1 / sum);                                                           \
                for (ptrdiff_t j = 0; j < cols; j++) yi[j] *= scale;                              \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
                                                                                                  \
    void fastnn_softmax_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, const T *x, T *y, int take_log)  \
    {                                                                                             \
        softmax_args_##SUFFIX args = {cols, x, NULL, y, take_log};                                \
        if (cols == 0) /* empty rows: nothing to write, and no xi[0] to start the max from */     \
            return;                                                                               \
        fastnn_for_each_span(rows * cols, rows, softmax_span_##SUFFIX, &args);                    \
    }                                                                                             \
                                                                                                  \
    static void softmax_backward_span_##SUFFIX(const void *args, ptrdiff_t lo, ptrdiff_t hi)      \
    {                                                                                             \
        const softmax_args_##SUFFIX *p = args;                                                    \
        const ptrdiff_t cols = p->cols;                                                           \
        for (ptrdiff_t i = lo; i < hi; i++) {                                                     \
            const T *g = p->x + i * cols, *yi = p->y + i * cols;                                  \
            T *gi = p->out + i * cols;                                                            \
            double sum = 0;                                                                       \
            if (p->take_log) {                                                                    \
                for (ptrdiff_t j = 0; j < cols; j++) sum += g[j];                                 \
                for (ptrdiff_t j = 0; j < cols; j++) gi[j] = g[j] - EXP(yi[j]) * (T)sum;          \
            } else {                                                                              \
                for (ptrdiff_t j = 0; j < cols; j++) sum += (double)g[j] * yi[j];                 \
                for (ptrdiff_t j = 0; j < cols; j++) gi[j] = yi[j] * (g[j] - (T)sum);             \
            }                                                                                     \
        }                                                                                         \
    }                                                                                             \
                                                                                                  \
    void fastnn_softmax_backward_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, const T *grad_output,   \
                                          const T *output, T *grad_input, int take_log)           \
    {                                                                                             \
        softmax_args_##SUFFIX args = {cols, grad_output, output, grad_input, take_log};           \
        fastnn_for_each_span(rows * cols, rows, softmax_backward_span_##SUFFIX, &args);           \
    }

DEFINE_ACTIVATIONS(float, f32, expf)
DEFINE_ACTIVATIONS(double, f64, exp)
