/* The optimizer inside backward (fused_optim.h): the update as a GEMM epilogue on strips of dW,
 * and the few-row path that never forms dW. */
#include "fused_optim.h"

#include <math.h>
#include <stdlib.h>

#include "bf16.h"
#include "dispatch.h"
#include "elementwise.h"
#include "fp_env.h"
#include "gemm.h"
#include "step_phases.h"
#include "thread_scratch.h"

/* Columns of one row of dW summed at a time on the few-row path: 8 KiB (2048 floats, 1024
 * doubles) on the stack, in L1 beside the rows of X they are summed from. In bytes, so that a
 * float64 chunk takes no more of a small thread stack than a float32 one (it took 16 KiB; the
 * 4096-256-10 float64 step at batch 2, one Zen 5 core, went from 422-432 to 391-399 us). */
#define FEW_ROW_CHUNK_BYTES 8192
#define FEW_ROW_CHUNK(T) ((ptrdiff_t)(FEW_ROW_CHUNK_BYTES / sizeof(T)))

/* Row blocks whose |W|^2 (fastnn_update.squares) is summed block by block, each into its own
 * slot and the slots added in order (the same sum whichever thread ran a block); a weight of
 * more blocks sums its squares in one pass after its update. */
#define SQUARED_BLOCKS_MAX 64

/* Rows of dW per GEMM call on the row-block path: few enough that the GEMM reads X in place
 * (gemm.c: B_IN_PLACE_MAX_ROWS) and the block (128 KiB at 1024 columns) waits in L2 for its
 * update, which then streams whole rows of the weight and its state. Unless it adds to what
 * grad holds, the block goes to this thread's scratch, the same memory for every block, rather
 * than into grad, whose whole size would otherwise pass through the caches with the weight and
 * its state (the digits MLP's step, 64-256-256-10 at batch 64, one Zen 5 core: 146.6 -> 145.4 us,
 * its weights, momenta and activations then nearer fitting L2). */
#define ROW_BLOCK 32

void fastnn_update_begin_step(fastnn_update *update)
{
    if (update->rule == FASTNN_RULE_ADAM) {
        update->adam.step++;
        fastnn_adam_prepare(&update->adam, &update->adam_scalars);
        if (update->adam_eps_unscaled)
            update->adam_scalars.eps =
                update->adam.eps / sqrt(1.0 - pow(update->adam.beta2, (double)update->adam.step));
    }
}

void fastnn_update_end_step(fastnn_update *update)
{
    if (update->rule == FASTNN_RULE_SGD)
        update->sgd.first_step = 0;
}

/* The GEMM's epilogue, extended: the update of the weight whose gradient the GEMM computes. The
 * GEMM hands this back as its fastnn_epilogue (the first member). */
typedef struct {
    fastnn_epilogue base;
    const fastnn_update *update;
    ptrdiff_t ld_param;
} update_epilogue;

/* Asks for n elements of the weight and its state from `offset` on: the few-row path moves from
 * one row's gradient sums to its update and back, and the prefetchers lose the streams between. */
static void prefetch_update(const fastnn_update *u, size_t element, ptrdiff_t offset, ptrdiff_t n)
{
    const char *arrays[4] = {u->param, u->state[0], u->state[1], u->state[2]};
    for (int a = 0; a < 4; a++)
        if (arrays[a])
            for (ptrdiff_t b = 0; b < n * (ptrdiff_t)element; b += 64)
                __builtin_prefetch(arrays[a] + offset * (ptrdiff_t)element + b, 1, 3);
}

