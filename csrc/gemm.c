/* The GEMM entry points: threading and packing buffers, around the one loop nest. */
#include "gemm.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "fp_env.h"
#include "kernel_context.h"
#include "thread_pool.h"

/* Below this many multiply-adds (about 60 us of one core's work) a product runs on one thread:
 * handing out units and waking a helper costs microseconds, which small products do not repay. */
#define FASTNN_GEMM_PARALLEL_MIN_FMAS (8.0 * 1024.0 * 1024.0)

/* Up to this many rows of C, a row-major B is read in place rather than packed: each of its
 * panels would be used by at most 4 micro-kernel calls, too few to repay a copy. */
#define FASTNN_B_IN_PLACE_MAX_ROWS(mr) (4 * (mr))
/* ... and up to twice as many where B's rows are not a multiple of FASTNN_L1_ALIAS_BYTES apart:
 * a panel read in place then spreads over the L1's sets, and at 8 uses it still does not repay
 * its copy. Rows 4 KiB apart all fall in one set and thrash it. Measured on Zen 5, one core, B
 * hot: dS W at 64 x 256 x 256 (the digits MLP's dX) 35.0 us packed, 31.8 in place (97% of
 * peak); 64 x 784 x 1024 449 -> 422 us; but 64 x 1024 x 1024 (4 KiB rows) 590 -> 712 us. */
#define FASTNN_B_IN_PLACE_UNALIASED_MAX_ROWS(mr) (8 * (mr))
#define FASTNN_L1_ALIAS_BYTES 4096
/* ... and so is a B whose rows all lie within half an L1 cache. */
#define FASTNN_B_IN_PLACE_MAX_BYTES (16 * 1024)

/* Products of up to this many rows may take a blocking's taller tiles (kernel_context.h): those
 * whose row tiles each read B where it lies (FASTNN_B_IN_PLACE_MAX_ROWS), so that fewer of them
 * read it fewer times. */
#define FASTNN_TALL_TILES_MAX_ROWS(mr) FASTNN_B_IN_PLACE_MAX_ROWS(mr)

/* Up to this many columns of C (where a register tile would be mostly padding), or up to the
 * kernel set's dot_max_rows rows, X W^T runs on the dot-product kernels where the set has them. */
#define FASTNN_DOT_MAX_COLS(nr) ((nr) / 2)
/* The wide dot tile's groups of columns each read the rows of A: a block of this many bytes of
 * them at a time, so that the groups after the first find it in L2. Measured on the 1024 -> 10
 * layer's forward (benchmarks/skinny_products.py, H from L3, one Zen 5 core, builds alternated in
 * four rounds): B = 1024 0.124-0.140 -> 0.115-0.128 ms, B = 256 (H 1 MiB) level (0.030-0.033). */
#ifndef FASTNN_DOT_ROW_BLOCK_BYTES
#define FASTNN_DOT_ROW_BLOCK_BYTES (256u << 10)
#endif
/* Few rows take the dot kernels only from this depth: below it packing the rows wins. */
#define FASTNN_DOT_MIN_DEPTH 128
/* Micro-kernels fetch the next blocks' lines as they run (FETCH_IN_KERNEL) only on passes over k
 * this deep: a shallower call is too short to pay for setting up its share (bf16, one Zen 5 core,
 * 1024 x 1024 x 64: 3% slower than the lines fetched in bursts between calls). */
#define FASTNN_FETCH_MIN_DEPTH 256
/* A micro-kernel packs B's copy as it runs (PACK_IN_KERNEL) only on passes over k this deep:
 * shallower calls have too few k steps to hide the copy's in (dS W into 1024 columns, one Zen 5
 * core, 30 alternated rounds: at k = 10, 256 rows 27.1 -> 30.9 us; k = 16 1-2% slower; k = 32
 * 2-5% faster, k = 64 2-6%). */
#define FASTNN_PACK_IN_KERNEL_MIN_DEPTH 32

/* Threads take units -- blocks of C, each packing what it needs -- from a shared counter
 * (thread_pool.h), so a thread that runs takes the work of one that the OS has descheduled.
 * The grid of units is chosen by an estimate of the time the slowest thread takes, relative to
 * the whole product on one thread:
 *   (1 + re-packing) * ceil(units / threads) / units  +  BUSY_TAIL / units
 * Each block of rows re-packs its panels of B and each block of columns its block of A, a packed
 * element costing about PACK_COST_FMAS multiply-adds (transposing packs; measured: 8 units of
 * 512^3 ran 10% slower than 2 on two free cores). The last term is the unit a descheduled thread
 * may hold at the end, which the others wait for: a machine with a busy core wants small units. */
