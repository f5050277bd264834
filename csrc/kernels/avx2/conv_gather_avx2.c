/* The convolution's window gather (../conv_gather.h) on AVX2: panel rows of 16 floats, 8
 * doubles. */
#pragma GCC target("avx2,fma")
#include "../conv_gather.h"
#include "kernel_context.h"

FASTNN_DEFINE_CONV_GATHER(fastnn_conv_gather_f32_avx2, uint32_t, 16)
FASTNN_DEFINE_CONV_GATHER(fastnn_conv_gather_f64_avx2, uint64_t, 8)

const fastnn_conv_gather_kernels fastnn_conv_gather_avx2 = {
    .nr_f32 = 16, .nr_f64 = 8,
    .f32 = fastnn_conv_gather_f32_avx2,
    .f64 = fastnn_conv_gather_f64_avx2};
