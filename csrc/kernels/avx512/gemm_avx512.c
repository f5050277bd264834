/* AVX-512 micro-kernels: 8 x 32 floats and 8 x 16 doubles, i.e. 16 zmm accumulators fed by two
 * vectors of B and eight broadcasts of A per k step. MR = 8 divides the batch sizes MLPs use
 * (16, 32, 64, 256), so small batches waste no rows in edge tiles. */
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
#include <immintrin.h>

#include "kernel_context.h"

#define MR 8

static void sgemm_avx512_8x32(ptrdiff_t k, const float *a, const float *b,
                              ptrdiff_t rs_b, float *c, ptrdiff_t ldc, float alpha, float beta)
{
    __m512 acc[MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
#pragma GCC unroll 4
    for (ptrdiff_t p = 0; p < k; p++, a += MR, b += rs_b) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++, c += ldc) {
        __m512 r0 = _mm512_mul_ps(va, acc[i][0]), r1 = _mm512_mul_ps(va, acc[i][1]);
        if (beta != 0) {
            r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c), r0);
            r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + 16), r1);
        }
        _mm512_storeu_ps(c, r0);
        _mm512_storeu_ps(c + 16, r1);
    }
}

static void dgemm_avx512_8x16(ptrdiff_t k, const double *a, const double *b,
                              ptrdiff_t rs_b, double *c, ptrdiff_t ldc, double alpha, double beta)
{
    __m512d acc[MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_pd();
#pragma GCC unroll 4
    for (ptrdiff_t p = 0; p < k; p++, a += MR, b += rs_b) {
        __m512d b0 = _mm512_loadu_pd(b), b1 = _mm512_loadu_pd(b + 8);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512d ai = _mm512_set1_pd(a[i]);
            acc[i][0] = _mm512_fmadd_pd(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_pd(ai, b1, acc[i][1]);
        }
    }
    __m512d va = _mm512_set1_pd(alpha), vb = _mm512_set1_pd(beta);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++, c += ldc) {
        __m512d r0 = _mm512_mul_pd(va, acc[i][0]), r1 = _mm512_mul_pd(va, acc[i][1]);
        if (beta != 0) {
            r0 = _mm512_fmadd_pd(vb, _mm512_loadu_pd(c), r0);
            r1 = _mm512_fmadd_pd(vb, _mm512_loadu_pd(c + 8), r1);
        }
        _mm512_storeu_pd(c, r0);
        _mm512_storeu_pd(c + 8, r1);
    }
}

/* An 8 x KC micro-panel of A (8 KiB at KC = 256) stays in L1 while B's KC x NC panel (512 KiB)
 * streams from a 1 MiB L2. */
const fastnn_kernel_context fastnn_context_avx512 = {
    .name = "avx512",
    .sgemm = {.mr = MR, .nr = 32, .kc = 256, .mc = 128, .nc = 512, .ukernel = sgemm_avx512_8x32,
              .pack_transposed = fastnn_spack_transposed_avx2},
    .dgemm = {.mr = MR, .nr = 16, .kc = 256, .mc = 128, .nc = 256, .ukernel = dgemm_avx512_8x16,
              .pack_transposed = fastnn_dpack_transposed_avx2},
    .activations = &fastnn_activations_avx512,
};
