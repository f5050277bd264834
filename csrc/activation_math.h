/* The activations and their derivatives, one scalar at a time, for float and double.
 *
 * The one home of the formulas: the per-ISA row loops (csrc/kernels/activation_rows.h) of the GEMM
 * epilogue and of the elementwise kernels, and the losses, all inline these; which activations
 * there are, and whether each derivative reads the output y (ReLU, tanh, sigmoid, LeakyReLU, ELU:
 * backward keeps nothing but y) or the pre-activation s (the GELUs, SiLU, Softplus), is the table
 * of activation_table.h. Definitions follow PyTorch: GELU
 * (approximate="none") is s * Phi(s) with Phi the normal CDF, GELU(approximate="tanh") is
 * s/2 * (1 + tanh(sqrt(2/pi) (s + 0.044715 s^3))).
 *
 * float32 has its own exp, tanh, Gaussian and normal tail (all GELU needs of erf), written so that
 * a loop over them vectorises: straight-line code (selects, no branches, no calls), range
 * reduction, polynomials fitted for minimax relative error (Lawson's reweighted least squares
 * against 40-digit references), and 2^n built from its bits. Worst errors over every 7th float:
 * exp 1.0 ulp, tanh 1.5, sigmoid 2.3, GELU 2.9, GELU-tanh 3.3, their derivatives 3.6 and 5.4
 * (4.5 in ulps of the terms' size, which is what is left near their zero crossing); over the
 * sweep of tests/test_activation_accuracy.py, LeakyReLU 0.5, ELU 1.1 (expm1 by its series near
 * 0), SiLU 2.7 and its derivative 3.3 (in ulps of its terms), Softplus 3.2 (log1p by an atanh
 * series; beta s formed in double) and its derivative 2.1. NaN propagates, and +-inf and overflow give the limits.
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

#include "activation_table.h"

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

/* e^x - 1 for x <= 0 (NaN passes). Above ln(1/2), where e^x - 1 would cancel, its Taylor series
 * to degree 10 (remainder below 2^-31 relative); below, e^x <= 1/2 and the subtraction is exact
 * to the result's rounding. */
static inline float fastnn_expm1_nonpositive_f32(float x)
{
    float p = 2.75573192e-7f; /* 1/10! ... 1/2! */
    p = p * x + 2.75573192e-6f;
    p = p * x + 2.48015873e-5f;
    p = p * x + 1.98412698e-4f;
    p = p * x + 1.38888889e-3f;
    p = p * x + 8.33333333e-3f;
    p = p * x + 4.16666667e-2f;
    p = p * x + 1.66666667e-1f;
    p = p * x + 0.5f;
    float near_zero = x + (x * x) * p;
    float far = fastnn_exp_f32(x) - 1.0f;
    return x > -0.693147181f ? near_zero : far;
}

/* log(1 + e) for e in [0, 1], as 2 atanh(z) with z = e / (2 + e) <= 1/3: the odd series to
 * z^17 (remainder below 2^-29 relative), no cancellation anywhere. */
