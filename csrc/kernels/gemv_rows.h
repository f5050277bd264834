/* The matrix-vector kernels (csrc/gemv.h), written once for the vector instruction sets: a file
 * under csrc/kernels/<isa>/ names its vector types and intrinsics, then includes this. Each row
 * of W is one dot product with x (in L1): four vector accumulators hide the FMA latency, the k
 * tail is added in scalar code, and the row's sum is reduced across lanes at its end. */
#ifndef FASTNN_GEMV_ROWS_H
#define FASTNN_GEMV_ROWS_H

/* Bytes ahead of the loads that each row's lines are asked for: the hardware prefetchers alone
 * kept one core at ~73 GB/s from L3, with this ~95 (measured on the 784-1024-1024-10 weights;
 * 1 KiB and 4 KiB ahead did the same). */
#ifndef GEMV_AHEAD
#define GEMV_AHEAD 2048
#endif

#define FASTNN_DEFINE_GEMV(NAME, T, V, LANES, ZERO, LOADU, FMADD, ADD, REDUCE)                    \
    static void NAME(ptrdiff_t n, ptrdiff_t k, const T *w, ptrdiff_t ldw, const T *x, T *y)       \
    {                                                                                             \
        for (ptrdiff_t j = 0; j < n; j++) {                                                       \
            const T *row = w + j * ldw;                                                           \
            V a0 = ZERO(), a1 = ZERO(), a2 = ZERO(), a3 = ZERO();                                 \
            ptrdiff_t p = 0;                                                                      \
            for (; p + 4 * LANES <= k; p += 4 * LANES) {                                          \
                for (int line = 0; line < 4 * LANES * (int)sizeof(T); line += 64)                 \
                    __builtin_prefetch((const char *)(row + p) + GEMV_AHEAD + line, 0, 3);        \
                a0 = FMADD(LOADU(row + p), LOADU(x + p), a0);                                     \
                a1 = FMADD(LOADU(row + p + LANES), LOADU(x + p + LANES), a1);                     \
                a2 = FMADD(LOADU(row + p + 2 * LANES), LOADU(x + p + 2 * LANES), a2);             \
                a3 = FMADD(LOADU(row + p + 3 * LANES), LOADU(x + p + 3 * LANES), a3);             \
            }                                                                                     \
            for (; p + LANES <= k; p += LANES) a0 = FMADD(LOADU(row + p), LOADU(x + p), a0);      \
            T tail = 0;                                                                           \
            for (; p < k; p++) tail += row[p] * x[p];                                             \
            y[j] = REDUCE(ADD(ADD(a0, a1), ADD(a2, a3))) + tail;                                  \
        }                                                                                         \
    }

/* y[p] = sum_j d[j] w[j * ldw + p], p < k, j < n: the input gradient d W of batch 1. Four rows
 * of W at a time are added into y (in L1), W read as one sequential stream. */
#define FASTNN_DEFINE_GEVM(NAME, T, V, LANES, ZERO, LOADU, STOREU, SET1, FMADD)                   \
    static void NAME(ptrdiff_t n, ptrdiff_t k, const T *w, ptrdiff_t ldw, const T *d, T *y)       \
    {                                                                                             \
        for (ptrdiff_t p = 0; p < k; p++) y[p] = 0;                                               \
        ptrdiff_t j = 0;                                                                          \
        for (; j + 4 <= n; j += 4) {                                                              \
            const T *w0 = w + j * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;            \
            V d0 = SET1(d[j]), d1 = SET1(d[j + 1]), d2 = SET1(d[j + 2]), d3 = SET1(d[j + 3]);     \
            ptrdiff_t p = 0;                                                                      \
            for (; p + LANES <= k; p += LANES) {                                                  \
                if (p % (64 / sizeof(T)) == 0) {                                                  \
                    __builtin_prefetch(w0 + p + 4 * ldw, 0, 3);                                   \
                    __builtin_prefetch(w1 + p + 4 * ldw, 0, 3);                                   \
                    __builtin_prefetch(w2 + p + 4 * ldw, 0, 3);                                   \
                    __builtin_prefetch(w3 + p + 4 * ldw, 0, 3);                                   \
                }                                                                                 \
                V acc = LOADU(y + p);                                                             \
                acc = FMADD(d0, LOADU(w0 + p), acc);                                              \
                acc = FMADD(d1, LOADU(w1 + p), acc);                                              \
                acc = FMADD(d2, LOADU(w2 + p), acc);                                              \
                acc = FMADD(d3, LOADU(w3 + p), acc);                                              \
                STOREU(y + p, acc);                                                               \
            }                                                                                     \
            for (; p < k; p++)                                                                    \
                y[p] = y[p] + d[j] * w0[p] + d[j + 1] * w1[p] + d[j + 2] * w2[p] +                \
                       d[j + 3] * w3[p];                                                          \
        }                                                                                         \
        for (; j < n; j++)                                                                        \
            for (ptrdiff_t p = 0; p < k; p++) y[p] += d[j] * w[j * ldw + p];                      \
    }

#endif
