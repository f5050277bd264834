/* The convolution's window gather (../conv_gather.h) on AVX-512: a panel row of 32 floats (16
 * doubles, the sgemm/dgemm register tiles' width) is two (one) masked vector copies. */
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,prefer-vector-width=512")
#include "../conv_gather.h"
#include "kernel_context.h"

FASTNN_DEFINE_CONV_GATHER(fastnn_conv_gather_f32_avx512, uint32_t, 32)
FASTNN_DEFINE_CONV_GATHER(fastnn_conv_gather_f64_avx512, uint64_t, 16)

const fastnn_conv_gather_kernels fastnn_conv_gather_avx512 = {
    .nr_f32 = 32, .nr_f64 = 16,
    .f32 = fastnn_conv_gather_f32_avx512,
    .f64 = fastnn_conv_gather_f64_avx512};
