/* Pooling over planes: x is (planes, H, W) contiguous, one plane per (sample, channel), y is
 * (planes, OH, OW). Threaded over planes; 1-D pooling is the 2-D one with H = KH = 1.
 * Windows start at o * stride - pad and take every dilation-th value; the caller chooses
 * OH and OW (floor or ceil mode) so that every window holds at least one input value. */
#ifndef FASTNN_POOLING_H
#define FASTNN_POOLING_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    ptrdiff_t planes, in_h, in_w, out_h, out_w;
    ptrdiff_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
} fastnn_pool_geometry;

#define FASTNN_DECLARE_POOLING(T, SUFFIX)                                                         \
    /* y = the window maxima (NaN wins, as in torch); argmax (like y, may be NULL) receives the   \
     * index within the plane (ih * W + iw) of each maximum. */                                   \
    void fastnn_max_pool2d_##SUFFIX(const fastnn_pool_geometry *g, const T *x, T *y,              \
                                    int64_t *argmax);                                             \
    /* dx = 0, then each dy added at its argmax. */                                               \
    void fastnn_max_pool2d_backward_##SUFFIX(const fastnn_pool_geometry *g, const T *dy,          \
                                             const int64_t *argmax, T *dx);                       \
    /* y = window sums / divisor: divisor_override if > 0, else the window's size counting the   \
     * padding (count_include_pad, torch's default) or only the values inside the image. */       \
    void fastnn_avg_pool2d_##SUFFIX(const fastnn_pool_geometry *g, const T *x, T *y,              \
                                    int count_include_pad, ptrdiff_t divisor_override);           \
    void fastnn_avg_pool2d_backward_##SUFFIX(const fastnn_pool_geometry *g, const T *dy, T *dx,   \
                                             int count_include_pad, ptrdiff_t divisor_override);  \
    /* Adaptive average pooling: output cell i covers [floor(i H / OH), ceil((i + 1) H / OH)). */ \
    void fastnn_adaptive_avg_pool2d_##SUFFIX(const fastnn_pool_geometry *g, const T *x, T *y);    \
    void fastnn_adaptive_avg_pool2d_backward_##SUFFIX(const fastnn_pool_geometry *g,              \
                                                      const T *dy, T *dx);

FASTNN_DECLARE_POOLING(float, f32)
FASTNN_DECLARE_POOLING(double, f64)
#undef FASTNN_DECLARE_POOLING

#endif