#define FASTNN_GEMM_PACK_COST_FMAS 8.0
#define FASTNN_GEMM_BUSY_TAIL 0.1
#define FASTNN_GEMM_MAX_UNITS_PER_THREAD 8
#define FASTNN_GEMM_MIN_UNIT_FMAS (2.0 * 1024.0 * 1024.0)
/* A is packed once for the whole product, rather than once per panel of B, up to this many bytes
 * of packed A per thread (a 1024 x 1024 float32 A; the buffer is kept for the next call). */
#define FASTNN_GEMM_A_ONCE_MAX_BYTES (4u << 20)
/* Long products are split into units of at most this many multiply-adds (about 15 ms of one
 * core's work) even on one thread: between units the caller checks for Ctrl-C. */
#define FASTNN_GEMM_INTERRUPTIBLE_UNIT_FMAS (2048.0 * 1024.0 * 1024.0)

/* The depth of the passes over k: as few as KC allows, of equal depth (a multiple of 8, which
 * keeps packed panels 64-byte aligned), so that no pass is a sliver (k = 784 with KC = 256 would
 * end on a pass of 16, which costs a full read and write of C for little work). */
static int balanced_kc(ptrdiff_t k, int kc)
{
    ptrdiff_t passes = (k + kc - 1) / kc;
    ptrdiff_t depth = ((k + passes - 1) / passes + 7) / 8 * 8;
    return depth < kc ? (int)depth : kc;
}

/* C split into rows x cols blocks, whole register tiles each: a block's tiles are the same as in
 * the whole product, so every split sums in the same order. */
typedef struct {
    int rows, cols;
} unit_grid;

static ptrdiff_t ceil_div(ptrdiff_t a, ptrdiff_t b) { return (a + b - 1) / b; }

static int gemm_threads(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k)
{
    if ((double)m * (double)n * (double)k < FASTNN_GEMM_PARALLEL_MIN_FMAS)
        return 1;
    return fastnn_get_num_threads();
}

static unit_grid choose_unit_grid(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, int mr, int nr, int nc,
                                  int threads)
{
    unit_grid best = {1, 1};
    double fmas = (double)m * (double)n * (double)k;
    double fewest = ceil(fmas / FASTNN_GEMM_INTERRUPTIBLE_UNIT_FMAS), most = fewest;
    if (threads > 1) {
        double for_threads = (double)threads * FASTNN_GEMM_MAX_UNITS_PER_THREAD;
        double affordable = floor(fmas / FASTNN_GEMM_MIN_UNIT_FMAS);
        for_threads = for_threads < affordable ? for_threads : affordable;
        most = most > for_threads ? most : for_threads;
    }
    ptrdiff_t row_tiles = ceil_div(m, mr), col_tiles = ceil_div(n, nr);
    double tiles = (double)row_tiles * (double)col_tiles;
    fewest = fewest < tiles ? fewest : tiles;
    if (most <= 1)
        return best;
    /* the loop nest packs A once per NC-wide panel of B anyway */
    double panels = (double)ceil_div(n, nc), best_time = -1;
    for (ptrdiff_t rows = 1; rows <= row_tiles && rows <= most; rows++) {
        for (ptrdiff_t cols = 1; cols <= col_tiles && rows * cols <= most; cols++) {
            double units = (double)(rows * cols);
            if (units < fewest)
                continue;
            double repacking = FASTNN_GEMM_PACK_COST_FMAS *
                               (((double)cols > panels ? (double)cols : panels) / (double)n +
                                (double)rows / (double)m);
            double time = (1 + repacking) * ceil(units / threads) / units +
                          (threads > 1 ? FASTNN_GEMM_BUSY_TAIL / units : 0);
            if (best_time < 0 || time < best_time) {
                best_time = time;
                best.rows = (int)rows;
                best.cols = (int)cols;
            }
        }
    }
    return best;
}

/* This part's share [lo, hi) of `count` elements split in whole tiles among `parts`. */
static void share(ptrdiff_t count, int tile, int parts, int part, ptrdiff_t *lo, ptrdiff_t *hi)
{
    ptrdiff_t tiles = ceil_div(count, tile);
    ptrdiff_t base = tiles / parts, extra = tiles % parts;
    ptrdiff_t first = part * base + (part < extra ? part : extra);
    ptrdiff_t mine = base + (part < extra);
    *lo = first * tile < count ? first * tile : count;
    *hi = (first + mine) * tile < count ? (first + mine) * tile : count;
}

