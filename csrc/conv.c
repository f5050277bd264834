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

/* Each calling thread keeps its buffers for the next call, as the GEMM keeps its packing
 * buffers: they are bounded, and a fresh megabyte per call would be page-faulted in every time.
 * Slots: 0 the windows or band, 1 their gradient or a B panel, 2 packed weights or delta,
 * 3 flipped weights or the weight gradient by rows. */
#define WINDOW_SLOTS 4
static __thread void *window_buffers[WINDOW_SLOTS];
static __thread size_t window_buffer_sizes[WINDOW_SLOTS];

/* Which column block's lane masks this thread's block buffer holds, and for which call (calls
 * are numbered by conv_calls): units of one block share them. */
static unsigned long conv_calls;
static __thread unsigned long masks_call;
static __thread ptrdiff_t masks_block = -1;

/* What a slot holds for a request of `bytes`: whole cache lines. */
static size_t slot_bytes(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

static void *window_buffer(int which, size_t bytes)
{
    if (bytes > window_buffer_sizes[which]) {
        free(window_buffers[which]);
        window_buffer_sizes[which] = 0;
        bytes = slot_bytes(bytes);
        window_buffers[which] = aligned_alloc(64, bytes);
        if (window_buffers[which] == NULL)
            return NULL;
        window_buffer_sizes[which] = bytes;
    }
    return window_buffers[which];
}

/* For the sizing (fastnn_conv_buffer_bytes): slot `which` grows to hold `bytes`, as
 * window_buffer would make it. */
static void slot_grows_to(size_t slots[WINDOW_SLOTS], int which, size_t bytes)
{
    if (slot_bytes(bytes) > slots[which])
        slots[which] = slot_bytes(bytes);
}

ptrdiff_t fastnn_conv_held_bytes(void)
{
    size_t total = 0;
    for (int i = 0; i < WINDOW_SLOTS; i++) total += window_buffer_sizes[i];
    return (ptrdiff_t)total;
}

void fastnn_conv_release_buffers(void)
{
    for (int i = 0; i < WINDOW_SLOTS; i++) {
        free(window_buffers[i]);
        window_buffers[i] = NULL;
        window_buffer_sizes[i] = 0;
    }
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
    size_t slots[WINDOW_SLOTS] = {0}, total = 0;
    if (itemsize == 8)
        (backward ? backward_slots_f64 : forward_slots_f64)(g, slots);
    else
        (backward ? backward_slots_f32 : forward_slots_f32)(g, slots);
    for (int i = 0; i < WINDOW_SLOTS; i++) total += slots[i];
    return (ptrdiff_t)total;
}
