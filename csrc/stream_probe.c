/* The active instruction set's stream probes (stream_probe.h). */
#include "stream_probe.h"

#include "kernel_context.h"

float fastnn_stream_read(const float *a, ptrdiff_t n, int prefetch)
{
    return fastnn_active_context()->stream_probe->read(a, n, prefetch);
}

void fastnn_stream_update_pair(float *a, float *b, ptrdiff_t n, int prefetch)
{
    fastnn_active_context()->stream_probe->update_pair(a, b, n, prefetch);
}