#define DEFINE_FUSED_OPTIM(T, SUFFIX)                                                             \
    void fastnn_update_range_##SUFFIX(const fastnn_update *u, ptrdiff_t offset, ptrdiff_t n,      \
                                      const T *grad)                                              \
    {                                                                                             \
        const fastnn_optim_kernels_##SUFFIX *k = &fastnn_optim_kernels_active()->SUFFIX;          \
        T *param = (T *)u->param + offset;                                                        \
        T *const *state = (T *const *)u->state;                                                   \
        if (u->rule == FASTNN_RULE_SGD)                                                           \
            k->sgd(n, param, grad, state[0] ? state[0] + offset : NULL, &u->sgd);                 \
        else if (u->rule == FASTNN_RULE_ADAM)                                                     \
            k->adam(n, param, grad, state[0] + offset, state[1] + offset,                         \
                    state[2] ? state[2] + offset : NULL, &u->adam_scalars);                       \
    }                                                                                             \
                                                                                                  \
    /* The update on [offset, offset + n), returning |W|^2 of what it stepped: SGD's momentum     \
     * step squares its weights as it writes them, the other rules sum them after. */            \
    static double squared_update_##SUFFIX(const fastnn_update *u, ptrdiff_t offset, ptrdiff_t n,  \
                                          const T *grad)                                          \
    {                                                                                             \
        const fastnn_optim_kernels_##SUFFIX *k = &fastnn_optim_kernels_active()->SUFFIX;          \
        T *param = (T *)u->param + offset;                                                        \
        if (u->rule == FASTNN_RULE_SGD && u->state[0] && !u->sgd.first_step)                      \
            return k->sgd_momentum_squares(n, param, grad, (T *)u->state[0] + offset, &u->sgd);   \
        fastnn_update_range_##SUFFIX(u, offset, n, grad);                                         \
        return k->sum_squares(n, param);                                                          \
    }                                                                                             \
                                                                                                  \
    static void update_strip_##SUFFIX(const fastnn_epilogue *self, void *c, ptrdiff_t ldc,        \
                                      ptrdiff_t row0, ptrdiff_t col0, ptrdiff_t rows,             \
                                      ptrdiff_t cols)                                             \
    {                                                                                             \
        const update_epilogue *e = (const update_epilogue *)self;                                 \
        for (ptrdiff_t i = 0; i < rows; i++)                                                      \
            fastnn_update_range_##SUFFIX(e->update, (row0 + i) * e->ld_param + col0, cols,        \
                                         (const T *)c + i * ldc);                                 \
    }                                                                                             \
                                                                                                  \
    typedef struct {                                                                              \
        ptrdiff_t rows, cols, k, ld_delta, ld_x;                                                  \
        const T *delta, *x;                                                                       \
        T *grad;                                                                                  \
        int accumulate, failed;                                                                   \
        const fastnn_update *update;                                                              \
        fastnn_gemm_fn_##SUFFIX gemm;                                                             \
        double *block_squares; /* one slot a row block, or NULL */                                \
    } weight_update_args_##SUFFIX;                                                                \
                                                                                                  \
    /* Rows [lo, hi) of the weight, each from its few-row sums, a chunk at a time. */             \
    static void few_row_span_##SUFFIX(const void *args, ptrdiff_t lo, ptrdiff_t hi)               \
    {                                                                                             \
        const weight_update_args_##SUFFIX *a = args;                                              \
        const fastnn_optim_kernels_##SUFFIX *kern = &fastnn_optim_kernels_active()->SUFFIX;       \
        T g[FEW_ROW_CHUNK(T)] __attribute__((aligned(64)));                                       \
        for (ptrdiff_t i = lo; i < hi; i++)                                                       \
            for (ptrdiff_t j = 0; j < a->cols; j += FEW_ROW_CHUNK(T)) {                           \
                ptrdiff_t n = a->cols - j < FEW_ROW_CHUNK(T) ? a->cols - j : FEW_ROW_CHUNK(T);    \
                if (i + 1 < a->rows)                                                              \
                    prefetch_update(a->update, sizeof(T), (i + 1) * a->cols + j, n);              \
                kern->few_row_gradient(a->k, a->delta + i, a->ld_delta, a->x + j, a->ld_x, n,     \
                                       a->accumulate ? a->grad + i * a->cols + j : NULL, g);      \
                fastnn_update_range_##SUFFIX(a->update, i * a->cols + j, n, g);                   \
            }                                                                                     \
    }                                                                                             \
                                                                                                  \
    /* Row blocks [lo, hi): each block's dW by the GEMM, then its update. */                      \
    static void row_block_span_##SUFFIX(const void *args, ptrdiff_t lo, ptrdiff_t hi)             \
    {                                                                                             \
        weight_update_args_##SUFFIX *a = (weight_update_args_##SUFFIX *)args;                     \
        ptrdiff_t rows = a->rows;                                                                 \
        for (ptrdiff_t b = lo; b < hi; b++) {                                                     \
            ptrdiff_t r0 = b * ROW_BLOCK, r = rows - r0 < ROW_BLOCK ? rows - r0 : ROW_BLOCK;      \
            T *grad = a->accumulate ? a->grad + r0 * a->cols                                      \
                                    : fastnn_thread_scratch(FASTNN_SCRATCH_ROW_BLOCK_GRADIENT,    \
                                                            sizeof(T) * ROW_BLOCK * a->cols);     \
            if (grad == NULL || a->gemm(r, a->cols, a->k, 1, a->delta + r0, 1, a->ld_delta, a->x, a->ld_x, 1,     \
                        a->accumulate ? 1 : 0, grad, a->cols, NULL))                              \
                a->failed = 1; /* a race between spans only ever writes 1 */                      \
            else if (a->block_squares)                                                            \
                a->block_squares[b] = squared_update_##SUFFIX(a->update, r0 * a->cols,            \
                                                              r * a->cols, grad);                 \
            else                                                                                  \
                fastnn_update_range_##SUFFIX(a->update, r0 * a->cols, r * a->cols, grad);         \
        }                                                                                         \
    }                                                                                             \
                                                                                                  \
    /* Rows [lo, hi) of the weight from the whole dW the GEMM left in grad. */                   \
    static void whole_update_span_##SUFFIX(const void *args, ptrdiff_t lo, ptrdiff_t hi)          \
    {                                                                                             \
        const weight_update_args_##SUFFIX *a = args;                                              \
        fastnn_update_range_##SUFFIX(a->update, lo * a->cols, (hi - lo) * a->cols,                \
                                     a->grad + lo * a->cols);                                     \
    }                                                                                             \
                                                                                                  \
    /* |W|^2 of the whole stepped weight into update->squares (if asked for); returns 0 */        \
    static int add_squares_##SUFFIX(ptrdiff_t n, const fastnn_update *update)                     \
    {                                                                                             \
        if (update->squares)                                                                      \
            *update->squares +=                                                                   \
                fastnn_optim_kernels_active()->SUFFIX.sum_squares(n, (const T *)update->param);   \
        return 0;                                                                                 \
    }                                                                                             \
                                                                                                  \
    void fastnn_whole_update_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, const T *grad,              \
                                      const fastnn_update *update)                                \
    {                                                                                             \
        weight_update_args_##SUFFIX args = {.rows = rows, .cols = cols, .grad = (T *)grad,        \
                                            .update = update};                                    \
        fastnn_for_each_span(rows * cols, rows, whole_update_span_##SUFFIX, &args);               \
        add_squares_##SUFFIX(rows * cols, update);                                                \
    }                                                                                             \
                                                                                                  \
    int fastnn_rank1_update_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, const T *delta, const T *x,  \
                                     T *input_grad, const fastnn_update *u)                       \
    {                                                                                             \
        /* the rows share input_grad's sums, so they run in order on this thread: only where    \
         * the row spans would too */                                                             \
        if (u->rule != FASTNN_RULE_SGD ||                                                         \
            (rows * cols >= FASTNN_ELEMENTWISE_PARALLEL_MIN && fastnn_get_num_threads() > 1))     \
            return 0;                                                                             \
        const fastnn_optim_kernels_##SUFFIX *kern = &fastnn_optim_kernels_active()->SUFFIX;       \
        T *param = (T *)u->param, *buf = (T *)u->state[0];                                        \
        if (input_grad)                                                                           \
            for (ptrdiff_t j = 0; j < cols; j++) input_grad[j] = 0;                               \
        /* denormals flushed as in the spans and the GEMV this pass stands in for */              \
        unsigned int fp_state = fastnn_flush_denormals_begin();                                   \
        /* no software prefetch: the hardware's alone streams W and its momentum fastest here   \
         * (1024 x 1024 float32, one Zen 5 core, aligned: 68-70 us, level with the stream probe   \
         * of this pattern; 83-91 us with each next row asked for before the row, 76-78 us with  \
         * lines 1-2 KiB ahead asked for through the row) */                                      \
        for (ptrdiff_t i = 0; i < rows; i++)                                                      \
            kern->rank1_sgd(cols, delta[i], x, param + i * cols, buf ? buf + i * cols : NULL,     \
                            input_grad, &u->sgd);                                                 \
        fastnn_flush_denormals_end(fp_state);                                                     \
        return 1;                                                                                 \
    }                                                                                             \
                                                                                                  \
    /* Batches of 1 to FASTNN_FEW_ROW_MAX_K samples take the few-row sums, which never call       \
     * `gemm` (the bf16 caller hands its rounding `gemm` only larger batches). row_blocks:        \
     * whether batches of up to FASTNN_ROW_BLOCK_MAX_K samples then take the row blocks, or       \
     * update in the write-back of one `gemm` as larger ones do. */                               \
    static int weight_grad_update_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t k,          \
                                           const T *delta, ptrdiff_t ld_delta, const T *x,        \
                                           ptrdiff_t ld_x, T *grad, int accumulate,               \
                                           const fastnn_update *update, fastnn_gemm_fn_##SUFFIX gemm, \
                                           int row_blocks)                                        \
    {                                                                                             \
        if (rows <= 0 || cols <= 0)                                                               \
            return 0;                                                                             \
        weight_update_args_##SUFFIX args = {rows, cols, k, ld_delta, ld_x, delta, x, grad,        \
                                            accumulate, 0, update, gemm};                         \
        if (k >= 1 && k <= FASTNN_FEW_ROW_MAX_K) {                                                \
            fastnn_for_each_span(rows * cols, rows, few_row_span_##SUFFIX, &args);                \
            return add_squares_##SUFFIX(rows * cols, update);                                     \
        }                                                                                         \
        if (fastnn_takes_whole_gradient(rows, cols, k, sizeof(T))) {                              \
            if (gemm(rows, cols, k, 1, delta, 1, ld_delta, x, ld_x, 1, accumulate ? 1 : 0, grad,  \
                     cols, NULL))                                                                 \
                return -1;                                                                        \
            double phase = fastnn_step_phase_begin();                                             \
            fastnn_whole_update_##SUFFIX(rows, cols, grad, update);                               \
            fastnn_step_phase_end_inner_update(phase);                                            \
            return 0;                                                                             \
        }                                                                                         \
        if (row_blocks && k <= FASTNN_ROW_BLOCK_MAX_K) {                                          \
            ptrdiff_t blocks = (rows + ROW_BLOCK - 1) / ROW_BLOCK;                                \
            double block_squares[SQUARED_BLOCKS_MAX];                                             \
            if (update->squares && blocks <= SQUARED_BLOCKS_MAX)                                  \
                args.block_squares = block_squares;                                               \
            fastnn_for_each_span(rows * cols, blocks, row_block_span_##SUFFIX, &args);            \
            if (args.failed)                                                                      \
                return -1;                                                                        \
            if (args.block_squares)                                                               \
                for (ptrdiff_t b = 0; b < blocks; b++) *update->squares += block_squares[b];      \
            return args.block_squares ? 0 : add_squares_##SUFFIX(rows * cols, update);            \
        }                                                                                         \
        update_epilogue epilogue = {.update = update, .ld_param = cols};                          \
        epilogue.base.apply = update_strip_##SUFFIX;                                              \
        if (gemm(rows, cols, k, 1, delta, 1, ld_delta, x, ld_x, 1, accumulate ? 1 : 0, grad,      \
                 cols, &epilogue.base))                                                           \
            return -1;                                                                            \
        return add_squares_##SUFFIX(rows * cols, update);                                         \
    }                                                                                             \
                                                                                                  \
    int fastnn_weight_grad_update_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t k,           \
                                           const T *delta, ptrdiff_t ld_delta, const T *x,        \
                                           ptrdiff_t ld_x, T *grad, int accumulate,               \
                                           const fastnn_update *update)                           \
    {                                                                                             \
        return weight_grad_update_##SUFFIX(rows, cols, k, delta, ld_delta, x, ld_x, grad,         \
                                           accumulate, update, GEMM, 1);                          \
    }

