/* The convolution's window gather (../conv_gather.h) on AVX2: panel rows of 16 floats, 8 doubles. */
#pragma GCC target("avx2,fma")
#include "../conv_gather.h"

FASTNN_DEFINE_CONV_GATHER(fastnn_conv_gather_f32_avx2, uint32_t, 16)
FASTNN_DEFINE_CONV_GATHER(fastnn_conv_gather_f64_avx2, uint64_t, 8)
