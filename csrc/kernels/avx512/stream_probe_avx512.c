/* The stream probes (../../stream_probe.h) on 512-bit vectors. */
#pragma GCC target("avx512f,prefer-vector-width=512")
#include "stream_probe.h"

FASTNN_DEFINE_STREAM_PROBE(stream_read_avx512, stream_update_pair_avx512)

const fastnn_stream_probe_kernels fastnn_stream_probe_avx512 = {
    .read = stream_read_avx512, .update_pair = stream_update_pair_avx512};
