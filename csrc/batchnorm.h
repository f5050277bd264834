/* Batch normalisation over x (N, C, S) contiguous: channel c's values are the N planes of S
 * values x[n, c, :] (S = 1 for BatchNorm1d on (N, C), H * W for BatchNorm2d). Statistics and
 * sums accumulate in double; every kernel is threaded over channels (the reductions) or planes
 * (the elementwise passes). */
#ifndef FASTNN_BATCHNORM_H
#define FASTNN_BATCHNORM_H

#include <stddef.h>

#define FASTNN_DECLARE_BATCHNORM(T, SUFFIX)                                                       \
    /* mean[c] and the biased variance var[c] of each channel (two passes: no cancellation). */   \
    void fastnn_batch_norm_stats_##SUFFIX(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial, \
                                          const T *x, double *mean, double *var);                 \
    /* y = x * scale[c] + shift[c]; y may be x. */                                                \
    void fastnn_batch_norm_apply_##SUFFIX(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial, \
                                          const T *x, const T *scale, const T *shift, T *y);      \
    /* With xhat = (x - mean) * invstd: dbeta = (or +=) sum dy, dgamma = (or +=) sum dy * xhat    \
     * (each skipped when NULL); dx (skipped when NULL) = gamma * invstd * (dy - mean(dy) -       \
     * xhat * mean(dy * xhat)) with batch statistics (training), or gamma * invstd * dy with      \
     * fixed ones (eval). gamma NULL means 1. */                                                  \
    void fastnn_batch_norm_backward_##SUFFIX(                                                     \
        ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial, const T *x, const T *dy,          \
        const double *mean, const double *invstd, const T *gamma, int training, T *dx,            \
        T *dgamma, T *dbeta, int accumulate);

FASTNN_DECLARE_BATCHNORM(float, f32)
FASTNN_DECLARE_BATCHNORM(double, f64)
#undef FASTNN_DECLARE_BATCHNORM

#endif
