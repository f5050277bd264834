/* AVX2 + FMA micro-kernels: 6 x 16 floats and 6 x 8 doubles, i.e. 12 ymm accumulators, two
 * vectors of B and one broadcast of A per k step: 15 of the 16 ymm registers, and enough
 * independent FMA chains to cover two FMA pipes of latency 4-5. */
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include "kernel_context.h"
#include "kernels/register_tile.h"

#define MR 6

FASTNN_DEFINE_REGISTER_TILE_UKERNEL(sgemm_avx2_6x16, float, __m256, 8, _mm256_set1_ps,
                                    _mm256_setzero_ps, _mm256_loadu_ps, _mm256_storeu_ps,
                                    _mm256_fmadd_ps, _mm256_mul_ps)
FASTNN_DEFINE_REGISTER_TILE_UKERNEL(dgemm_avx2_6x8, double, __m256d, 4, _mm256_set1_pd,
                                    _mm256_setzero_pd, _mm256_loadu_pd, _mm256_storeu_pd,
                                    _mm256_fmadd_pd, _mm256_mul_pd)

/* KC x NR of B (16 KiB at KC = 256) and MR x KC of A fit L1 beside each other; the KC x NC panel
 * of B (512 KiB) stays in a 1 MiB L2. */
const fastnn_kernel_context fastnn_context_avx2 = {
    .name = "avx2",
    .sgemm = {.mr = MR, .nr = 16, .kc = 256, .mc = 144, .nc = 512, .ukernel = sgemm_avx2_6x16,
              .pack_transposed = fastnn_spack_transposed_avx2},
    .dgemm = {.mr = MR, .nr = 8, .kc = 256, .mc = 96, .nc = 256, .ukernel = dgemm_avx2_6x8,
              .pack_transposed = fastnn_dpack_transposed_avx2},
    .activations = &fastnn_activations_avx2,
};
