/* Elementwise passes split into spans for fastnn's threads (elementwise.h). */
#include "elementwise.h"

#include "dispatch.h"
#include "fp_env.h"
#include "thread_pool.h"

/* Spans per thread: enough that a descheduled thread's span is a small part of the pass. */
#define SPANS_PER_THREAD 4

typedef struct {
    fastnn_span_fn span;
    const void *args;
    ptrdiff_t units, spans;
} span_job;

static int run_span(void *context, ptrdiff_t index)
{
    const span_job *job = context;
    ptrdiff_t lo = job->units * index / job->spans, hi = job->units * (index + 1) / job->spans;
    unsigned int fp_state = fastnn_flush_denormals_begin();
    job->span(job->args, lo, hi);
    fastnn_flush_denormals_end(fp_state);
    return 0;
}

void fastnn_for_each_span(ptrdiff_t work, ptrdiff_t units, fastnn_span_fn span, const void *args)
{
    int threads = 1;
    if (work >= FASTNN_ELEMENTWISE_PARALLEL_MIN && units >= 2) {
        threads = fastnn_get_num_threads();
        ptrdiff_t by_work = work / (FASTNN_ELEMENTWISE_PARALLEL_MIN / 2);
        threads = threads < by_work ? threads : (int)by_work;
    }
    span_job job = {.span = span, .args = args, .units = units,
                    .spans = threads > 1 ? (ptrdiff_t)threads * SPANS_PER_THREAD : 1};
    if (job.spans > units)
        job.spans = units;
    if (job.spans <= 1) {
        job.spans = 1;
        run_span(&job, 0);
        return;
    }
    fastnn_run_units(threads, job.spans, run_span, &job, 0);
}
