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

/* The switches over the table: a case per row of the kind, nothing for the other kinds. */
#define ELEMENTWISE_CASE(SUFFIX, NAME, name, KIND, ...) ELEMENTWISE_CASE_##KIND(SUFFIX, NAME, name)
#define ELEMENTWISE_CASE_ELEMENTWISE(SUFFIX, NAME, name)                                          \
    case FASTNN_LOSS_##NAME: {                                                                    \
        ELEMENTWISE_LOSS(element_type, loss = fastnn_##name##_element_##SUFFIX(                   \
                                           input[i], target[i], param, &slope));                  \
    }
#define ELEMENTWISE_CASE_CLASS_ROWS(...)
#define ELEMENTWISE_CASE_PROB_ROWS(...)
#define CLASS_ROWS_CASE(SUFFIX, NAME, name, KIND, ...) CLASS_ROWS_CASE_##KIND(SUFFIX, NAME, name)
#define CLASS_ROWS_CASE_CLASS_ROWS(SUFFIX, NAME, name)                                            \
    case FASTNN_LOSS_##NAME:                                                                      \
        return fastnn_##name##_rows_##SUFFIX(rows, cols, scores, target, param, grad, grad_scale, \
                                             losses);
#define CLASS_ROWS_CASE_ELEMENTWISE(...)
#define CLASS_ROWS_CASE_PROB_ROWS(...)