static inline float fastnn_log1p_unit_f32(float e)
{
    float z = e / (2.0f + e), t = z * z;
    float p = 1.0f / 17;
    p = p * t + 1.0f / 15;
    p = p * t + 1.0f / 13;
    p = p * t + 1.0f / 11;
    p = p * t + 1.0f / 9;
    p = p * t + 1.0f / 7;
    p = p * t + 1.0f / 5;
    p = p * t + 1.0f / 3;
    return 2.0f * z + (2.0f * z) * (t * p);
}

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
static inline double fastnn_exp_minus_abs_f64(double hi, double lo) { return exp(-fabs(hi + lo)); }
static inline double fastnn_expm1_nonpositive_f64(double x) { return expm1(x); }
static inline double fastnn_log1p_unit_f64(double e) { return log1p(e); }
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
 * a NaN passes the clamps.
 *
 * Each activation of the table (activation_table.h) has a forward fastnn_<name>_forward_<T>(s, a, b)
 * and a derivative fastnn_<name>_derivative_<T>(v, a, b), where v is the output y or the input s
 * as the table says and a, b are its parameters; the switches at the end are generated from the
 * table. */
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
    static inline T fastnn_identity_forward_##SUFFIX(T s, T a, T b) { return s; }                 \
    static inline T fastnn_identity_derivative_##SUFFIX(T y, T a, T b) { return (T)1; }           \
    static inline T fastnn_relu_forward_##SUFFIX(T s, T a, T b)                                   \
    {                                                                                             \
        return !(s <= 0) ? s : (T)0; /* NaN passes */                                             \
    }                                                                                             \
    static inline T fastnn_relu_derivative_##SUFFIX(T y, T a, T b) { return y > 0 ? (T)1 : (T)0; } \
    static inline T fastnn_tanh_forward_##SUFFIX(T s, T a, T b) { return fastnn_tanh_##SUFFIX(s); } \
    static inline T fastnn_tanh_derivative_##SUFFIX(T y, T a, T b)                                \
    {                                                                                             \
        return ((T)1 - y) * ((T)1 + y);                                                           \
    }                                                                                             \
    static inline T fastnn_sigmoid_forward_##SUFFIX(T s, T a, T b)                                \
    {                                                                                             \
        return fastnn_sigmoid_##SUFFIX(s);                                                        \
    }                                                                                             \
    static inline T fastnn_sigmoid_derivative_##SUFFIX(T y, T a, T b) { return y * ((T)1 - y); }  \
    static inline T fastnn_gelu_forward_##SUFFIX(T s, T a, T b)                                   \
    {                                                                                             \
        T above_minus_16 = s < -16 ? (T)-16 : s;                                                  \
        return above_minus_16 * fastnn_normal_cdf_##SUFFIX(s, fastnn_gaussian_##SUFFIX(s));       \
    }                                                                                             \
    static inline T fastnn_gelu_derivative_##SUFFIX(T s, T a, T b)                                \
    {                                                                                             \
        T g = fastnn_gaussian_##SUFFIX(s);                                                        \
        return fastnn_normal_cdf_##SUFFIX(s, g) +                                                 \
               fastnn_clamp16_##SUFFIX(s) * (T)FASTNN_INV_SQRT_2PI * g;                           \
    }                                                                                             \
    static inline T fastnn_gelu_tanh_forward_##SUFFIX(T s, T a, T b)                              \
    {                                                                                             \
        T above_minus_16 = s < -16 ? (T)-16 : s, u_hi, u_lo;                                      \
        fastnn_split_##SUFFIX(fastnn_gelu_tanh_arg(fastnn_clamp16_##SUFFIX(s)), &u_hi, &u_lo);    \
        return above_minus_16 * fastnn_sigmoid_sum_##SUFFIX(u_hi, u_lo);                          \
    }                                                                                             \
    static inline T fastnn_gelu_tanh_derivative_##SUFFIX(T s, T a, T b)                           \
    {                                                                                             \
        T clamped = fastnn_clamp16_##SUFFIX(s), u_hi, u_lo;                                       \
        fastnn_split_##SUFFIX(fastnn_gelu_tanh_arg(clamped), &u_hi, &u_lo);                       \
        T s_du = (T)fastnn_gelu_tanh_arg_slope_times(clamped);                                    \
        return fastnn_sigmoid_sum_##SUFFIX(u_hi, u_lo) *                                          \
               ((T)1 + s_du * fastnn_sigmoid_minus_sum_##SUFFIX(u_hi, u_lo));                     \
    }                                                                                             \
    /* a = negative_slope >= 0 */                                                                 \
    static inline T fastnn_leaky_relu_forward_##SUFFIX(T s, T a, T b)                             \
    {                                                                                             \
        return !(s <= 0) ? s : s * a;                                                             \
    }                                                                                             \
    static inline T fastnn_leaky_relu_derivative_##SUFFIX(T y, T a, T b)                          \
    {                                                                                             \
        return y > 0 ? (T)1 : a;                                                                  \
    }                                                                                             \
    /* a = alpha >= 0: s, or alpha (e^s - 1) below 0; the derivative there is alpha e^s = y + alpha \
     * (PyTorch's backward from the result). */                                                   \
    static inline T fastnn_elu_forward_##SUFFIX(T s, T a, T b)                                    \
    {                                                                                             \
        return s > 0 ? s : a * fastnn_expm1_nonpositive_##SUFFIX(s);                              \
    }                                                                                             \
    static inline T fastnn_elu_derivative_##SUFFIX(T y, T a, T b) { return y > 0 ? (T)1 : y + a; } \
    /* s sigmoid(s); its derivative sigmoid(s) (1 + s sigmoid(-s)). Below -FASTNN_SILU_FLOOR the \
     * result is 0 in T's range, so s is clamped there: -inf gives the limits 0 and 0 (PyTorch: \
     * NaN). */                                                                                   \
    static inline T fastnn_silu_forward_##SUFFIX(T s, T a, T b)                                   \
    {                                                                                             \
        T floor = -(T)FASTNN_SILU_FLOOR_##SUFFIX, above = s < floor ? floor : s;                  \
        return above * fastnn_sigmoid_##SUFFIX(s);                                                \
    }                                                                                             \
    static inline T fastnn_silu_derivative_##SUFFIX(T s, T a, T b)                                \
    {                                                                                             \
        T bound = (T)FASTNN_SILU_FLOOR_##SUFFIX;                                                  \
        T clamped = s < -bound ? -bound : s > bound ? bound : s;                                  \
        return fastnn_sigmoid_##SUFFIX(s) *                                                       \
               ((T)1 + clamped * fastnn_sigmoid_minus_sum_##SUFFIX(s, (T)0));                     \
    }                                                                                             \
    /* a = beta, b = threshold, as PyTorch: s where beta s > threshold, else                      \
     * log(1 + e^(beta s)) / beta = (max(u, 0) + log1p(e^-|u|)) / beta with u = beta s, which     \
     * never overflows; the derivative is sigmoid(beta s), or 1 above the threshold. u is formed  \
     * in double and reaches the exponential as two T: e^u turns u's rounding error into the     \
     * same relative error (at u = -73, 64 float ulps). */                                        \
    static inline double fastnn_softplus_arg_##SUFFIX(T s, T a, T *u_hi, T *u_lo)              \
    {                                                                                             \
        double u = (double)a * s, clamped = u < -1000 ? -1000 : u > 1000 ? 1000 : u;              \
        fastnn_split_##SUFFIX(clamped, u_hi, u_lo); /* +-1000: e^-|u| is 0, no inf - inf */       \
        return u;                                                                                 \
    }                                                                                             \
    static inline T fastnn_softplus_forward_##SUFFIX(T s, T a, T b)                               \
    {                                                                                             \
        T u_hi, u_lo;                                                                             \
        double u = fastnn_softplus_arg_##SUFFIX(s, a, &u_hi, &u_lo);                              \
        T tail = fastnn_log1p_unit_##SUFFIX(fastnn_exp_minus_abs_##SUFFIX(u_hi, u_lo));           \
        T smooth = ((u > 0 ? (T)u : (T)0) + tail) / a;                                            \
        return a * s > b ? s : smooth;                                                            \
    }                                                                                             \
    static inline T fastnn_softplus_derivative_##SUFFIX(T s, T a, T b)                            \
    {                                                                                             \
        T u_hi, u_lo;                                                                             \
        fastnn_softplus_arg_##SUFFIX(s, a, &u_hi, &u_lo);                                         \
        return a * s > b ? (T)1 : fastnn_sigmoid_sum_##SUFFIX(u_hi, u_lo);                        \
    }                                                                                             \
    /* The switches over the table: act(s), and d act / d s from v (the output or the input, as \
     * the table says). */                                                                        \
    static inline T fastnn_act_forward_##SUFFIX(fastnn_activation act, T s, T a, T b)            \
    {                                                                                             \
        switch (act) {                                                                            \
            FASTNN_ACTIVATION_TABLE(FASTNN_FORWARD_CASE, SUFFIX)                                  \
        default: return s;                                                                        \
        }                                                                                         \
    }                                                                                             \
    static inline T fastnn_act_derivative_##SUFFIX(fastnn_activation act, T v, T a, T b)          \
    {                                                                                             \
        switch (act) {                                                                            \
            FASTNN_ACTIVATION_TABLE(FASTNN_DERIVATIVE_CASE, SUFFIX)                               \
        default: return (T)1;                                                                     \
        }                                                                                         \
    }

#define FASTNN_FORWARD_CASE(SUFFIX, NAME, name, ...)                                              \
    case FASTNN_ACT_##NAME: return fastnn_##name##_forward_##SUFFIX(s, a, b);
#define FASTNN_DERIVATIVE_CASE(SUFFIX, NAME, name, ...)                                           \
    case FASTNN_ACT_##NAME: return fastnn_##name##_derivative_##SUFFIX(v, a, b);
/* where x sigmoid(x) rounds to 0 (float: e^-104 * 104 is below the smallest denormal) */
#define FASTNN_SILU_FLOOR_f32 104
#define FASTNN_SILU_FLOOR_f64 746

FASTNN_DEFINE_ACTIVATION_MATH(float, f32)
FASTNN_DEFINE_ACTIVATION_MATH(double, f64)

#undef FASTNN_DEFINE_ACTIVATION_MATH
#undef FASTNN_FORWARD_CASE
#undef FASTNN_DERIVATIVE_CASE

#endif
