/* Optimizer updates (optim.h): one streaming pass over a parameter and its state, split among
 * threads only when the tensor is large enough to pay for waking them (elementwise.h). The row
 * loops are the active instruction set's (csrc/kernels/optim_rows.h), shared with the update
 * fused into backward (fused_optim.c). */
#include "optim.h"

#include <math.h>

#include "elementwise.h"
#include "kernel_context.h"
#include "optim_kernels.h"

void fastnn_adam_prepare(const fastnn_adam_hyper *h, fastnn_adam_scalars *s)
{
    s->step_size = h->lr / (1.0 - pow(h->beta1, (double)h->step));
    s->bias_correction2_sqrt = sqrt(1.0 - pow(h->beta2, (double)h->step));
    s->average_weight = 1.0 - h->beta1;
    s->beta2 = h->beta2;
    s->square_weight = 1.0 - h->beta2;
    s->eps = h->eps;
    s->weight_decay = h->weight_decay;
    s->shrink = 1.0 - h->lr * h->weight_decay;
    s->decoupled = h->decoupled_weight_decay;
}

const fastnn_optim_kernels *fastnn_optim_kernels_active(void)
{
    return fastnn_active_context()->optim;
}

#define DEFINE_STEPS(T, SUFFIX)                                                                 \
    typedef struct {                                                                            \
        const fastnn_optim_kernels_##SUFFIX *kernels;                                           \
        T *param;                                                                               \
        const T *grad;                                                                          \
        T *buf, *exp_avg, *exp_avg_sq, *max_exp_avg_sq;                                         \
        const fastnn_sgd_hyper *sgd;                                                            \
        fastnn_adam_scalars adam;                                                               \
    } step_args_##SUFFIX;                                                                       \
    static void sgd_span_##SUFFIX(const void *args, ptrdiff_t lo, ptrdiff_t hi)                 \
    {                                                                                           \
        const step_args_##SUFFIX *p = args;                                                     \
        p->kernels->sgd(hi - lo, p->param + lo, p->grad + lo, p->buf ? p->buf + lo : NULL,      \
                        p->sgd);                                                                \
    }                                                                                           \
    static void adam_span_##SUFFIX(const void *args, ptrdiff_t lo, ptrdiff_t hi)                \
    {                                                                                           \
        const step_args_##SUFFIX *p = args;                                                     \
        p->kernels->adam(hi - lo, p->param + lo, p->grad + lo, p->exp_avg + lo,                 \
                         p->exp_avg_sq + lo, p->max_exp_avg_sq ? p->max_exp_avg_sq + lo : NULL, \
                         &p->adam);                                                             \
    }                                                                                           \
    void fastnn_sgd_step_##SUFFIX(ptrdiff_t n, T *param, const T *grad, T *momentum_buffer,     \
                                  const fastnn_sgd_hyper *hyper)                                \
    {                                                                                           \
        step_args_##SUFFIX args = {.kernels = &fastnn_optim_kernels_active()->SUFFIX,           \
                                   .param = param, .grad = grad, .buf = momentum_buffer,        \
                                   .sgd = hyper};                                               \
        fastnn_for_each_span(n, n, sgd_span_##SUFFIX, &args);                                   \
    }                                                                                           \
    void fastnn_adam_step_##SUFFIX(ptrdiff_t n, T *param, const T *grad, T *exp_avg,            \
                                   T *exp_avg_sq, T *max_exp_avg_sq,                            \
                                   const fastnn_adam_hyper *hyper)                              \
    {                                                                                           \
        step_args_##SUFFIX args = {.kernels = &fastnn_optim_kernels_active()->SUFFIX,           \
                                   .param = param, .grad = grad, .exp_avg = exp_avg,            \
                                   .exp_avg_sq = exp_avg_sq, .max_exp_avg_sq = max_exp_avg_sq}; \
        fastnn_adam_prepare(hyper, &args.adam);                                                 \
        fastnn_for_each_span(n, n, adam_span_##SUFFIX, &args);                                  \
    }

DEFINE_STEPS(float, f32)
DEFINE_STEPS(double, f64)
