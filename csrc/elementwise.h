/* Splitting elementwise and row-wise work among fastnn's threads (thread_pool.h).
 *
 * These passes are bound by memory bandwidth, which a second thread adds little to, while handing
 * work to a helper costs microseconds: only passes over a quarter million elements or more are
 * split. They are split in a few spans per thread, taken from a shared counter, so a thread the
 * OS has descheduled holds up no more than the span it is in; each span flushes denormals for its
 * thread (the MXCSR is per thread). Every split gives the same results: spans are independent. */
#ifndef FASTNN_ELEMENTWISE_H
#define FASTNN_ELEMENTWISE_H

#include <stddef.h>

#define FASTNN_ELEMENTWISE_PARALLEL_MIN ((ptrdiff_t)1 << 18)

/* Work on the pieces [lo, hi) of a pass; `args` holds the pass's operands. */
typedef void (*fastnn_span_fn)(const void *args, ptrdiff_t lo, ptrdiff_t hi);

/* Runs span(args, lo, hi) over [0, units) in disjoint spans that cover it, on one or more
 * threads; `work` counts elements, to decide whether threads pay off. */
void fastnn_for_each_span(ptrdiff_t work, ptrdiff_t units, fastnn_span_fn span, const void *args);

#endif
