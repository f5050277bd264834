/* The GEMM entry points: threading and packing buffers, around the one loop nest. */
#include "gemm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "fp_env.h"
#include "kernel_context.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Below this many multiply-adds (about 80 us of one core's work) a product runs on one thread.
 * Waking a team costs a few microseconds on an idle machine, but when other processes hold the
 * cores every join waits for a descheduled thread, and small products threaded that way were
 * measured 10-30x slower than on one thread; above this size the gain outweighs that risk. */
#define FASTNN_GEMM_PARALLEL_MIN_FMAS (8.0 * 1024.0 * 1024.0)

/* Up to this many rows of C, a row-major B is read in place rather than packed: each of its
 * panels would be used by at most 4 micro-kernel calls, too few to repay a copy. */
#define FASTNN_B_IN_PLACE_MAX_ROWS(mr) (4 * (mr))
/* ... and so is a B whose rows all lie within half an L1 cache. */
#define FASTNN_B_IN_PLACE_MAX_BYTES (16 * 1024)

/* Up to this many columns of C (where a register tile would be mostly padding), or up to the
 * kernel set's dot_max_rows rows, X W^T runs on the dot-product kernels where the set has them. */
#define FASTNN_DOT_MAX_COLS(nr) ((nr) / 2)

/* Threads split C into rows x cols independent sub-blocks, each with its own packing: no
 * barriers and no shared scratch, at the price of packing the shared operand once per thread. */
typedef struct {
    int rows, cols;
} thread_grid;

static ptrdiff_t ceil_div(ptrdiff_t a, ptrdiff_t b) { return (a + b - 1) / b; }

static thread_grid choose_thread_grid(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, int mr, int nr)
{
    thread_grid best = {1, 1};
    int threads = fastnn_get_num_threads();
    if (threads <= 1 || (double)m * (double)n * (double)k < FASTNN_GEMM_PARALLEL_MIN_FMAS)
        return best;
    ptrdiff_t row_tiles = ceil_div(m, mr), col_tiles = ceil_div(n, nr);
    if (threads > row_tiles * col_tiles)
        threads = (int)(row_tiles * col_tiles);
    double best_cost = -1;
    for (int rows = 1; rows <= threads; rows++) {
        if (threads % rows)
            continue;
        int cols = threads / rows;
        /* the largest sub-block's area, in whole tiles: what the slowest thread computes */
        double cost = (double)ceil_div(row_tiles, rows) * mr * (double)ceil_div(col_tiles, cols) * nr;
        if (best_cost < 0 || cost < best_cost) {
            best_cost = cost;
            best.rows = rows;
            best.cols = cols;
        }
    }
    return best;
}

/* This thread's share [lo, hi) of `count` elements split in whole tiles among `parts`. */
static void share(ptrdiff_t count, int tile, int parts, int part, ptrdiff_t *lo, ptrdiff_t *hi)
{
    ptrdiff_t tiles = ceil_div(count, tile);
    ptrdiff_t base = tiles / parts, extra = tiles % parts;
    ptrdiff_t first = part * base + (part < extra ? part : extra);
    ptrdiff_t mine = base + (part < extra);
    *lo = first * tile < count ? first * tile : count;
    *hi = (first + mine) * tile < count ? (first + mine) * tile : count;
}

static void thread_block(const thread_grid *grid, ptrdiff_t m, ptrdiff_t n, int mr, int nr,
                         ptrdiff_t *m0, ptrdiff_t *m1, ptrdiff_t *n0, ptrdiff_t *n1)
{
    int id = 0;
#ifdef _OPENMP
    id = omp_get_thread_num();
#endif
    share(m, mr, grid->rows, id / grid->cols, m0, m1);
    share(n, nr, grid->cols, id % grid->cols, n0, n1);
}

/* Each thread keeps its packing buffer for the next call: the sizes are bounded by the block
 * sizes, and allocating per call would page-fault a fresh buffer every time. */
static __thread void *thread_buffer;
static __thread size_t thread_buffer_bytes;

static void *packing_buffer(size_t bytes)
{
    if (bytes > thread_buffer_bytes) {
        free(thread_buffer);
        thread_buffer_bytes = 0;
        bytes = (bytes + 63) & ~(size_t)63;
        thread_buffer = aligned_alloc(64, bytes);
        if (thread_buffer == NULL)
            return NULL;
        thread_buffer_bytes = bytes;
    }
    return thread_buffer;
}

#define KGROUP 1
#define READS_SOURCE 1
#define T float
#define P float
#define NAME(x) x##_f32
#define BLOCKING sgemm
#define BLOCKING_TYPE fastnn_sgemm_blocking
#include "gemm_loop_nest.h"
#undef T
#undef P
#undef NAME
#undef BLOCKING
#undef BLOCKING_TYPE

#define T double
#define P double
#define NAME(x) x##_f64
#define BLOCKING dgemm
#define BLOCKING_TYPE fastnn_dgemm_blocking
#include "gemm_loop_nest.h"
#undef T
#undef P
#undef NAME
#undef BLOCKING
#undef BLOCKING_TYPE
#undef KGROUP
#undef READS_SOURCE

int fastnn_sgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                 const float *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                 const float *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
                 float beta, float *c, ptrdiff_t ldc, const fastnn_epilogue *epilogue)
{
    return fastnn_gemm_f32(m, n, k, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, c, ldc, epilogue);
}

int fastnn_dgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                 const double *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                 const double *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
                 double beta, double *c, ptrdiff_t ldc, const fastnn_epilogue *epilogue)
{
    return fastnn_gemm_f64(m, n, k, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, c, ldc, epilogue);
}

/* bf16 products: float32 in and out, the operands rounded to bf16 as they are packed. */
#include "gemm_pack_bf16.h"

#define T float
#define READS_SOURCE 0
#define P fastnn_bf16
#define KGROUP 2
#define PACK_PANELS pack_panels_bf16
#define NAME(x) x##_bf16
#define BLOCKING bf16gemm
#define BLOCKING_TYPE fastnn_bf16gemm_blocking
#include "gemm_loop_nest.h"
#undef P
#undef KGROUP
#undef PACK_PANELS
#undef NAME
#undef BLOCKING
#undef BLOCKING_TYPE

#define P float
#define KGROUP 1
#define PACK_PANELS pack_panels_bf16_rounded
#define NAME(x) x##_bf16_on_f32
#define BLOCKING sgemm
#define BLOCKING_TYPE fastnn_sgemm_blocking
#include "gemm_loop_nest.h"
#undef P
#undef KGROUP
#undef PACK_PANELS
#undef NAME
#undef BLOCKING
#undef BLOCKING_TYPE
#undef READS_SOURCE
#undef T

int fastnn_sgemm_bf16(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                      const float *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                      const float *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
                      float beta, float *c, ptrdiff_t ldc, const fastnn_epilogue *epilogue)
{
    if (fastnn_active_context()->bf16gemm)
        return fastnn_gemm_bf16(m, n, k, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, c, ldc,
                                epilogue);
    return fastnn_gemm_bf16_on_f32(m, n, k, alpha, a, rs_a, cs_a, b, rs_b, cs_b, beta, c, ldc,
                                   epilogue);
}
