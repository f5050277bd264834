/* Convolution on the GEMM: forward, and the weight and input gradients, for the layouts torch
 * uses: x (N, C_in, H, W), w (C_out, C_in / groups, KH, KW), y (N, C_out, OH, OW), all contiguous.
 * A 1-D convolution is the 2-D one with H = KH = 1.
 *
 * forward, stride 1 along rows with output rows that fill register tiles: by rows
 *   (conv_rows_template.h): no window gathered; a band of input rows copied once into a padded
 *   (row, channel, column) buffer that the ISA's tile kernel (kernels/conv_rows.h) reads in
 *   place as B, all kernel columns summed in registers from the bias; threads over (image,
 *   group, band of output rows).
 * forward, otherwise: an implicit GEMM in conv.c's own loop nest over the active ISA's
 *   micro-kernel: the weights packed once per call, the windows (im2col) gathered a kc x nc block
 *   at a time straight into the packed form the micro-kernel reads (by an ISA kernel for the
 *   "same" stride-1 convolutions), bias and activation applied in the write-back; threads over
 *   (image, group, column block). Extra memory: one block (or band) and the packed weights,
 *   whatever the batch.
 * dW, where the forward runs by rows: on the same band buffer, B's panels transposed from it
 *   once for all kernel columns, summed over output rows by the same tile kernel.
 * dW, otherwise: dw_g += delta_g[:, chunk] · colᵀ on fastnn's GEMM, the windows gathered a chunk
 *   of output pixels at a time into a buffer of at most FASTNN_CONV_BUFFER_BYTES (more only when
 *   one chunk of FASTNN_CONV_MIN_COLS pixels needs it).
 * dX: for stride 1, the forward of delta by the flipped, transposed weights; otherwise
 *   dcol = w_gᵀ · delta_g[:, chunk], added back into dx by col2im. A 1x1 convolution with stride
 *   1 and no padding reads x as its own column matrix.
 */
#ifndef FASTNN_CONV_H
#define FASTNN_CONV_H

#include <stddef.h>

typedef struct {
    ptrdiff_t batch, in_channels, out_channels, groups;
    ptrdiff_t in_h, in_w, out_h, out_w;
    ptrdiff_t kernel_h, kernel_w;
    ptrdiff_t stride_h, stride_w;
    ptrdiff_t pad_h, pad_w; /* top and left; the bottom and right follow from out_h, out_w */
    ptrdiff_t dilation_h, dilation_w;
} fastnn_conv_geometry;

/* The bound on the window buffer (per buffer; a backward by col2im uses two). 4 MiB holds a
 * whole image's windows for 64 channels at 32x32 with a 3x3 kernel: the weight gradient's GEMM
 * then reduces over all of an image's pixels at once (at 1 MiB, in three chunks, it measured
 * 10% slower). */
#define FASTNN_CONV_BUFFER_BYTES ((ptrdiff_t)1 << 22)
#define FASTNN_CONV_MIN_COLS 64

#define FASTNN_DECLARE_CONV(T, SUFFIX)                                                            \
    /* y = act(conv(x, w) + bias); bias (C_out) may be NULL; pre (like y), if not NULL, receives  \
     * the values before the activation. Returns 0, or -1 if a buffer could not be allocated. */  \
    int fastnn_conv2d_forward_##SUFFIX(const fastnn_conv_geometry *g, const T *x, const T *w,     \
                                       const T *bias, int activation, T *y, T *pre);              \
    /* From delta = dL/d(conv output before the activation), like y: dw = (or +=, with           \
     * accumulate_dw) the weight gradient, and dx = the input gradient unless dx is NULL.         \
     * Returns 0, or -1 if a buffer could not be allocated. */                                    \
    int fastnn_conv2d_backward_##SUFFIX(const fastnn_conv_geometry *g, const T *x, const T *w,    \
                                        const T *delta, T *dx, T *dw, int accumulate_dw);         \
    /* sums[c] = (or +=) the sum over n and s of x[n, c, s], x (N, C, S), in double: the bias     \
     * gradient of a convolution. */                                                              \
    void fastnn_channel_sums_##SUFFIX(ptrdiff_t batch, ptrdiff_t channels, ptrdiff_t spatial,     \
                                      const T *x, T *sums, int accumulate);

FASTNN_DECLARE_CONV(float, f32)
FASTNN_DECLARE_CONV(double, f64)
#undef FASTNN_DECLARE_CONV

/* The extra memory a call holds afterwards on one thread (its window buffers, packed weights
 * and, for a backward, which is sized with dx, the weight gradient by rows' buffers), in bytes:
 * what the benchmark reports. */
ptrdiff_t fastnn_conv_buffer_bytes(const fastnn_conv_geometry *g, ptrdiff_t itemsize, int backward);

/* For the tests of that sizing: the bytes the calling thread's convolution buffers hold, and
 * their release. */
ptrdiff_t fastnn_conv_held_bytes(void);
void fastnn_conv_release_buffers(void);

#endif
