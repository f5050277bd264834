/* Matrix-vector products y = W x for one row of input (batch 1), per instruction set.
 *
 * At batch 1, X W^T reads every weight once for one multiply-add: the time is that of streaming
 * W from memory. These kernels read W row after row, one sequential stream the prefetchers
 * follow, with four accumulators per row (the GEMM's dot tile, made for a few rows, computes 16
 * sums of which one is needed and reads W as four interleaved streams). */
#ifndef FASTNN_GEMV_H
#define FASTNN_GEMV_H

#include <stddef.h>

struct fastnn_gemv_kernels {
    /* y[j] = sum_p w[j * ldw + p] * x[p], j < n, p < k */
    void (*f32)(ptrdiff_t n, ptrdiff_t k, const float *w, ptrdiff_t ldw, const float *x, float *y);
    void (*f64)(ptrdiff_t n, ptrdiff_t k, const double *w, ptrdiff_t ldw, const double *x,
                double *y);
    /* y[p] = sum_j d[j] * w[j * ldw + p], p < k, j < n (d W: the input gradient at batch 1) */
    void (*gevm_f32)(ptrdiff_t n, ptrdiff_t k, const float *w, ptrdiff_t ldw, const float *d,
                     float *y);
    void (*gevm_f64)(ptrdiff_t n, ptrdiff_t k, const double *w, ptrdiff_t ldw, const double *d,
                     double *y);
};
typedef struct fastnn_gemv_kernels fastnn_gemv_kernels;

extern const fastnn_gemv_kernels fastnn_gemv_avx512;
extern const fastnn_gemv_kernels fastnn_gemv_avx2;

/* The active kernel context's (its .gemv), or NULL where the GEMM serves as well (the
 * baseline). */
const fastnn_gemv_kernels *fastnn_gemv_kernels_active(void);

#endif
