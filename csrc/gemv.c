/* The matrix-vector kernels of the active kernel context (gemv.h); the registry (dispatch.c)
 * says which set runs which. */
#include "gemv.h"

#include "kernel_context.h"

const fastnn_gemv_kernels *fastnn_gemv_kernels_active(void)
{
    return fastnn_active_context()->gemv;
}