static void unit_block(const unit_grid *grid, ptrdiff_t m, ptrdiff_t n, int mr, int nr,
                       ptrdiff_t unit, ptrdiff_t *m0, ptrdiff_t *m1, ptrdiff_t *n0, ptrdiff_t *n1)
{
    share(m, mr, grid->rows, (int)(unit / grid->cols), m0, m1);
    share(n, nr, grid->cols, (int)(unit % grid->cols), n0, n1);
}

/* Each thread keeps its packing buffer for the next call: the sizes are bounded by the block
 * sizes, and allocating per call would page-fault a fresh buffer every time. A thread-specific
 * key frees it when the thread exits (thread pools in servers start and end threads by the
 * thousand). */
static __thread void *thread_buffer;
static __thread size_t thread_buffer_bytes;
static pthread_key_t buffer_key;
static pthread_once_t buffer_key_once = PTHREAD_ONCE_INIT;
static int buffer_key_made;

static void make_buffer_key(void) { buffer_key_made = pthread_key_create(&buffer_key, free) == 0; }

static void *packing_buffer(size_t bytes)
{
    if (bytes > thread_buffer_bytes) {
        pthread_once(&buffer_key_once, make_buffer_key);
        free(thread_buffer);
        thread_buffer = NULL;
        thread_buffer_bytes = 0;
        if (buffer_key_made)
            pthread_setspecific(buffer_key, NULL);
        bytes = (bytes + 63) & ~(size_t)63;
        void *buffer = aligned_alloc(64, bytes);
        if (buffer != NULL && buffer_key_made && pthread_setspecific(buffer_key, buffer) != 0) {
            free(buffer); /* without the key it would leak with the thread */
            buffer = NULL;
        }
        if (buffer == NULL)
            return NULL;
        thread_buffer = buffer;
        thread_buffer_bytes = bytes;
    }
    return thread_buffer;
}

#define KGROUP 1
#define READS_SOURCE 1
#define DOT_KERNELS 1
#define PREFETCH_A 1
#define NARROW_TILES 0
#define T float
#define P float
#define NAME(x) x##_f32
#define BLOCKING sgemm
#define BLOCKING_TYPE fastnn_sgemm_blocking
/* Measured on the compiled 784-1024-1024-10 SGD step at B=256 (one Zen 5 core shared with other
 * work, each phase on the thread's CPU clock, benchmarks/step_phases.py, best of 8-16 interleaved
 * rounds, five runs): the 1024x1024 forward product 2.36-2.44 -> 2.28-2.32 ms, the 784x1024 one
 * 1.77-1.85 -> 1.74-1.77 ms, the step 0.8-3% faster; NC halved without the fetching gave about
 * half of that. At B=64 no change beyond the noise (~2%); at B=1024 (and on the weight
 * gradients, whose C has 1024 rows), where each block of B serves four times the kernel calls,
 * neither helped. */
#define PREFETCH_NEXT_B 2
#define FETCH_NEXT_B_MAX_ROWS 512
/* B's copy packed by the micro-kernel where the set has one (gemm_loop_nest.h: packs_b_in_kernel).
 * Measured on one Zen 5 core, builds alternated in 20-30 rounds on the thread's CPU clock
 * (benchmarks/pack_in_kernel_ab.py, five runs): dS W into a 1024 x 1024 weight at 64 rows
 * 76.5-76.7 -> 82.0-83.6% of peak, at 256 rows 88.7-89.0 -> 90.2-90.6% (the step's 1024->1024
 * input gradient in step_phases.py: 0.64 -> 0.58 ms at B = 64, 2.19 -> 2.17 at 256); X W^T, the
 * control it leaves alone, within +-1.8%; the compiled 784-1024-1024-10 step at B = 64 1.5-1.8%
 * faster (best of rounds), at B = 256 and 1024 within the noise (+-1%). Bit for bit the product
 * of the separate packing pass. */
#define PACK_IN_KERNEL 1
#define TALL_TILES 1
#define WIDE_DOT_TILES 1
#include "gemm_loop_nest.h"
#undef WIDE_DOT_TILES
#undef TALL_TILES
#undef PACK_IN_KERNEL
#undef FETCH_NEXT_B_MAX_ROWS
#undef PREFETCH_NEXT_B
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
#undef DOT_KERNELS
#undef PREFETCH_A

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

