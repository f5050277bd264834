/* RMSprop and Adagrad updates (optim_adaptive.h): one streaming pass over a parameter and its
 * state, split among threads as optim.c's (elementwise.h). */
#include "optim_adaptive.h"

#include <math.h>

#include "elementwise.h"

/* The options that change the loop (centered, momentum) are tested per element: the branches
 * are loop-invariant, so gcc unswitches them and each variant vectorises. */
#define DEFINE_RMSPROP(T, SUFFIX, SQRT)                                                         \
    typedef struct {                                                                            \
        T *param;                                                                               \
        const T *grad;                                                                          \
        T *square_avg, *grad_avg, *momentum_buffer;                                             \
        const fastnn_rmsprop_hyper *hyper;                                                      \
    } rmsprop_args_##SUFFIX;                                                                    \
    static void rmsprop_span_##SUFFIX(const void *args, ptrdiff_t lo, ptrdiff_t hi)             \
    {                                                                                           \
        const rmsprop_args_##SUFFIX *p = args;                                                  \
        const fastnn_rmsprop_hyper *h = p->hyper;                                               \
        T *restrict param = p->param, *restrict square_avg = p->square_avg;                     \
        T *restrict grad_avg = p->grad_avg, *restrict buf = p->momentum_buffer;                 \
        const T *restrict grad = p->grad;                                                       \
        const T lr = (T)h->lr, alpha = (T)h->alpha, rest = (T)(1.0 - h->alpha);                 \
        const T eps = (T)h->eps, weight_decay = (T)h->weight_decay, momentum = (T)h->momentum;  \
        for (ptrdiff_t i = lo; i < hi; i++) {                                                   \
            T w = param[i], g = grad[i];                                                        \
            if (weight_decay != 0)                                                              \
                g += weight_decay * w;                                                          \
            T s = alpha * square_avg[i] + rest * g * g;                                         \
            square_avg[i] = s;                                                                  \
            if (grad_avg) {                                                                     \
                T a = grad_avg[i] + rest * (g - grad_avg[i]); /* torch's lerp */                \
                grad_avg[i] = a;                                                                \
                s -= a * a;                                                                     \
            }                                                                                   \
            T step = g / (SQRT(s) + eps);                                                       \
            if (buf) {                                                                          \
                step += momentum * buf[i];                                                      \
                buf[i] = step;                                                                  \
            }                                                                                   \
            param[i] = w - lr * step;                                                           \
        }                                                                                       \
    }                                                                                           \
    void fastnn_rmsprop_step_##SUFFIX(ptrdiff_t n, T *param, const T *grad, T *square_avg,      \
                                      T *grad_avg, T *momentum_buffer,                          \
                                      const fastnn_rmsprop_hyper *hyper)                        \
    {                                                                                           \
        rmsprop_args_##SUFFIX args = {param, grad, square_avg, grad_avg, momentum_buffer,       \
                                      hyper};                                                   \
        fastnn_for_each_span(n, n, rmsprop_span_##SUFFIX, &args);                               \
    }

#define DEFINE_ADAGRAD(T, SUFFIX, SQRT)                                                         \
    typedef struct {                                                                            \
        T *param;                                                                               \
        const T *grad;                                                                          \
        T *sum;                                                                                 \
        const fastnn_adagrad_hyper *hyper;                                                      \
    } adagrad_args_##SUFFIX;                                                                    \
    static void adagrad_span_##SUFFIX(const void *args, ptrdiff_t lo, ptrdiff_t hi)             \
    {                                                                                           \
        const adagrad_args_##SUFFIX *p = args;                                                  \
        const fastnn_adagrad_hyper *h = p->hyper;                                               \
        T *restrict param = p->param, *restrict sum = p->sum;                                   \
        const T *restrict grad = p->grad;                                                       \
        const T clr = (T)(h->lr / (1.0 + (double)(h->step - 1) * h->lr_decay));                \
        const T eps = (T)h->eps, weight_decay = (T)h->weight_decay;                             \
        for (ptrdiff_t i = lo; i < hi; i++) {                                                   \
            T w = param[i], g = grad[i];                                                        \
            if (weight_decay != 0)                                                              \
                g += weight_decay * w;                                                          \
            T s = sum[i] + g * g;                                                               \
            sum[i] = s;                                                                         \
            param[i] = w - clr * g / (SQRT(s) + eps);                                           \
        }                                                                                       \
    }                                                                                           \
    void fastnn_adagrad_step_##SUFFIX(ptrdiff_t n, T *param, const T *grad, T *sum,             \
                                      const fastnn_adagrad_hyper *hyper)                        \
    {                                                                                           \
        adagrad_args_##SUFFIX args = {param, grad, sum, hyper};                                 \
        fastnn_for_each_span(n, n, adagrad_span_##SUFFIX, &args);                               \
    }

DEFINE_RMSPROP(float, f32, sqrtf)
DEFINE_RMSPROP(double, f64, sqrt)
DEFINE_ADAGRAD(float, f32, sqrtf)
DEFINE_ADAGRAD(double, f64, sqrt)