#define GEMM fastnn_sgemm
DEFINE_FUSED_OPTIM(float, f32)
#undef GEMM
#define GEMM fastnn_dgemm
DEFINE_FUSED_OPTIM(double, f64)
#undef GEMM

/* Up to this many samples a bf16 layer's dW is summed by the few-row kernels from copies of delta
 * and x rounded to bf16 values: products of bf16 values are exact in float32, so the numbers are
 * the bf16 GEMM's up to the order of the sums, without packing, k padded to pairs, or writing dW.
 * Measured on the 784-1024-1024-10 SGD step, one Zen 5 core: at batch 1, 1.26 ms through the
 * bf16 GEMM, 0.62 ms so (float32: 0.39); the same copies through float32's row blocks up to 64
 * samples lost to the bf16 GEMM (3.5 against 2.5 ms at 64). */
#define BF16_ROUNDED_COPY_MAX_K FASTNN_FEW_ROW_MAX_K
_Static_assert(BF16_ROUNDED_COPY_MAX_K <= FASTNN_FEW_ROW_MAX_K,
               "the rounded copies are summed by the few-row kernels, which call no gemm");

static float *rounded_copy(ptrdiff_t k, ptrdiff_t n, const float *a, ptrdiff_t ld, float *into)
{
    for (ptrdiff_t p = 0; p < k; p++)
        for (ptrdiff_t j = 0; j < n; j++)
            into[p * n + j] = fastnn_round_to_bf16(a[p * ld + j]);
    return into;
}

