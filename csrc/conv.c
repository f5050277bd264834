/* Convolution on the GEMM (see conv.h): the column buffers and their bound, then the drivers,
 * once for float and double (conv_template.h). */
#include "conv.h"

#include <stdlib.h>
#include <string.h>

#include "elementwise.h"
#include "gemm.h"
#include "kernel_context.h"

static ptrdiff_t clamp(ptrdiff_t v, ptrdiff_t lo, ptrdiff_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ceil(a / b) for b > 0 and any sign of a */
static ptrdiff_t ceil_div_signed(ptrdiff_t a, ptrdiff_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

/* A 1x1 convolution at stride 1 without padding: the input's planes are already the column
 * matrix (one row per input channel, one column per pixel). */
static int reads_input_as_columns(const fastnn_conv_geometry *g)
{
    return g->kernel_h == 1 && g->kernel_w == 1 && g->stride_h == 1 && g->stride_w == 1 &&
           g->pad_h == 0 && g->pad_w == 0 && g->out_h == g->in_h && g->out_w == g->in_w;
}

/* Output pixels per chunk: as many as fit the buffer bound, at least FASTNN_CONV_MIN_COLS (a
 * GEMM over fewer columns would be all edges), split evenly so that no chunk is a sliver. */
static ptrdiff_t chunk_columns(const fastnn_conv_geometry *g, ptrdiff_t itemsize)
{
    ptrdiff_t rows = g->in_channels / g->groups * g->kernel_h * g->kernel_w;
    ptrdiff_t pixels = g->out_h * g->out_w;
    ptrdiff_t cols = FASTNN_CONV_BUFFER_BYTES / (rows * itemsize);
    if (cols < FASTNN_CONV_MIN_COLS)
        cols = FASTNN_CONV_MIN_COLS;
    if (cols >= pixels)
        return pixels;
    ptrdiff_t chunks = (pixels + cols - 1) / cols;
    cols = (pixels + chunks - 1) / chunks;
    cols = (cols + 15) & ~(ptrdiff_t)15;
    return cols < pixels ? cols : pixels;
}

ptrdiff_t fastnn_conv_buffer_bytes(const fastnn_conv_geometry *g, ptrdiff_t itemsize)
{
    if (reads_input_as_columns(g))
        return 0;
    return g->in_channels / g->groups * g->kernel_h * g->kernel_w * chunk_columns(g, itemsize) *
           itemsize;
}

/* Each calling thread keeps its two buffers (windows, and their gradient) for the next call, as
 * the GEMM keeps its packing buffers: they are bounded, and a fresh megabyte per call would be
 * page-faulted in every time. */
static __thread void *window_buffers[2];
static __thread size_t window_buffer_sizes[2];

static void *window_buffer(int which, size_t bytes)
{
    if (bytes > window_buffer_sizes[which]) {
        free(window_buffers[which]);
        window_buffer_sizes[which] = 0;
        bytes = (bytes + 63) & ~(size_t)63;
        window_buffers[which] = aligned_alloc(64, bytes);
        if (window_buffers[which] == NULL)
            return NULL;
        window_buffer_sizes[which] = bytes;
    }
    return window_buffers[which];
}

#define T float
#define NAME(x) x##_f32
#define GEMM fastnn_sgemm
#define ACTS f32
#include "conv_template.h"
#undef T
#undef NAME
#undef GEMM
#undef ACTS

#define T double
#define NAME(x) x##_f64
#define GEMM fastnn_dgemm
#define ACTS f64
#include "conv_template.h"
#undef T
#undef NAME
#undef GEMM
#undef ACTS
