/* The stream probes (../../stream_probe.h) on the baseline's 128-bit SSE2 vectors. */
#include "stream_probe.h"

FASTNN_DEFINE_STREAM_PROBE(stream_read_generic, stream_update_pair_generic)

const fastnn_stream_probe_kernels fastnn_stream_probe_generic = {
    .read = stream_read_generic, .update_pair = stream_update_pair_generic};