/* Above, every batch updates in the write-back of the bf16 GEMM: the row blocks would round and
 * pack X again for every 32 rows of dW (measured on the 64-256-256-10 step at batch 64, one Zen 5
 * core: 140 us with the row blocks, 118 us without). */
int fastnn_weight_grad_update_bf16(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t k, const float *delta,
                                   ptrdiff_t ld_delta, const float *x, ptrdiff_t ld_x, float *grad,
                                   int accumulate, const fastnn_update *update)
{
    if (k < 1 || k > BF16_ROUNDED_COPY_MAX_K || rows <= 0 || cols <= 0)
        return weight_grad_update_f32(rows, cols, k, delta, ld_delta, x, ld_x, grad, accumulate,
                                      update, fastnn_sgemm_bf16, 0);
    float *copies = malloc(sizeof(float) * (size_t)(k * (rows + cols)));
    if (copies == NULL)
        return -1;
    int status = weight_grad_update_f32(
        rows, cols, k, rounded_copy(k, rows, delta, ld_delta, copies), rows,
        rounded_copy(k, cols, x, ld_x, copies + k * rows), cols, grad, accumulate, update,
        NULL, 0); /* k is within the few-row sums, which read neither (BF16_ROUNDED_COPY_MAX_K) */
    free(copies);
    return status;
}
