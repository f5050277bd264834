/* Portable micro-kernels: plain C the compiler vectorises for the architecture's baseline
 * (SSE2 on x86-64). They are the fallback and the reference the other kernels are tested
 * against; 4 x 8 floats (4 x 4 doubles) keep the accumulators in the 16 baseline registers. */
#include "kernel_context.h"

/* A(i, p) at a[i * A_ROW + p * A_STEP]: packed (1, MR), or in place (its strides) */
#define GENERIC_TILE(T, MR, NR, A_ROW, A_STEP)                                                  \
    {                                                                                           \
        T acc[MR][NR] = {{0}};                                                                  \
        for (ptrdiff_t p = 0; p < k; p++, a += (A_STEP), b += rs_b)                             \
            for (int i = 0; i < MR; i++)                                                        \
                for (int j = 0; j < NR; j++) acc[i][j] += a[i * (A_ROW)] * b[j];                \
        for (int i = 0; i < MR; i++, c += ldc) {                                                \
            if (beta == 0)                                                                      \
                for (int j = 0; j < NR; j++) c[j] = alpha * acc[i][j];                          \
            else                                                                                \
                for (int j = 0; j < NR; j++) c[j] = alpha * acc[i][j] + beta * c[j];            \
        }                                                                                       \
    }

#define DEFINE_GENERIC_UKERNEL(T, NAME, MR, NR)                                                 \
    static void NAME(ptrdiff_t k, const T *restrict a, const T *restrict b, ptrdiff_t rs_b,     \
                     T *restrict c, ptrdiff_t ldc, T alpha, T beta)                             \
    GENERIC_TILE(T, MR, NR, 1, MR)                                                              \
    static void NAME##_strided_a(ptrdiff_t k, const T *restrict a, ptrdiff_t rs_a,              \
                                 ptrdiff_t cs_a, const T *restrict b, ptrdiff_t rs_b,           \
                                 T *restrict c, ptrdiff_t ldc, T alpha, T beta)                 \
    GENERIC_TILE(T, MR, NR, rs_a, cs_a)

DEFINE_GENERIC_UKERNEL(float, sgemm_generic_4x8, 4, 8)
DEFINE_GENERIC_UKERNEL(double, dgemm_generic_4x4, 4, 4)

const fastnn_sgemm_blocking fastnn_sgemm_generic = {
    .mr = 4, .nr = 8, .kc = 256, .mc = 128, .nc = 512, .ukernel = sgemm_generic_4x8,
    .strided_a_ukernel = sgemm_generic_4x8_strided_a, .pack_copy = fastnn_pack_copy_generic,
};
const fastnn_dgemm_blocking fastnn_dgemm_generic = {
    .mr = 4, .nr = 4, .kc = 256, .mc = 128, .nc = 256, .ukernel = dgemm_generic_4x4,
    .strided_a_ukernel = dgemm_generic_4x4_strided_a, .pack_copy = fastnn_pack_copy_generic,
};
