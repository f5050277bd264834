/* Which matrix-vector kernels go with the active kernel context (gemv.h). */
#include "gemv.h"

#include "kernel_context.h"

const fastnn_gemv_kernels *fastnn_gemv_kernels_active(void)
{
    const fastnn_kernel_context *context = fastnn_active_context();
    /* by the float32 kernels the set registers, so that avx512_bf16 takes avx512's */
    if (context->sgemm == &fastnn_sgemm_avx512)
        return &fastnn_gemv_avx512;
    if (context->sgemm == &fastnn_sgemm_avx2)
        return &fastnn_gemv_avx2;
    return NULL;
}
