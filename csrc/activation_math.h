/* The activations and their derivatives, one scalar at a time, for float and double.
 *
 * Shared by the GEMM epilogue (forward, fused into the write-back of C) and by the elementwise
 * kernels (backward), so every formula exists once. The derivatives of ReLU, tanh and sigmoid are
 * written in terms of the forward output y, so backward needs nothing stored but y; GELU's needs
 * the pre-activation s. Definitions follow PyTorch: GELU(approximate="none") uses erf,
 * GELU(approximate="tanh") the tanh form.
 */
#ifndef FASTNN_ACTIVATION_MATH_H
#define FASTNN_ACTIVATION_MATH_H

#include <math.h>

typedef enum {
    FASTNN_ACT_IDENTITY = 0,
    FASTNN_ACT_RELU = 1,
    FASTNN_ACT_TANH = 2,
    FASTNN_ACT_SIGMOID = 3,
    FASTNN_ACT_GELU = 4,      /* exact: s * Phi(s) */
    FASTNN_ACT_GELU_TANH = 5, /* PyTorch's approximate="tanh" */
    FASTNN_ACT_COUNT
} fastnn_activation;

/* True where the derivative is a function of the output alone. */
static inline int fastnn_act_derivative_from_output(fastnn_activation act)
{
    return act != FASTNN_ACT_GELU && act != FASTNN_ACT_GELU_TANH;
}

#define FASTNN_SQRT1_2 0.70710678118654752440
#define FASTNN_SQRT2_PI 0.79788456080286535588 /* sqrt(2 / pi) */
#define FASTNN_INV_SQRT_2PI 0.39894228040143267794

#define FASTNN_DEFINE_ACTIVATION_MATH(T, SUFFIX, EXP, TANH, ERF)                                  \
    /* exp(-|s|) never overflows, so sigmoid is finite for every finite s. */                     \
    static inline T fastnn_sigmoid_##SUFFIX(T s)                                                  \
    {                                                                                             \
        T e = EXP(-(T)fabs((double)s));                                                           \
        return s >= 0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e);                                       \
    }                                                                                             \
    static inline T fastnn_act_forward_##SUFFIX(fastnn_activation act, T s)                       \
    {                                                                                             \
        switch (act) {                                                                            \
        case FASTNN_ACT_RELU: return s > 0 ? s : (s != s ? s : (T)0);                             \
        case FASTNN_ACT_TANH: return TANH(s);                                                     \
        case FASTNN_ACT_SIGMOID: return fastnn_sigmoid_##SUFFIX(s);                               \
        case FASTNN_ACT_GELU: return (T)0.5 * s * ((T)1 + ERF(s * (T)FASTNN_SQRT1_2));            \
        case FASTNN_ACT_GELU_TANH: {                                                              \
            T inner = (T)FASTNN_SQRT2_PI * (s + (T)0.044715 * s * s * s);                         \
            return (T)0.5 * s * ((T)1 + TANH(inner));                                             \
        }                                                                                         \
        default: return s;                                                                        \
        }                                                                                         \
    }                                                                                             \
    /* d act / d s, from the output y (ReLU, tanh, sigmoid) or the input s (GELU forms). */      \
    static inline T fastnn_act_derivative_##SUFFIX(fastnn_activation act, T s, T y)               \
    {                                                                                             \
        switch (act) {                                                                            \
        case FASTNN_ACT_RELU: return y > 0 ? (T)1 : (T)0;                                         \
        case FASTNN_ACT_TANH: return (T)1 - y * y;                                                \
        case FASTNN_ACT_SIGMOID: return y * ((T)1 - y);                                           \
        case FASTNN_ACT_GELU: {                                                                   \
            T cdf = (T)0.5 * ((T)1 + ERF(s * (T)FASTNN_SQRT1_2));                                 \
            T pdf = (T)FASTNN_INV_SQRT_2PI * EXP((T)-0.5 * s * s);                                \
            return cdf + s * pdf;                                                                 \
        }                                                                                         \
        case FASTNN_ACT_GELU_TANH: {                                                              \
            T s2 = s * s;                                                                         \
            T t = TANH((T)FASTNN_SQRT2_PI * (s + (T)0.044715 * s2 * s));                          \
            T dinner = (T)FASTNN_SQRT2_PI * ((T)1 + (T)3 * (T)0.044715 * s2);                     \
            return (T)0.5 * ((T)1 + t) + (T)0.5 * s * ((T)1 - t * t) * dinner;                    \
        }                                                                                         \
        default: return (T)1;                                                                     \
        }                                                                                         \
    }

FASTNN_DEFINE_ACTIVATION_MATH(float, f32, expf, tanhf, erff)
FASTNN_DEFINE_ACTIVATION_MATH(double, f64, exp, tanh, erf)

#undef FASTNN_DEFINE_ACTIVATION_MATH

#endif
