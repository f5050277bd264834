/* The stream probes (../../stream_probe.h) on 256-bit vectors. */
#pragma GCC target("avx2")
#include "stream_probe.h"

FASTNN_DEFINE_STREAM_PROBE(stream_read_avx2, stream_update_pair_avx2)

const fastnn_stream_probe_kernels fastnn_stream_probe_avx2 = {
    .read = stream_read_avx2, .update_pair = stream_update_pair_avx2};
