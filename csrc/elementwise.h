/* Splitting elementwise and row-wise work among OpenMP threads.
 *
 * These passes are bound by memory bandwidth, which a second thread adds little to, while a team
 * costs microseconds to wake (milliseconds when the cores are busy with other processes): only
 * passes over a quarter million elements or more are split. Each thread gets one contiguous span
 * and flushes denormals for itself (the MXCSR is per thread). */
#ifndef FASTNN_ELEMENTWISE_H
#define FASTNN_ELEMENTWISE_H

#include <stddef.h>

#include "dispatch.h"
#include "fp_env.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define FASTNN_ELEMENTWISE_PARALLEL_MIN ((ptrdiff_t)1 << 18)

/* How many threads a pass over `work` elements, split in `units` independent pieces, is worth. */
static inline int fastnn_elementwise_threads(ptrdiff_t work, ptrdiff_t units)
{
    if (work < FASTNN_ELEMENTWISE_PARALLEL_MIN || units < 2)
        return 1;
    int threads = fastnn_get_num_threads();
    ptrdiff_t by_work = work / (FASTNN_ELEMENTWISE_PARALLEL_MIN / 2);
    if (threads > by_work)
        threads = (int)by_work;
    if (threads > units)
        threads = (int)units;
    return threads < 1 ? 1 : threads;
}

/* This thread's span [lo, hi) of `units` pieces. */
static inline void fastnn_thread_span(ptrdiff_t units, ptrdiff_t *lo, ptrdiff_t *hi)
{
    int id = 0, count = 1;
#ifdef _OPENMP
    id = omp_get_thread_num();
    count = omp_get_num_threads();
#endif
    *lo = units * id / count;
    *hi = units * (id + 1) / count;
}

/* Runs the body (the variadic argument, so that it may hold commas) once per thread, with
 * ptrdiff_t lo, hi bound to the thread's span of `units` and denormals flushed around it.
 * `work` counts elements, to decide whether threads pay off. */
#define FASTNN_FOR_EACH_SPAN(work, units, ...)                                                    \
    do {                                                                                          \
        ptrdiff_t units_ = (units);                                                               \
        int threads_ = fastnn_elementwise_threads((work), units_);                                \
        (void)threads_; /* unused when built without OpenMP */                                    \
        _Pragma("omp parallel num_threads(threads_) if (threads_ > 1)")                           \
        {                                                                                         \
            ptrdiff_t lo, hi;                                                                     \
            fastnn_thread_span(units_, &lo, &hi);                                                 \
            unsigned int fp_state_ = fastnn_flush_denormals_begin();                              \
            __VA_ARGS__;                                                                          \
            fastnn_flush_denormals_end(fp_state_);                                                \
        }                                                                                         \
    } while (0)

#endif