#define TABLE_ROW(ARG, NAME, name, KIND, param, default_param)                                    \
    [FASTNN_LOSS_##NAME] = {#name, FASTNN_LOSS_##KIND, param, default_param},
const fastnn_loss_info fastnn_loss_table[FASTNN_LOSS_COUNT] = {FASTNN_LOSS_TABLE(TABLE_ROW, _)};
#undef TABLE_ROW

#define DEFINE_LOSSES(T, SUFFIX, EXP, LOG1P)                                                      \
    ptrdiff_t fastnn_first_invalid_sign_##SUFFIX(ptrdiff_t n, const T *target)                    \
    {                                                                                             \
        for (ptrdiff_t i = 0; i < n; i++)                                                         \
            if (target[i] != 1 && target[i] != -1)                                                \
                return i;                                                                         \
        return -1;                                                                                \
    }                                                                                             \
                                                                                                  \
    /* The elementwise losses: one element's loss, and its slope d loss / d x in *slope. */       \
    static inline double fastnn_mse_element_##SUFFIX(T x, T t, double param, double *slope)       \
    {                                                                                             \
        double diff = (double)x - t;                                                              \
        *slope = 2 * diff;                                                                        \
        return diff * diff;                                                                       \
    }                                                                                             \
    static inline double fastnn_l1_element_##SUFFIX(T x, T t, double param, double *slope)        \
    {                                                                                             \
        double diff = (double)x - t; /* the slope at 0 is 0, as torch's sign */                   \
        *slope = diff > 0 ? 1 : diff < 0 ? -1 : diff;                                             \
        return fabs(diff);                                                                        \
    }                                                                                             \
    /* 0.5 d^2 for |d| < delta, else delta (|d| - 0.5 delta) */                                   \
    static inline double fastnn_huber_element_##SUFFIX(T x, T t, double delta, double *slope)     \
    {                                                                                             \
        double diff = (double)x - t, size = fabs(diff);                                           \
        if (size < delta) {                                                                       \
            *slope = diff;                                                                        \
            return 0.5 * diff * diff;                                                             \
        }                                                                                         \
        *slope = diff > 0 ? delta : diff < 0 ? -delta : diff;                                     \
        return delta * (size - 0.5 * delta);                                                      \
    }                                                                                             \
    static inline double fastnn_bce_with_logits_element_##SUFFIX(T x, T t, double param,          \
                                                                 double *slope)                   \
    {                                                                                             \
        *slope = (double)fastnn_sigmoid_##SUFFIX(x) - t;                                          \
        return (x > 0 ? (double)x : 0) - (double)x * t + LOG1P(EXP(-(T)fabs((double)x)));         \
    }                                                                                             \
    /* -(t log p + (1 - t) log(1 - p)), each log clamped at -100 as torch; torch's gradient     \
     * (p - t) / max(p (1 - p), eps) with its eps, the float nearest 1e-12. */                    \
    static inline double fastnn_bce_element_##SUFFIX(T p, T t, double param, double *slope)       \
    {                                                                                             \
        double log_p = log((double)p), log_q = log1p(-(double)p);                                 \
        log_p = log_p < -100 ? -100 : log_p;                                                      \
        log_q = log_q < -100 ? -100 : log_q;                                                      \
        double spread = (double)p * (1 - (double)p);                                              \
        const double eps = (double)1e-12f;                                                        \
        *slope = ((double)p - t) / (spread > eps ? spread : eps);                                 \
        return -((double)t * log_p + (1 - (double)t) * log_q);                                    \
    }                                                                                             \
    /* max(0, margin - t s), t in {-1, 1} */                                                      \
    static inline double fastnn_hinge_element_##SUFFIX(T s, T t, double margin, double *slope)    \
    {                                                                                             \
        double z = margin - (double)t * s;                                                        \
        *slope = z > 0 ? -(double)t : (z != z ? z : 0);                                           \
        return positive_part(z);                                                                  \
    }                                                                                             \
                                                                                                  \
    double fastnn_elementwise_loss_##SUFFIX(int loss_code, double param, ptrdiff_t n,             \
                                            const T *input, const T *target, T *grad,             \
                                            double grad_scale,                                    \
                                            T *losses)                                            \
    {                                                                                             \
        typedef T element_type;                                                                   \
        switch (loss_code) {                                                                      \
            FASTNN_LOSS_TABLE(ELEMENTWISE_CASE, SUFFIX)                                           \
        default: return NAN;                                                                      \
        }                                                                                         \
    }                                                                                             \
                                                                                                  \
    static double fastnn_cross_entropy_rows_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols,              \
                                                     const T *logits, const int64_t *target,      \
                                                     double param, T *grad, double grad_scale,    \
                                                     T *losses)                                   \
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
    /* -logp_i[target_i] over log-probabilities: the gradient is -1 at the target, 0 elsewhere */ \
    static double fastnn_nll_rows_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, const T *logp,         \
                                           const int64_t *target, double param, T *grad,          \
                                           double grad_scale, T *losses)                          \
    {                                                                                             \
        FOR_EACH_SAMPLE(T, rows, {                                                                \
            loss = -(double)logp[i * cols + target[i]];                                           \
            if (grad) {                                                                           \
                for (ptrdiff_t j = 0; j < cols; j++) grad[i * cols + j] = 0;                      \
                grad[i * cols + target[i]] = (T)-grad_scale;                                      \
            }                                                                                     \
        });                                                                                       \
    }                                                                                             \
                                                                                                  \
    static double fastnn_multi_margin_rows_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols,               \
                                                    const T *scores, const int64_t *target,       \
                                                    double margin, T *grad, double grad_scale,    \
                                                    T *losses)                                    \
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
    } \
                                                                                                  \
    double fastnn_class_loss_##SUFFIX(int loss_code, double param, ptrdiff_t rows,                \
                                      ptrdiff_t cols,                                             \
                                      const T *scores, const int64_t *target, T *grad,            \
                                      double grad_scale, T *losses)                               \
    {                                                                                             \
        switch (loss_code) {                                                                      \
            FASTNN_LOSS_TABLE(CLASS_ROWS_CASE, SUFFIX)                                            \
        default: return NAN;                                                                      \
        }                                                                                         \
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

DEFINE_LOSSES(float, f32, expf, log1pf)
DEFINE_LOSSES(double, f64, exp, log1p)
