/* Convolution on the GEMM (see conv.h): the column buffers and their bound, then the drivers,
 * once for float and double (conv_template.h). */
#include "conv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "elementwise.h"
#include "fp_env.h"
#include "thread_pool.h"
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

/* Whether a tap's values over consecutive output pixels are consecutive in its input plane,
 * across output rows too (stride 1 and OW == W: the "same" convolutions): then a row of the
 * column matrix is one copy from the plane, with the padding zeroed after. */
static int rows_are_contiguous(const fastnn_conv_geometry *g)
{
    return g->stride_w == 1 && g->stride_h * g->in_w == g->out_w;
}

/* The row stride of a block of nc columns: whole register tiles, and not a multiple of 2 KiB,
 * whose rows would all fall in the same few sets of the L1 cache. */
static ptrdiff_t block_stride(ptrdiff_t nc, int nr, ptrdiff_t itemsize)
{
    ptrdiff_t ld = (nc + nr - 1) / nr * nr;
    if ((ld * itemsize) % 2048 == 0)
        ld += nr;
    return ld;
}

/* The geometry of the convolution that computes a stride-1 convolution's input gradient (the
 * forward of delta by the flipped, transposed weights, padded by the kernel's reach minus the
 * forward padding); 0 where that does not apply: strided, padding wider than the kernel's reach,
 * or windows that are not contiguous (there, the "valid" convolutions, whose transposed one is
 * "full", the GEMM and col2im measured twice as fast). */
static int transposed_geometry(const fastnn_conv_geometry *g, fastnn_conv_geometry *t)
{
    const ptrdiff_t reach_h = g->dilation_h * (g->kernel_h - 1), reach_w = g->dilation_w * (g->kernel_w - 1);
    if (g->stride_h != 1 || g->stride_w != 1 || g->pad_h > reach_h || g->pad_w > reach_w ||
        g->out_h > g->in_h + g->pad_h || g->out_w > g->in_w + g->pad_w)
        return 0;
    *t = *g;
    t->in_channels = g->out_channels, t->out_channels = g->in_channels;
    t->in_h = g->out_h, t->in_w = g->out_w, t->out_h = g->in_h, t->out_w = g->in_w;
    t->pad_h = reach_h - g->pad_h, t->pad_w = reach_w - g->pad_w;
    return rows_are_contiguous(t);
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

/* Each calling thread keeps its buffers (windows, their gradient, packed weights, flipped weights) for the next call, as
 * the GEMM keeps its packing buffers: they are bounded, and a fresh megabyte per call would be
 * page-faulted in every time. */
static __thread void *window_buffers[4];
static __thread size_t window_buffer_sizes[4];

/* Which column block's lane masks this thread's block buffer holds, and for which call (calls
 * are numbered by conv_calls): units of one block share them. */
static unsigned long conv_calls;
static __thread unsigned long masks_call;
static __thread ptrdiff_t masks_block = -1;

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

/* Threads for a convolution of `fmas` multiply-adds in `units` independent pieces: one below
 * the GEMM's own threshold (a team costs more than it gives there), else all, up to units. */
static int conv_threads(double fmas, ptrdiff_t units)
{
    int threads = fastnn_get_num_threads();
    if (fmas < 8.0 * 1024 * 1024 || units < 2)
        return 1;
    return units < threads ? (int)units : threads;
}

/* The window gathers (csrc/kernels/conv_gather.h) are the active kernel context's, compiled for
 * its register tile widths. */
typedef void (*conv_gather_f32)(ptrdiff_t, ptrdiff_t, ptrdiff_t, const uint32_t *, ptrdiff_t,
                                ptrdiff_t, const ptrdiff_t *, const uint32_t *, uint32_t *);
typedef void (*conv_gather_f64)(ptrdiff_t, ptrdiff_t, ptrdiff_t, const uint64_t *, ptrdiff_t,
                                ptrdiff_t, const ptrdiff_t *, const uint64_t *, uint64_t *);

/* The active set's gather for a register tile nr wide, or NULL (the block path then gathers). */
static conv_gather_f32 active_gather_f32(int nr)
{
    const fastnn_conv_gather_kernels *gather = fastnn_active_context()->conv_gather;
    return gather->nr_f32 == nr ? gather->f32 : NULL;
}

static conv_gather_f64 active_gather_f64(int nr)
{
    const fastnn_conv_gather_kernels *gather = fastnn_active_context()->conv_gather;
    return gather->nr_f64 == nr ? gather->f64 : NULL;
}

#define T float
#define BITS uint32_t
#define NAME(x) x##_f32
#define BLOCKING sgemm
#define BLOCKING_TYPE fastnn_sgemm_blocking
#define GEMM fastnn_sgemm
#define ACTS f32
#include "conv_template.h"
#undef T
#undef NAME
#undef GEMM
#undef BITS
#undef BLOCKING
#undef BLOCKING_TYPE
#undef ACTS

#define T double
#define BITS uint64_t
#define NAME(x) x##_f64
#define BLOCKING dgemm
#define BLOCKING_TYPE fastnn_dgemm_blocking
#define GEMM fastnn_dgemm
#define ACTS f64
#include "conv_template.h"
#undef T
#undef NAME
#undef GEMM
#undef BITS
#undef BLOCKING
#undef BLOCKING_TYPE
#undef ACTS

ptrdiff_t fastnn_conv_buffer_bytes(const fastnn_conv_geometry *g, ptrdiff_t itemsize, int backward)
{
    const ptrdiff_t rows = g->in_channels / g->groups * g->kernel_h * g->kernel_w;
    if (backward) {
        ptrdiff_t windows = reads_input_as_columns(g) ? 0 : rows * chunk_columns(g, itemsize) * itemsize;
        fastnn_conv_geometry t;
        if (!transposed_geometry(g, &t))
            return 2 * windows; /* the windows and their gradient, for col2im */
        /* the windows, the transposed forward's block and the flipped weights */
        return windows + fastnn_conv_buffer_bytes(&t, itemsize, 0) + rows * g->out_channels * itemsize;
    }
    const ptrdiff_t pixels = g->out_h * g->out_w;
    const fastnn_kernel_context *ctx = fastnn_active_context();
    if (itemsize == 8 ? rows_path_applies_f64(g, rows_nr_f64()) : rows_path_applies_f32(g, rows_nr_f32()))
        return (ptrdiff_t)(itemsize == 8 ? rows_forward_bytes_f64(g) : rows_forward_bytes_f32(g));
    int mr = itemsize == 8 ? ctx->dgemm->mr : ctx->sgemm->mr, nr = itemsize == 8 ? ctx->dgemm->nr : ctx->sgemm->nr;
    ptrdiff_t kc = itemsize == 8 ? ctx->dgemm->kc : ctx->sgemm->kc, nc = itemsize == 8 ? ctx->dgemm->nc : ctx->sgemm->nc;
    ptrdiff_t k_blocks = (rows + kc - 1) / kc;
    kc = (rows + k_blocks - 1) / k_blocks;
    nc = pixels < nc ? pixels : nc;
    ptrdiff_t mg = g->out_channels / g->groups, panels = (mg + mr - 1) / mr;
    ptrdiff_t block = kc * block_stride(nc, nr, itemsize) * itemsize;
    if (rows_are_contiguous(g) && (itemsize == 8 ? active_gather_f64(nr) != NULL : active_gather_f32(nr) != NULL))
        block = (ptrdiff_t)(itemsize == 8 ? panel_path_bytes_f64(g, kc, nc, nr) : panel_path_bytes_f32(g, kc, nc, nr));
    return block + g->groups * panels * mr * rows * itemsize;
}
