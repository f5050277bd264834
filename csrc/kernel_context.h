/* What an instruction set contributes to the GEMM: micro-kernels and their block sizes.
 *
 * A micro-kernel computes one MR x NR tile: C = alpha * sum_p a[p*MR + i] * b[p*rs_b + j] + beta * C
 * from a packed panel of A (MR values per k step, 64-byte aligned) and NR consecutive values of B
 * per k step, rs_b apart (NR for a packed panel; B's row stride where it is read in place), for a
 * full tile only: the loop nest (gemm_loop_nest.h) handles edge tiles through a scratch tile.
 * beta == 0 must not read C.
 *
 * Block sizes: KC is the depth of a packed panel; a packed MR x KC micro-panel of A stays in L1
 * while the KC x NC panel of B (in L2) streams past it; MC rows of A are packed at a time.
 */
#ifndef FASTNN_KERNEL_CONTEXT_H
#define FASTNN_KERNEL_CONTEXT_H

#include <stddef.h>

typedef void (*fastnn_sgemm_ukernel)(ptrdiff_t k, const float *a, const float *b, ptrdiff_t rs_b,
                                     float *c, ptrdiff_t ldc, float alpha, float beta);
typedef void (*fastnn_dgemm_ukernel)(ptrdiff_t k, const double *a, const double *b,
                                     ptrdiff_t rs_b, double *c, ptrdiff_t ldc, double alpha,
                                     double beta);

/* Optional: packs a full panel of w rows, each contiguous along k (row r at src + r * ld), into
 * dst[p * w + r]. NULL where the portable loop is as good. */
typedef void (*fastnn_spack_transposed)(ptrdiff_t kc, const float *src, ptrdiff_t ld, int w,
                                        float *dst);
typedef void (*fastnn_dpack_transposed)(ptrdiff_t kc, const double *src, ptrdiff_t ld, int w,
                                        double *dst);

typedef struct {
    int mr, nr, kc, mc, nc;
    fastnn_sgemm_ukernel ukernel;
    fastnn_spack_transposed pack_transposed;
} fastnn_sgemm_blocking;

typedef struct {
    int mr, nr, kc, mc, nc;
    fastnn_dgemm_ukernel ukernel;
    fastnn_dpack_transposed pack_transposed;
} fastnn_dgemm_blocking;

/* AVX transposes of 8 x 8 floats and 4 x 4 doubles (csrc/kernels/avx2/pack_avx2.c), used by the
 * AVX2 and AVX-512 kernel sets, for any w. */
void fastnn_spack_transposed_avx2(ptrdiff_t kc, const float *src, ptrdiff_t ld, int w, float *dst);
void fastnn_dpack_transposed_avx2(ptrdiff_t kc, const double *src, ptrdiff_t ld, int w,
                                  double *dst);

typedef struct {
    const char *name;
    fastnn_sgemm_blocking sgemm;
    fastnn_dgemm_blocking dgemm;
} fastnn_kernel_context;

extern const fastnn_kernel_context fastnn_context_avx512;
extern const fastnn_kernel_context fastnn_context_avx2;
extern const fastnn_kernel_context fastnn_context_generic;

/* The context chosen at import (dispatch.c). */
const fastnn_kernel_context *fastnn_active_context(void);

/* Upper bounds on any context's MR and NR, for scratch tiles on the stack. */
#define FASTNN_MAX_MR 16
#define FASTNN_MAX_NR 64

#endif
