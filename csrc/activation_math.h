/* The activations and their derivatives, one scalar at a time, for float and double.
 *
 * The one home of the formulas: the per-ISA row loops (csrc/kernels/activation_rows.h) of the GEMM
 * epilogue and of the elementwise kernels, and the losses, all inline these. The derivatives of
 * ReLU, tanh and sigmoid are written in terms of the forward output y, so backward needs nothing
 * stored but y; GELU's need the pre-activation s. Definitions follow PyTorch: GELU
 * (approximate="none") is s * Phi(s) with Phi the normal CDF, GELU(approximate="tanh") is
 * s/2 * (1 + tanh(sqrt(2/pi) (s + 0.044715 s^3))).
 *
 * float32 has its own exp, tanh, Gaussian and normal tail (all GELU needs of erf), written so that
 * a loop over them vectorises: straight-line code (selects, no branches, no calls), range
 * reduction, polynomials fitted for minimax relative error (Lawson's reweighted least squares
 * against 40-digit references), and 2^n built from its bits. Worst errors over every 7th float:
 * exp 1.0 ulp, tanh 1.5, sigmoid 2.3, GELU 2.9, GELU-tanh 3.3, their derivatives 3.6 and 5.4
 * (4.5 in ulps of the terms' size, which is what is left near their zero crossing); see
 * tests/test_activation_accuracy.py. NaN propagates, and +-inf and overflow give the limits.
 * float64 calls libm: it serves gradient checks, where accuracy matters more than speed.
 *
 * The formulas are arranged so that no result is the difference of two nearly equal numbers:
 * both GELUs take their small negative-side values from a tail (Phi(-|s|), sigmoid(-|u|))
 * computed directly rather than as 1 + erf or 1 + tanh, and 1 - y^2 is (1 - y)(1 + y).
 */
#ifndef FASTNN_ACTIVATION_MATH_H
#define FASTNN_ACTIVATION_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

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
#define FASTNN_GELU_TANH_CUBIC 0.044715

/* -------------------------------------------------------------- float32 elementary functions */

static inline uint32_t fastnn_f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float fastnn_f32_from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* e^(hi + lo) for |lo| <= 1, lo carrying bits hi could not hold (0 for a plain exp).
 *
 * x = n ln2 + r with n = round(x / ln2) and |r| <= ln2 / 2; e^r = 1 + r + r^2 q(r), q of degree 4
 * (relative error 4e-9); 2^n is applied as two normal powers of two, 2^(n/2) 2^(n - n/2), so that
 * e^x overflows to inf and underflows gradually to 0 exactly where float does. Adding and
 * subtracting 1.5 * 2^23 rounds x / ln2 to an integer, which then sits in the low bits: no
 * float-to-int conversion, which vectorises poorly and is undefined for NaN. ln2 is split in
 * a 15-bit head, exact when multiplied by any |n| < 512, and its tail (Cody and Waite). */
static inline float fastnn_exp_sum_f32(float hi, float lo)
{
    const float shifter = 12582912.0f; /* 1.5 * 2^23 */
    hi = hi < -105.0f ? -105.0f : hi;  /* e^-105 rounds to 0, e^90 overflows; NaN passes */
    hi = hi > 90.0f ? 90.0f : hi;
    float rounded = (hi + lo) * 1.44269504f + shifter;
    float n = rounded - shifter;
    int32_t ni = (int32_t)(fastnn_f32_bits(rounded) - fastnn_f32_bits(shifter));
    float r = hi - n * 0.693145751953125f;
    r = r - n * 1.42860677e-6f;
    r = r + lo;
    float q = 0.00138081471f;
    q = q * r + 0.00837183464f;
    q = q * r + 0.0416687019f;
    q = q * r + 0.166664943f;
    q = q * r + 0.499999911f;
    float p = 1.0f + (r + (r * r) * q);
    int32_t n1 = ni >> 1, n2 = ni - n1; /* each within [-76, 65]: normal scales */
    float scale1 = fastnn_f32_from_bits((uint32_t)(n1 + 127) << 23);
    float scale2 = fastnn_f32_from_bits((uint32_t)(n2 + 127) << 23);
    return p * scale1 * scale2;
}

static inline float fastnn_exp_f32(float x) { return fastnn_exp_sum_f32(x, 0.0f); }

/* tanh(x) = x + x^3 p(x^2) for |x| < 0.55 (degree 4, relative error 1e-9), elsewhere
 * (1 - e) / (1 + e) with e = e^(-2|x|) <= 1/3, whose rounding error then stays below the
 * result's. */
