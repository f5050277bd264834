/* One core's cache bandwidth, measured with the access patterns of the batch-1 training step:
 * the limit its time is held against (benchmarks/training_step_bar.py).
 *
 * The step's forward reads every weight once (one read stream); its backward reads every weight
 * and its momentum and writes both back in place (two streams read, the same two written). The
 * two patterns run at different rates (on one Zen 5 core about 125 GB/s for the read stream and
 * 190-240 GB/s counting every byte of the in-place pair: the writes travel beside the reads),
 * so each is probed on its own. Each instruction set contributes the loops on its widest vectors
 * (csrc/kernels/<isa>/stream_probe_<isa>.c, written once below); the caller times them. */
#ifndef FASTNN_STREAM_PROBE_H
#define FASTNN_STREAM_PROBE_H

#include <stddef.h>

struct fastnn_stream_probe_kernels {
    /* the sum of a[0:n), n a multiple of 64: one read stream */
    float (*read)(const float *a, ptrdiff_t n, int prefetch);
    /* b = b / 2 + a, a = a - b / 4 over [0:n), n a multiple of 64: two streams read and written
     * in place (zeros stay zeros: no overflow or denormals however often it runs) */
    void (*update_pair)(float *a, float *b, ptrdiff_t n, int prefetch);
};
typedef struct fastnn_stream_probe_kernels fastnn_stream_probe_kernels;

/* Bytes ahead of the loads that the probes with `prefetch` ask for each line (as the GEMV does,
 * gemv_rows.h): on some machines the hardware prefetchers alone are as fast, on others not, so
 * the caller keeps the faster of both. */
#define FASTNN_STREAM_AHEAD_BYTES 2048

/* The loops, for a kernel file to instantiate under its target pragma: plain C over blocks of 64
 * floats (with and without the prefetches, so that they alone differ), which the vectoriser turns
 * into the ISA's widest loads, the read with 64 independent sums so the adds never wait on each
 * other. The inner loops are left to the vectoriser: unrolled by a pragma,
 * they were not vectorised at all (5x slower). A block of each, written once for both variants: */
#define FASTNN_STREAM_READ_BLOCK(i)                                                               \
    for (int t = 0; t < 64; t++) sum[t] += a[(i) + t]
#define FASTNN_STREAM_UPDATE_BLOCK(i)                                                             \
    for (int t = 0; t < 64; t++) {                                                                \
        float s = 0.5f * b[(i) + t] + a[(i) + t];                                                 \
        b[(i) + t] = s;                                                                           \
        a[(i) + t] -= 0.25f * s;                                                                  \
    }

#define FASTNN_DEFINE_STREAM_PROBE(READ, UPDATE_PAIR)                                             \
    static float READ(const float *restrict a, ptrdiff_t n, int prefetch)                         \
    {                                                                                             \
        float sum[64] = {0};                                                                      \
        const ptrdiff_t ahead = FASTNN_STREAM_AHEAD_BYTES / sizeof(float);                        \
        if (prefetch)                                                                             \
            for (ptrdiff_t i = 0; i < n; i += 64) {                                               \
                for (int line = 0; line < 64; line += 16)                                         \
                    __builtin_prefetch(a + i + ahead + line, 0, 3);                               \
                FASTNN_STREAM_READ_BLOCK(i);                                                      \
            }                                                                                     \
        else                                                                                      \
            for (ptrdiff_t i = 0; i < n; i += 64)                                                 \
                FASTNN_STREAM_READ_BLOCK(i);                                                      \
        float total = 0;                                                                          \
        for (int t = 0; t < 64; t++) total += sum[t];                                             \
        return total;                                                                             \
    }                                                                                             \
                                                                                                  \
    static void UPDATE_PAIR(float *restrict a, float *restrict b, ptrdiff_t n, int prefetch)      \
    {                                                                                             \
        const ptrdiff_t ahead = FASTNN_STREAM_AHEAD_BYTES / sizeof(float);                        \
        if (prefetch)                                                                             \
            for (ptrdiff_t i = 0; i < n; i += 64) {                                               \
                for (int line = 0; line < 64; line += 16) {                                       \
                    __builtin_prefetch(a + i + ahead + line, 1, 3);                               \
                    __builtin_prefetch(b + i + ahead + line, 1, 3);                               \
                }                                                                                 \
                FASTNN_STREAM_UPDATE_BLOCK(i);                                                    \
            }                                                                                     \
        else                                                                                      \
            for (ptrdiff_t i = 0; i < n; i += 64)                                                 \
                FASTNN_STREAM_UPDATE_BLOCK(i);                                                    \
    }

/* One pass of the active instruction set's probes (n a multiple of 64; a and b not overlapping):
 * the caller times them. */
float fastnn_stream_read(const float *a, ptrdiff_t n, int prefetch);
void fastnn_stream_update_pair(float *a, float *b, ptrdiff_t n, int prefetch);

#endif
