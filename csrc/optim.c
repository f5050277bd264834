/* Optimizer updates (optim.h): one streaming pass over a parameter and its state, split among
 * threads only when the tensor is large enough to pay for waking them (elementwise.h). */
#include "optim.h"

#include <math.h>

#include "elementwise.h"

/* The penalised gradient g of optim.h; a zero coefficient adds nothing (not 0 * inf = nan). */
#define PENALISED_GRADIENT(T, w, grad_i)                                                        \
    ((grad_i) + (weight_decay != 0 ? weight_decay * (w) : (T)0) +                              \
     (l1 != 0 ? l1 * (T)(((w) > 0) - ((w) < 0)) : (T)0))

/* One loop per momentum variant, restrict-qualified, so each vectorises without run-time
 * branches or alias checks. */
#define DEFINE_SGD(T, SUFFIX)                                                                   \
    static void sgd_range_##SUFFIX(ptrdiff_t lo, ptrdiff_t hi, T *restrict param,               \
                                   const T *restrict grad, T *restrict buf,                     \
                                   const fastnn_sgd_hyper *h)                                   \
    {                                                                                           \
        const T lr = (T)h->lr, momentum = (T)h->momentum, keep = (T)(1.0 - h->dampening);       \
        const T weight_decay = (T)h->weight_decay, l1 = (T)h->l1;                               \
        if (!buf) {                                                                             \
            for (ptrdiff_t i = lo; i < hi; i++)                                                 \
                param[i] -= lr * PENALISED_GRADIENT(T, param[i], grad[i]);                      \
        } else if (h->first_step) {                                                             \
            for (ptrdiff_t i = lo; i < hi; i++) {                                               \
                T g = PENALISED_GRADIENT(T, param[i], grad[i]);                                 \
                buf[i] = g;                                                                     \
                param[i] -= lr * (h->nesterov ? g + momentum * g : g);                          \
            }                                                                                   \
        } else if (h->nesterov) {                                                               \
            for (ptrdiff_t i = lo; i < hi; i++) {                                               \
                T g = PENALISED_GRADIENT(T, param[i], grad[i]);                                 \
                T b = momentum * buf[i] + keep * g;                                             \
                buf[i] = b;                                                                     \
                param[i] -= lr * (g + momentum * b);                                            \
            }                                                                                   \
        } else {                                                                                \
            for (ptrdiff_t i = lo; i < hi; i++) {                                               \
                T b = momentum * buf[i] + keep * PENALISED_GRADIENT(T, param[i], grad[i]);      \
                buf[i] = b;                                                                     \
                param[i] -= lr * b;                                                             \
            }                                                                                   \
        }                                                                                       \
    }                                                                                           \
    typedef struct {                                                                            \
        T *param;                                                                               \
        const T *grad;                                                                          \
        T *buf;                                                                                 \
        const fastnn_sgd_hyper *hyper;                                                          \
    } sgd_args_##SUFFIX;                                                                        \
    static void sgd_span_##SUFFIX(const void *args, ptrdiff_t lo, ptrdiff_t hi)                 \
    {                                                                                           \
        const sgd_args_##SUFFIX *p = args;                                                      \
        sgd_range_##SUFFIX(lo, hi, p->param, p->grad, p->buf, p->hyper);                        \
    }                                                                                           \
    void fastnn_sgd_step_##SUFFIX(ptrdiff_t n, T *param, const T *grad, T *momentum_buffer,     \
                                  const fastnn_sgd_hyper *hyper)                                \
    {                                                                                           \
        sgd_args_##SUFFIX args = {param, grad, momentum_buffer, hyper};                         \
        fastnn_for_each_span(n, n, sgd_span_##SUFFIX, &args);                                  \
    }

#define DEFINE_ADAM(T, SUFFIX, SQRT)                                                            \
    static void adam_range_##SUFFIX(ptrdiff_t lo, ptrdiff_t hi, T *restrict param,              \
                                    const T *restrict grad, T *restrict exp_avg,                \
                                    T *restrict exp_avg_sq, T *restrict max_exp_avg_sq,         \
                                    const fastnn_adam_hyper *h)                                 \
    {                                                                                           \
        /* the step's scalars in double, once; the per-element work in T */                    \
        const double bias_correction1 = 1.0 - pow(h->beta1, (double)h->step);                   \
        const double bias_correction2 = 1.0 - pow(h->beta2, (double)h->step);                   \
        const T step_size = (T)(h->lr / bias_correction1);                                      \
        const T bias_correction2_sqrt = (T)sqrt(bias_correction2);                              \
        const T average_weight = (T)(1.0 - h->beta1), beta2 = (T)h->beta2;                      \
        const T square_weight = (T)(1.0 - h->beta2), eps = (T)h->eps;                           \
        const T weight_decay = (T)h->weight_decay, shrink = (T)(1.0 - h->lr * h->weight_decay); \
        const int decoupled = h->decoupled_weight_decay;                                        \
        for (ptrdiff_t i = lo; i < hi; i++) {                                                   \
            T w = param[i], g = grad[i];                                                        \
            if (decoupled)                                                                      \
                w *= shrink;                                                                    \
            else if (weight_decay != 0)                                                         \
                g += weight_decay * w;                                                          \
            T m = exp_avg[i] + average_weight * (g - exp_avg[i]);                               \
            T v = beta2 * exp_avg_sq[i] + square_weight * g * g;                                \
            exp_avg[i] = m;                                                                     \
            exp_avg_sq[i] = v;                                                                  \
            if (max_exp_avg_sq) {                                                               \
                v = v > max_exp_avg_sq[i] ? v : max_exp_avg_sq[i];                              \
                max_exp_avg_sq[i] = v;                                                          \
            }                                                                                   \
            param[i] = w - step_size * m / (SQRT(v) / bias_correction2_sqrt + eps);             \
        }                                                                                       \
    }                                                                                           \
    typedef struct {                                                                            \
        T *param;                                                                               \
        const T *grad;                                                                          \
        T *exp_avg, *exp_avg_sq, *max_exp_avg_sq;                                               \
        const fastnn_adam_hyper *hyper;                                                         \
    } adam_args_##SUFFIX;                                                                       \
    static void adam_span_##SUFFIX(const void *args, ptrdiff_t lo, ptrdiff_t hi)                \
    {                                                                                           \
        const adam_args_##SUFFIX *p = args;                                                     \
        adam_range_##SUFFIX(lo, hi, p->param, p->grad, p->exp_avg, p->exp_avg_sq,               \
                            p->max_exp_avg_sq, p->hyper);                                       \
    }                                                                                           \
    void fastnn_adam_step_##SUFFIX(ptrdiff_t n, T *param, const T *grad, T *exp_avg,            \
                                   T *exp_avg_sq, T *max_exp_avg_sq,                            \
                                   const fastnn_adam_hyper *hyper)                              \
    {                                                                                           \
        adam_args_##SUFFIX args = {param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, hyper};    \
        fastnn_for_each_span(n, n, adam_span_##SUFFIX, &args);                                  \
    }

DEFINE_SGD(float, f32)
DEFINE_SGD(double, f64)
DEFINE_ADAM(float, f32, sqrtf)
DEFINE_ADAM(double, f64, sqrt)
