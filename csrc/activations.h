/* The activations as whole-array kernels, forward and backward, plus softmax and the fused
 * first step of a Linear layer's backward (dS = dY * act'(S) and db = sum over rows of dS).
 *
 * `act` is an activation of csrc/activation_table.h with its parameters. Arrays are contiguous unless a leading
 * dimension is given; a kernel may write in place (y == x) when it reads each element before
 * writing it. The scalar formulas come from activation_math.h. */
#ifndef FASTNN_ACTIVATIONS_H
#define FASTNN_ACTIVATIONS_H

#include <stddef.h>

#include "activation_table.h"

#define FASTNN_DECLARE_ACTIVATIONS(T, SUFFIX)                                                     \
    /* y = act(x), n elements; y may be x. */                                                     \
    void fastnn_activation_forward_##SUFFIX(fastnn_activation_spec act, ptrdiff_t n, const T *x,  \
                                            T *y);                                                \
    /* grad_input = grad_output * act'(saved), where saved is the forward output or input, as the \
     * activation table says; grad_input may alias either. */                                    \
    void fastnn_activation_backward_##SUFFIX(fastnn_activation_spec act, ptrdiff_t n,             \
                                             const T *grad_output, const T *saved,                \
                                             T *grad_input);                                      \
    /* One pass over a rows x cols gradient: delta = grad_output * act'(saved) (skipped when      \
     * delta is NULL, for the identity), and bias_grad (cols) = (or +=, with accumulate) the      \
     * column sums of delta, accumulated in double (skipped when bias_grad is NULL). */           \
    void fastnn_delta_and_bias_grad_##SUFFIX(                                                     \
        fastnn_activation_spec act, ptrdiff_t rows, ptrdiff_t cols, const T *grad_output,         \
        ptrdiff_t ld_grad_output,                                                                 \
        const T *saved, ptrdiff_t ld_saved, T *delta, ptrdiff_t ld_delta, T *bias_grad,           \
        int accumulate);                                                                          \
    /* Softmax (or log-softmax) of each contiguous row: max-subtracted, sums in double. */        \
    void fastnn_softmax_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, const T *x, T *y, int take_log); \
    /* grad_input of softmax (from its output y): y * (g - sum(g * y)); of log-softmax:           \
     * g - exp(y) * sum(g). Per contiguous row; grad_input may alias grad_output. */              \
    void fastnn_softmax_backward_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, const T *grad_output,   \
                                          const T *output, T *grad_input, int take_log);

FASTNN_DECLARE_ACTIVATIONS(float, f32)
FASTNN_DECLARE_ACTIVATIONS(double, f64)

#undef FASTNN_DECLARE_ACTIVATIONS

#endif
