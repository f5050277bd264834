/* What an instruction set contributes to the GEMM: micro-kernels and their block sizes.
 *
 * A micro-kernel computes one MR x NR tile: C = alpha * sum_p a[p*MR + i] * b[p*NR + j] + beta * C
 * from packed panels of A (MR values per k step) and B (NR values per k step), for a full tile
 * only: the loop nest (gemm_loop_nest.h) handles edge tiles through a scratch tile.
 * beta == 0 must not read C. Packed panels are 64-byte aligned.
 *
 * Block sizes: KC is the depth of a packed panel; a packed MR x KC micro-panel of A stays in L1
 * while the KC x NC panel of B (in L2) streams past it; MC rows of A are packed at a time.
 */
#ifndef FASTNN_KERNEL_CONTEXT_H
#define FASTNN_KERNEL_CONTEXT_H

#include <stddef.h>

typedef void (*fastnn_sgemm_ukernel)(ptrdiff_t k, const float *a, const float *b, float *c,
                                     ptrdiff_t ldc, float alpha, float beta);
typedef void (*fastnn_dgemm_ukernel)(ptrdiff_t k, const double *a, const double *b, double *c,
                                     ptrdiff_t ldc, double alpha, double beta);

typedef struct {
    int mr, nr, kc, mc, nc;
    fastnn_sgemm_ukernel ukernel;
} fastnn_sgemm_blocking;

typedef struct {
    int mr, nr, kc, mc, nc;
    fastnn_dgemm_ukernel ukernel;
} fastnn_dgemm_blocking;

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
