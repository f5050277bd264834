/* AVX2 + FMA micro-kernels: 6 x 16 floats and 6 x 8 doubles, i.e. 12 ymm accumulators, two
 * vectors of B and one broadcast of A per k step: 15 of the 16 ymm registers, and enough
 * independent FMA chains to cover two FMA pipes of latency 4-5. */
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include "kernel_context.h"

#define MR 6

static void sgemm_avx2_6x16(ptrdiff_t k, const float *a, const float *b, ptrdiff_t rs_b,
                            float *c, ptrdiff_t ldc, float alpha, float beta)
{
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
#pragma GCC unroll 2
    for (ptrdiff_t p = 0; p < k; p++, a += MR, b += rs_b) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++, c += ldc) {
        __m256 r0 = _mm256_mul_ps(va, acc[i][0]), r1 = _mm256_mul_ps(va, acc[i][1]);
        if (beta != 0) {
            r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), r0);
            r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), r1);
        }
        _mm256_storeu_ps(c, r0);
        _mm256_storeu_ps(c + 8, r1);
    }
}

static void dgemm_avx2_6x8(ptrdiff_t k, const double *a, const double *b, ptrdiff_t rs_b,
                           double *c, ptrdiff_t ldc, double alpha, double beta)
{
    __m256d acc[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_pd();
#pragma GCC unroll 2
    for (ptrdiff_t p = 0; p < k; p++, a += MR, b += rs_b) {
        __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m256d ai = _mm256_broadcast_sd(a + i);
            acc[i][0] = _mm256_fmadd_pd(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_pd(ai, b1, acc[i][1]);
        }
    }
    __m256d va = _mm256_set1_pd(alpha), vb = _mm256_set1_pd(beta);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++, c += ldc) {
        __m256d r0 = _mm256_mul_pd(va, acc[i][0]), r1 = _mm256_mul_pd(va, acc[i][1]);
        if (beta != 0) {
            r0 = _mm256_fmadd_pd(vb, _mm256_loadu_pd(c), r0);
            r1 = _mm256_fmadd_pd(vb, _mm256_loadu_pd(c + 4), r1);
        }
        _mm256_storeu_pd(c, r0);
        _mm256_storeu_pd(c + 4, r1);
    }
}

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
