/* Optimizer updates (optim.h): one streaming pass over a parameter and its state, split among
 * threads only when the tensor is large enough to pay for waking them. The row loops are the
 * active instruction set's (csrc/kernels/optim_rows.h). */
#include "optim.h"

#include <math.h>

#include "dispatch.h"
#include "fp_env.h"
#include "kernel_context.h"
#include "optim_kernels.h"

/* An update reads and writes a few arrays once: below ~1 MB of parameters a single core
 * finishes in about the time it takes to wake a thread team. */
#define FASTNN_OPTIM_PARALLEL_MIN ((ptrdiff_t)1 << 18)

static int optim_threads(ptrdiff_t n)
{
    int threads = n >= FASTNN_OPTIM_PARALLEL_MIN ? fastnn_get_num_threads() : 1;
    return threads > 1 ? threads : 1;
}

/* Runs RANGE_CALL for this thread's share [lo, hi) of n elements, denormals flushed. */
#define FOR_THREAD_SHARES(n, RANGE_CALL)                                                        \
    do {                                                                                        \
        int threads_ = optim_threads(n);                                                        \
        _Pragma("omp parallel for num_threads(threads_) if (threads_ > 1) schedule(static)")   \
        for (int part_ = 0; part_ < threads_; part_++) {                                        \
            ptrdiff_t lo = (n) * part_ / threads_, hi = (n) * (part_ + 1) / threads_;          \
            unsigned int fp_state_ = fastnn_flush_denormals_begin();                            \
            RANGE_CALL;                                                                         \
            fastnn_flush_denormals_end(fp_state_);                                              \
        }                                                                                       \
    } while (0)

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
    const fastnn_kernel_context *context = fastnn_active_context();
    if (context == &fastnn_context_avx512)
        return &fastnn_optim_avx512;
    if (context == &fastnn_context_avx2)
        return &fastnn_optim_avx2;
    return &fastnn_optim_generic;
}

#define DEFINE_STEPS(T, SUFFIX)                                                                 \
    void fastnn_sgd_step_##SUFFIX(ptrdiff_t n, T *param, const T *grad, T *momentum_buffer,     \
                                  const fastnn_sgd_hyper *hyper)                                \
    {                                                                                           \
        const fastnn_optim_kernels_##SUFFIX *k = &fastnn_optim_kernels_active()->SUFFIX;        \
        FOR_THREAD_SHARES(n, k->sgd(hi - lo, param + lo, grad + lo,                             \
                                    momentum_buffer ? momentum_buffer + lo : NULL, hyper));     \
    }                                                                                           \
    void fastnn_adam_step_##SUFFIX(ptrdiff_t n, T *param, const T *grad, T *exp_avg,            \
                                   T *exp_avg_sq, T *max_exp_avg_sq,                            \
                                   const fastnn_adam_hyper *hyper)                              \
    {                                                                                           \
        const fastnn_optim_kernels_##SUFFIX *k = &fastnn_optim_kernels_active()->SUFFIX;        \
        fastnn_adam_scalars scalars;                                                            \
        fastnn_adam_prepare(hyper, &scalars);                                                   \
        FOR_THREAD_SHARES(n, k->adam(hi - lo, param + lo, grad + lo, exp_avg + lo,              \
                                     exp_avg_sq + lo,                                           \
                                     max_exp_avg_sq ? max_exp_avg_sq + lo : NULL, &scalars));   \
    }

DEFINE_STEPS(float, f32)
DEFINE_STEPS(double, f64)
