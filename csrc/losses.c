/* The losses: one pass each, sums accumulated in double, gradient written in the same pass.
 *
 * Cross-entropy never forms exp(logit): it shifts each row by its maximum, so logits of any
 * finite size give finite losses and gradients. */
#include "losses.h"

#include <math.h>

#include "activation_math.h"
#include "fp_env.h"

ptrdiff_t fastnn_first_invalid_class(ptrdiff_t n, const int64_t *target, int64_t classes)
{
    for (ptrdiff_t i = 0; i < n; i++)
        if (target[i] < 0 || target[i] >= classes)
            return i;
    return -1;
}

/* max(0, z), and NaN stays NaN so that a NaN score is not silently a zero loss. */
static inline double positive_part(double z) { return z > 0 || z != z ? z : 0; }

/* Runs the body (variadic, so that it may hold commas) for each sample i < count: it sets the
 * sample's `loss` and writes its gradient where asked. The losses are summed in double. */
#define FOR_EACH_SAMPLE(T, count, ...)                                                            \
    unsigned int fp_state = fastnn_flush_denormals_begin();                                       \
    double total = 0;                                                                             \
    for (ptrdiff_t i = 0; i < (count); i++) {                                                     \
        double loss;                                                                              \
        __VA_ARGS__;                                                                              \
        total += loss;                                                                            \
        if (losses)                                                                               \
            losses[i] = (T)loss;                                                                  \
    }                                                                                             \
    fastnn_flush_denormals_end(fp_state);                                                         \
    return total

/* An elementwise loss: the body sets `loss` and `slope` = d loss / d input[i]. */
#define ELEMENTWISE_LOSS(T, ...)                                                                  \
    FOR_EACH_SAMPLE(T, n, {                                                                       \
        double slope;                                                                             \
        __VA_ARGS__;                                                                              \
        if (grad)                                                                                 \
            grad[i] = (T)(grad_scale * slope);                                                    \
    })

/* Row i's maximum and sum of exp(x - max) (in double); exp(x - max) goes to `shifted_exp` when
 * that is not NULL. A NaN anywhere in the row makes the sum NaN. */
#define ROW_MAX_AND_SUM(T, EXP, xi, cols, shifted_exp, max, sum)                                  \
    T max = xi[0];                                                                                \
    for (ptrdiff_t j = 1; j < cols; j++) max = xi[j] > max ? xi[j] : max;                         \
    double sum = 0;                                                                               \
    if (shifted_exp)                                                                              \
        for (ptrdiff_t j = 0; j < cols; j++) sum += shifted_exp[j] = EXP(xi[j] - max);            \
    else                                                                                          \
        for (ptrdiff_t j = 0; j < cols; j++) sum += EXP(xi[j] - max)

