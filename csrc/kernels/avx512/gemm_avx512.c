/* AVX-512 micro-kernels: 8 x 32 floats and 8 x 16 doubles, i.e. 16 zmm accumulators fed by two
 * vectors of B and eight broadcasts of A per k step. MR = 8 divides the batch sizes MLPs use
 * (16, 32, 64, 256), so small batches waste no rows in edge tiles. */
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
#include <immintrin.h>

#include "kernel_context.h"
#include "kernels/register_tile.h"

#define MR 8

FASTNN_DEFINE_REGISTER_TILE_UKERNEL(sgemm_avx512_8x32, float, __m512, 16, _mm512_set1_ps,
                                    _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps,
                                    _mm512_fmadd_ps, _mm512_mul_ps)
FASTNN_DEFINE_REGISTER_TILE_UKERNEL(dgemm_avx512_8x16, double, __m512d, 8, _mm512_set1_pd,
                                    _mm512_setzero_pd, _mm512_loadu_pd, _mm512_storeu_pd,
                                    _mm512_fmadd_pd, _mm512_mul_pd)

/* An 8 x KC micro-panel of A (8 KiB at KC = 256) stays in L1 while B's KC x NC panel (512 KiB)
 * streams from a 1 MiB L2. */
const fastnn_kernel_context fastnn_context_avx512 = {
    .name = "avx512",
    .sgemm = {.mr = MR, .nr = 32, .kc = 256, .mc = 128, .nc = 512, .ukernel = sgemm_avx512_8x32,
              .pack_transposed = fastnn_spack_transposed_avx2},
    .dgemm = {.mr = MR, .nr = 16, .kc = 256, .mc = 128, .nc = 256, .ukernel = dgemm_avx512_8x16,
              .pack_transposed = fastnn_dpack_transposed_avx2},
};