/* bf16 products: float32 C, its operands float32 (rounded to bf16 as they are packed) or stored
 * in bf16 (moved): one nest per pair of operand types (TA, TB), each packer chosen by its
 * operand's type (PACK_PANELS_BF16). */
#include "gemm_pack_bf16.h"

#define T float
#define READS_SOURCE 0
#define PREFETCH_A 1
#define PREFETCH_NEXT_B 1
#define FETCH_IN_KERNEL 1
#define P fastnn_bf16
#define KGROUP 2
#define DOT_KERNELS 1
#undef NARROW_TILES
#define NARROW_TILES 1
#define PACK_PANELS PACK_PANELS_BF16
#define BLOCKING bf16gemm
#define BLOCKING_TYPE fastnn_bf16gemm_blocking
#define NAME(x) x##_bf16
#include "gemm_loop_nest.h"
#undef NAME
/* the dot kernel that reads either storage, told which by the operands' sizes */
#define DOT_UKERNEL dot_ukernel_stored
#define DOT_TILE(blk, k, a, lda, rows, b, ldb, cols, c, ldc, alpha, beta)                         \
    (blk)->dot_ukernel_stored(k, a, sizeof *(a) == sizeof(fastnn_bf16), lda, rows, b,              \
                              sizeof *(b) == sizeof(fastnn_bf16), ldb, cols, c, ldc, alpha, beta)
#define STORED_NEST_NAME(x, pair) x##_bf16##pair
#include "gemm_stored_operand_nests.h"
#undef STORED_NEST_NAME
#undef DOT_UKERNEL
#undef DOT_TILE
#undef FETCH_IN_KERNEL
#undef P
#undef KGROUP
#undef DOT_KERNELS
#undef PACK_PANELS
#undef BLOCKING
#undef BLOCKING_TYPE

#define P float
#define KGROUP 1
#define DOT_KERNELS 0
#undef NARROW_TILES
#define NARROW_TILES 0
#define PACK_PANELS PACK_PANELS_BF16_ON_F32
#define BLOCKING sgemm
#define BLOCKING_TYPE fastnn_sgemm_blocking
#define NAME(x) x##_bf16_on_f32
#include "gemm_loop_nest.h"
#undef NAME
#define STORED_NEST_NAME(x, pair) x##_bf16_on_f32##pair
#include "gemm_stored_operand_nests.h"
#undef STORED_NEST_NAME
#undef P
#undef KGROUP
#undef PACK_PANELS
#undef BLOCKING
#undef BLOCKING_TYPE
#undef READS_SOURCE
#undef DOT_KERNELS
#undef PREFETCH_A
#undef PREFETCH_NEXT_B
#undef NARROW_TILES
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

int fastnn_sgemm_bf16_stored(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                             const void *a, int a_is_bf16, ptrdiff_t rs_a, ptrdiff_t cs_a,
                             const void *b, int b_is_bf16, ptrdiff_t rs_b, ptrdiff_t cs_b,
                             float beta, float *c, ptrdiff_t ldc,
                             const fastnn_epilogue *epilogue)
{
    int native = fastnn_active_context()->bf16gemm != NULL;
#define STORED_AS(TA, TB) m, n, k, alpha, (const TA *)a, rs_a, cs_a, (const TB *)b, rs_b, cs_b, \
                          beta, c, ldc, epilogue
    if (a_is_bf16 && b_is_bf16)
        return native ? fastnn_gemm_bf16_from_bf16_bf16(STORED_AS(fastnn_bf16, fastnn_bf16))
                      : fastnn_gemm_bf16_on_f32_from_bf16_bf16(STORED_AS(fastnn_bf16, fastnn_bf16));
    if (a_is_bf16)
        return native ? fastnn_gemm_bf16_from_bf16_f32(STORED_AS(fastnn_bf16, float))
                      : fastnn_gemm_bf16_on_f32_from_bf16_f32(STORED_AS(fastnn_bf16, float));
    if (b_is_bf16)
        return native ? fastnn_gemm_bf16_from_f32_bf16(STORED_AS(float, fastnn_bf16))
                      : fastnn_gemm_bf16_on_f32_from_f32_bf16(STORED_AS(float, fastnn_bf16));
    return fastnn_sgemm_bf16(STORED_AS(float, float));
#undef STORED_AS
}