#define DEFINE_LOSSES(T, SUFFIX, EXP, LOG1P)                                                      \
    ptrdiff_t fastnn_first_invalid_sign_##SUFFIX(ptrdiff_t n, const T *target)                    \
    {                                                                                             \
        for (ptrdiff_t i = 0; i < n; i++)                                                         \
            if (target[i] != 1 && target[i] != -1)                                                \
                return i;                                                                         \
        return -1;                                                                                \
    }                                                                                             \
                                                                                                  \
    double fastnn_mse_loss_##SUFFIX(ptrdiff_t n, const T *input, const T *target, T *grad,        \
                                    double grad_scale, T *losses)                                 \
    {                                                                                             \
        ELEMENTWISE_LOSS(T, {                                                                     \
            double diff = (double)input[i] - target[i];                                           \
            loss = diff * diff;                                                                   \
            slope = 2 * diff;                                                                     \
        });                                                                                       \
    }                                                                                             \
                                                                                                  \
    double fastnn_bce_with_logits_##SUFFIX(ptrdiff_t n, const T *logits, const T *target,         \
                                           T *grad, double grad_scale, T *losses)                 \
    {                                                                                             \
        ELEMENTWISE_LOSS(T, {                                                                     \
            T x = logits[i], t = target[i];                                                       \
            loss = (x > 0 ? (double)x : 0) - (double)x * t + LOG1P(EXP(-(T)fabs((double)x)));     \
            slope = (double)fastnn_sigmoid_##SUFFIX(x) - t;                                       \
        });                                                                                       \
    }                                                                                             \
                                                                                                  \
    double fastnn_hinge_loss_##SUFFIX(ptrdiff_t n, const T *scores, const T *target,              \
                                      double margin, T *grad, double grad_scale, T *losses)       \
    {                                                                                             \
        ELEMENTWISE_LOSS(T, {                                                                     \
            double z = margin - (double)target[i] * scores[i];                                    \
            loss = positive_part(z);                                                              \
            slope = z > 0 ? -(double)target[i] : (z != z ? z : 0);                                \
        });                                                                                       \
    }                                                                                             \
                                                                                                  \
    double fastnn_cross_entropy_class_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, const T *logits,   \
                                               const int64_t *target, T *grad, double grad_scale, \
                                               T *losses)                                         \
    {                                                                                             \
        FOR_EACH_SAMPLE(T, rows, {                                                                \
            const T *xi = logits + i * cols;                                                      \
            T *gi = grad ? grad + i * cols : NULL;                                                \
            ROW_MAX_AND_SUM(T, EXP, xi, cols, gi, max, sum);                                      \
            loss = ((double)max - xi[target[i]]) + log(sum);                                      \
            if (gi) {                                                                             \
                T scale = (T)(grad_scale / sum);                                                  \
                for (ptrdiff_t j = 0; j < cols; j++) gi[j] *= scale;                              \
                gi[target[i]] -= (T)grad_scale;                                                   \
            }                                                                                     \
        });                                                                                       \
    }                                                                                             \
                                                                                                  \
    double fastnn_cross_entropy_probs_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, const T *logits,   \
                                               const T *target, T *grad, double grad_scale,       \
                                               T *losses)                                         \
    {                                                                                             \
        FOR_EACH_SAMPLE(T, rows, {                                                                \
            const T *xi = logits + i * cols, *ti = target + i * cols;                             \
            T *gi = grad ? grad + i * cols : NULL;                                                \
            ROW_MAX_AND_SUM(T, EXP, xi, cols, gi, max, sum);                                      \
            /* sum_j t_j (logsumexp - x_j), with logsumexp - x_j = (max - x_j) + log(sum) >= 0 */ \
            double mass = 0, weighted_gap = 0;                                                    \
            for (ptrdiff_t j = 0; j < cols; j++) {                                                \
                mass += ti[j];                                                                    \
                weighted_gap += (double)ti[j] * ((double)max - xi[j]);                            \
            }                                                                                     \
            loss = weighted_gap + mass * log(sum);                                                \
            if (gi) {                                                                             \
                T scale = (T)(grad_scale * mass / sum), t_scale = (T)grad_scale;                  \
                for (ptrdiff_t j = 0; j < cols; j++) gi[j] = gi[j] * scale - t_scale * ti[j];     \
            }                                                                                     \
        });                                                                                       \
    }                                                                                             \
                                                                                                  \
    double fastnn_multi_margin_loss_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, const T *scores,     \
                                             const int64_t *target, double margin, T *grad,       \
                                             double grad_scale, T *losses)                        \
    {                                                                                             \
        double per_class = 1.0 / (double)cols;                                                    \
        T step = (T)(grad_scale * per_class);                                                     \
        FOR_EACH_SAMPLE(T, rows, {                                                                \
            const T *si = scores + i * cols;                                                      \
            ptrdiff_t y = (ptrdiff_t)target[i];                                                   \
            double violations = 0;                                                                \
            loss = 0;                                                                             \
            for (ptrdiff_t j = 0; j < cols; j++) {                                                \
                double z = j == y ? 0 : margin - (double)si[y] + si[j];                           \
                loss += positive_part(z);                                                         \
                if (grad)                                                                         \
                    grad[i * cols + j] = z > 0 ? step : (z != z ? (T)z : 0);                      \
                violations += z > 0;                                                              \
            }                                                                                     \
            loss *= per_class;                                                                    \
            if (grad)                                                                             \
                grad[i * cols + y] = (T)(-violations * grad_scale * per_class);                   \
        });                                                                                       \
    }

DEFINE_LOSSES(float, f32, expf, log1pf)
DEFINE_LOSSES(double, f64, exp, log1p)
