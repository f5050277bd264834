/* The convolution's window gather (../conv_gather.h) on AVX-512: a panel row of 32 floats (16
 * doubles, the sgemm/dgemm register tiles' width) is two (one) masked vector copies. */
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,prefer-vector-width=512")
#include "../conv_gather.h"

FASTNN_DEFINE_CONV_GATHER(fastnn_conv_gather_f32_avx512, uint32_t, 32)
FASTNN_DEFINE_CONV_GATHER(fastnn_conv_gather_f64_avx512, uint64_t, 16)
