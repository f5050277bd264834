/* The forward by rows' kernels (../conv_rows.h) for the baseline: tiles of 4 x 8 floats and
 * 4 x 4 doubles, the register tiles of this set's GEMM micro-kernels. */
#include "../conv_rows.h"
#include "kernel_context.h"

FASTNN_DEFINE_CONV_ROWS_TILE_PLAIN(fastnn_conv_rows_tile_f32_generic, float, 4, 8)
FASTNN_DEFINE_CONV_ROWS_TILE_PLAIN(fastnn_conv_rows_tile_f64_generic, double, 4, 4)
FASTNN_DEFINE_CONV_ROWS_SET(generic)