static inline float fastnn_tanh_f32(float x)
{
    float x2 = x * x;
    float p = -0.00627424009f;
    p = p * x2 + 0.0210716799f;
    p = p * x2 - 0.0538523085f;
    p = p * x2 + 0.13332586f;
    p = p * x2 - 0.333333164f;
    float near_zero = x + x * x2 * p;
    float e = fastnn_exp_f32(-2.0f * fabsf(x));
    float far = copysignf((1.0f - e) / (1.0f + e), x);
    return fabsf(x) < 0.55f ? near_zero : far;
}

/* e^(-s^2/2), accurate for every s. A rounded s^2 would carry s^2 2^-24 of absolute error into the
 * exponent, 100 ulp near s = 13; so s is split into two halves of 12 significant bits, whose
 * products are exact, and the square reaches the exponential as a sum of two floats. */
static inline float fastnn_gaussian_f32(float s)
{
    s = fabsf(s);
    s = s > 16.0f ? 16.0f : s; /* e^-128 is below float's range */
    float head = fastnn_f32_from_bits(fastnn_f32_bits(s) & 0xfffff000u);
    float tail = s - head;
    return fastnn_exp_sum_f32(-0.5f * head * head, -(head * tail + 0.5f * tail * tail));
}

/* Phi(-|s|), the normal distribution's tail, given g = e^(-s^2/2): g t q(t) with
 * t = 1/(1 + |s| 5/16) and q of degree 9, fitted over |s| <= 14 (relative error 1e-8); beyond, g
 * is 0. t and q are evaluated in double (cheap beside the exponential): in float their rounding
 * alone costs 5 ulp. No 1 - erf: the tail is computed directly, so Phi(s) keeps its relative
 * accuracy to s = -inf. */
static inline float fastnn_normal_tail_f32(float s, float g)
{
    double t = 1.0 / (1.0 + 0.3125 * fabs((double)s));
    double q = -0.018817313;
    q = q * t + 0.0902958363;
    q = q * t - 0.148393005;
    q = q * t + 0.0706702173;
    q = q * t + 0.000488691439;
    q = q * t + 0.0539094247;
    q = q * t + 0.0906535387;
    q = q * t + 0.111763328;
    q = q * t + 0.124764644;
    q = q * t + 0.124664634;
    return (float)((double)g * (t * q));
}

/* sigmoid(u) and sigmoid(-u) for u = hi + lo, from e = e^(-|u|) <= 1, which never overflows: both
 * are accurate for every u, the second without the cancellation of 1 - sigmoid(u) near 1. lo
 * lets an argument computed in double keep its precision: e^u turns an absolute error in u into
 * the same relative error. */
static inline float fastnn_exp_minus_abs_f32(float hi, float lo)
{
    return fastnn_exp_sum_f32(hi < 0 ? hi : -hi, hi < 0 ? lo : -lo);
}

static inline float fastnn_sigmoid_sum_f32(float hi, float lo)
{
    float e = fastnn_exp_minus_abs_f32(hi, lo);
    return (hi >= 0 ? 1.0f : e) / (1.0f + e);
}

/* sigmoid(-u), from the same e */
static inline float fastnn_sigmoid_minus_sum_f32(float hi, float lo)
{
    float e = fastnn_exp_minus_abs_f32(hi, lo);
    return (hi >= 0 ? e : 1.0f) / (1.0f + e);
}

static inline float fastnn_sigmoid_f32(float x) { return fastnn_sigmoid_sum_f32(x, 0.0f); }

/* A double as the sum of two floats. */
static inline void fastnn_split_f32(double x, float *hi, float *lo)
{
    *hi = (float)x;
    *lo = (float)(x - (double)*hi);
}

/* ------------------------------------------------------------------ float64: libm */

static inline double fastnn_tanh_f64(double x) { return tanh(x); }
static inline double fastnn_gaussian_f64(double s) { return exp(-0.5 * s * s); }
static inline double fastnn_normal_tail_f64(double s, double g)
{
    (void)g;
    return 0.5 * erfc(fabs(s) * FASTNN_SQRT1_2);
}
static inline double fastnn_sigmoid_sum_f64(double hi, double lo)
{
    double u = hi + lo, e = exp(-fabs(u));
    return (u >= 0 ? 1.0 : e) / (1.0 + e);
}
static inline double fastnn_sigmoid_minus_sum_f64(double hi, double lo)
{
    return fastnn_sigmoid_sum_f64(-hi, -lo);
}
static inline double fastnn_sigmoid_f64(double x) { return fastnn_sigmoid_sum_f64(x, 0.0); }
static inline void fastnn_split_f64(double x, double *hi, double *lo)
{
    *hi = x;
    *lo = 0;
}

/* ------------------------------------------------------------------ the activations */

/* GELU-tanh's argument u = 2 sqrt(2/pi) (s + 0.044715 s^3), with 1 + tanh(u/2) = 2 sigmoid(u).
 * In double even for float: sigmoid(u) = e^u for u << 0 and u is cubic in s, so each ulp of
 * error in u costs |u| ulp of the result (near s = -10, 80 ulp). */
