/* The convolution's window gather (../conv_gather.h) for the baseline: panel rows of 8 floats,
 * 4 doubles. */
#include "../conv_gather.h"
#include "kernel_context.h"

FASTNN_DEFINE_CONV_GATHER(fastnn_conv_gather_f32_generic, uint32_t, 8)
FASTNN_DEFINE_CONV_GATHER(fastnn_conv_gather_f64_generic, uint64_t, 4)

const fastnn_conv_gather_kernels fastnn_conv_gather_generic = {
    .nr_f32 = 8, .nr_f64 = 4,
    .f32 = fastnn_conv_gather_f32_generic,
    .f64 = fastnn_conv_gather_f64_generic};