static inline double fastnn_gelu_tanh_arg(double s)
{
    return s * (2 * FASTNN_SQRT2_PI + 2 * FASTNN_SQRT2_PI * FASTNN_GELU_TANH_CUBIC * s * s);
}

/* s du/ds, for the derivative sigmoid(u) + s sigmoid(u) sigmoid(-u) du/ds
 * = sigmoid(u) (1 + s du/ds sigmoid(-u)), which rounds less. */
static inline double fastnn_gelu_tanh_arg_slope_times(double s)
{
    return s * (2 * FASTNN_SQRT2_PI + 6 * FASTNN_SQRT2_PI * FASTNN_GELU_TANH_CUBIC * s * s);
}

/* s is clamped to [-16, 16] where only a limit is left (Phi and sigmoid(u) saturated, the Gaussian
 * 0), so that s = +-inf gives that limit times a finite number instead of inf * 0 or inf - inf;
 * a NaN passes the clamps. */
#define FASTNN_DEFINE_ACTIVATION_MATH(T, SUFFIX)                                                  \
    static inline T fastnn_clamp16_##SUFFIX(T s)                                                  \
    {                                                                                             \
        return s < -16 ? (T)-16 : s > 16 ? (T)16 : s;                                             \
    }                                                                                             \
    static inline T fastnn_normal_cdf_##SUFFIX(T s, T g)                                          \
    {                                                                                             \
        T tail = fastnn_normal_tail_##SUFFIX(s, g);                                               \
        return s < 0 ? tail : (T)1 - tail;                                                        \
    }                                                                                             \
    static inline T fastnn_act_forward_##SUFFIX(fastnn_activation act, T s)                       \
    {                                                                                             \
        T above_minus_16 = s < -16 ? (T)-16 : s, clamped = fastnn_clamp16_##SUFFIX(s);            \
        T u_hi, u_lo;                                                                             \
        switch (act) {                                                                            \
        case FASTNN_ACT_RELU: return !(s <= 0) ? s : (T)0; /* NaN passes */                       \
        case FASTNN_ACT_TANH: return fastnn_tanh_##SUFFIX(s);                                     \
        case FASTNN_ACT_SIGMOID: return fastnn_sigmoid_##SUFFIX(s);                               \
        case FASTNN_ACT_GELU:                                                                     \
            return above_minus_16 * fastnn_normal_cdf_##SUFFIX(s, fastnn_gaussian_##SUFFIX(s));   \
        case FASTNN_ACT_GELU_TANH:                                                                \
            fastnn_split_##SUFFIX(fastnn_gelu_tanh_arg(clamped), &u_hi, &u_lo);                   \
            return above_minus_16 * fastnn_sigmoid_sum_##SUFFIX(u_hi, u_lo);                      \
        default: return s;                                                                        \
        }                                                                                         \
    }                                                                                             \
    /* d act / d s, from the output y (ReLU, tanh, sigmoid) or the input s (GELU forms). */       \
    static inline T fastnn_act_derivative_##SUFFIX(fastnn_activation act, T s, T y)               \
    {                                                                                             \
        T clamped = fastnn_clamp16_##SUFFIX(s), g, u_hi, u_lo, s_du;                              \
        switch (act) {                                                                            \
        case FASTNN_ACT_RELU: return y > 0 ? (T)1 : (T)0;                                         \
        case FASTNN_ACT_TANH: return ((T)1 - y) * ((T)1 + y);                                     \
        case FASTNN_ACT_SIGMOID: return y * ((T)1 - y);                                           \
        case FASTNN_ACT_GELU:                                                                     \
            g = fastnn_gaussian_##SUFFIX(s);                                                      \
            return fastnn_normal_cdf_##SUFFIX(s, g) + clamped * (T)FASTNN_INV_SQRT_2PI * g;       \
        case FASTNN_ACT_GELU_TANH:                                                                \
            fastnn_split_##SUFFIX(fastnn_gelu_tanh_arg(clamped), &u_hi, &u_lo);                   \
            s_du = (T)fastnn_gelu_tanh_arg_slope_times(clamped);                                  \
            return fastnn_sigmoid_sum_##SUFFIX(u_hi, u_lo) *                                      \
                   ((T)1 + s_du * fastnn_sigmoid_minus_sum_##SUFFIX(u_hi, u_lo));                 \
        default: return (T)1;                                                                     \
        }                                                                                         \
    }

FASTNN_DEFINE_ACTIVATION_MATH(float, f32)
FASTNN_DEFINE_ACTIVATION_MATH(double, f64)

#undef FASTNN_DEFINE_ACTIVATION_MATH

#endif
