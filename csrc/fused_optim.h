/* The optimizer inside backward: a parameter's update applied where its gradient is produced.
 *
 * A fastnn_update describes how one parameter tensor is stepped (rule, hyper-parameters, state
 * buffers). fastnn_weight_grad_update_* forms a Linear layer's weight gradient dW = dS^T X and
 * steps the weight with it in the same pass:
 *   - from k = 1 to FASTNN_FEW_ROW_MAX_K samples, one row of dW at a time is summed into a
 *     stack buffer by the few-row kernel and the update applied from there: dW is never formed
 *     (for k = 1 it is the outer product dS^T x, applied row by row);
 *   - above that, a weight of FASTNN_WHOLE_GRADIENT_MIN_BYTES or more takes dW whole from one
 *     GEMM into `grad`, then one update pass (below: why);
 *   - up to FASTNN_ROW_BLOCK_MAX_K, the GEMM writes dW into `grad` a block of whole rows at a
 *     time and the block is updated from L2 as soon as it is complete;
 *   - above, the update runs in the GEMM's write-back, on each strip of dW right after its last
 *     k-block, while the strip is in L1.
 * On the last two paths dW is written once and never read back from memory (the unfused
 * optimizer reads it again, with the weight and its state); the row blocks write it to a scratch
 * block per thread rather than to `grad` unless they add to grad's content.
 * Measured on the 784-1024-1024-10 step (one Zen 5 core): the strip epilogue alone cost ~1 ms
 * more than a separate optimizer pass at batch 1-16 (strips are 2 KiB row pieces a row apart,
 * which the prefetchers do not follow), the row blocks win there and tie at 64, the strips win
 * at 256 and above, where the row blocks would re-read X from L3 for every block; there the
 * strips tie (within 2%, 128 to 1024 rows) with the GEMM followed by a separate update pass.
 * (Those figures predate the whole-gradient pass, which now takes those weights.)
 * At batch 1 the compiled step's SGD layers go further: fastnn_rank1_update_* forms the input
 * gradient from each weight row just before the row is stepped, one pass over W and its state.
 * The arithmetic is the plain optimizer's (the same row kernels, optim_kernels.h), so the fused
 * step equals the unfused one. */
#ifndef FASTNN_FUSED_OPTIM_H
#define FASTNN_FUSED_OPTIM_H

#include <stddef.h>

#include "optim.h"
#include "optim_kernels.h"

enum { FASTNN_RULE_NONE = 0, FASTNN_RULE_SGD = 1, FASTNN_RULE_ADAM = 2 };

typedef struct {
    int rule;
    void *param;
    /* SGD: state[0] the momentum buffer (NULL without momentum);
     * Adam: exp_avg, exp_avg_sq, max_exp_avg_sq (NULL unless amsgrad) */
    void *state[3];
    fastnn_sgd_hyper sgd;
    fastnn_adam_hyper adam;
    fastnn_adam_scalars adam_scalars; /* from adam by fastnn_update_begin_step */
    /* scikit-learn's Adam: eps added to sqrt(v) itself, i.e. torch's with eps / sqrt(1 - beta2^t) */
    int adam_eps_unscaled;
    /* not NULL: fastnn_weight_grad_update_* adds here |W|^2 of the stepped weight (the next
     * batch's L2 penalty), each row block's summed as it leaves the update, in cache */
    double *squares;
} fastnn_update;

/* Up to this many samples the weight gradient is summed row by row beside the update (no GEMM,
 * no packing, dW never stored): with so few products per weight, the step is bound by reading
 * and writing the weight and its state, which this path does once (measured: at 8 rows the
 * row blocks below are faster). */
#define FASTNN_FEW_ROW_MAX_K 4

/* Above FASTNN_FEW_ROW_MAX_K samples, a weight of this many bytes or more (which does not fit in
 * L2 with its state) takes dW from one GEMM over all its rows into `grad`, then one update pass
 * over rows of the weight, its state and dW, split between the threads. Measured on the
 * 784-1024-1024-10 compiled step (one Zen 5 core, B = 16, 64, 256): the row blocks and the strips
 * below were 4-6% slower than this (each row block repacks and re-reads X, the strips are short
 * rows the prefetchers do not follow); on the 256x256 weights of the digits MLP (256 KiB, in L2)
 * the row blocks are as fast or faster. dW goes to memory here, read back once by the update. */
#define FASTNN_WHOLE_GRADIENT_MIN_BYTES ((size_t)1 << 20)

/* ... and up to this many, dW is formed in blocks of whole rows, each updated from L2 as soon as
 * it is complete (above, in the GEMM's write-back, strip by strip). */
#define FASTNN_ROW_BLOCK_MAX_K 64

/* Whether fastnn_weight_grad_update_* (and _bf16) forms this dW of k samples whole into `grad`
 * and then steps the weight in a pass of its own: a caller may then run the two apart, the
 * product (with the layer's own gemm) and later fastnn_whole_update_*, as the compiled step does
 * (plan.c: deferred_update). */
static inline int fastnn_takes_whole_gradient(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t k,
                                              size_t element)
{
    return k > FASTNN_FEW_ROW_MAX_K && rows > 0 && cols > 0 &&
           (size_t)(rows * cols) * element >= FASTNN_WHOLE_GRADIENT_MIN_BYTES;
}

/* Counts the step (Adam's t) and prepares its scalars: once per step, before the update runs. */
void fastnn_update_begin_step(fastnn_update *update);
/* After the step: SGD's momentum buffer now holds a value. */
void fastnn_update_end_step(fastnn_update *update);

#define FASTNN_DECLARE_FUSED_OPTIM(T, SUFFIX)                                                     \
    /* The update on elements [offset, offset + n) of the parameter, from grad[0:n). */           \
    void fastnn_update_range_##SUFFIX(const fastnn_update *update, ptrdiff_t offset,              \
                                      ptrdiff_t n, const T *grad);                                \
    /* W (rows x cols, contiguous) stepped by dW = sum_p delta[p][i] x[p][j] over k samples,      \
     * plus grad's content when accumulate. grad (rows x cols) may receive dW (its content      \
     * afterwards is not to be read) and is read only when accumulate. Returns 0, or -1 when     \
     * the GEMM or the row blocks could not allocate their buffers (nothing is then updated). */ \
    int fastnn_weight_grad_update_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t k,           \
                                           const T *delta, ptrdiff_t ld_delta, const T *x,        \
                                           ptrdiff_t ld_x, T *grad, int accumulate,               \
                                           const fastnn_update *update);                  \
    /* W (rows x cols, contiguous) stepped by the whole dW in grad, rows split between the     \
     * threads, then |W|^2 added to update->squares if asked for: the second half of the path     \
     * fastnn_takes_whole_gradient names. */                                                      \
    void fastnn_whole_update_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, const T *grad,              \
                                      const fastnn_update *update);                               \
    /* Batch 1: W (rows x cols, contiguous) stepped by the outer product delta^T x, and the      \
     * input gradient input_grad = delta W (cols; skipped when NULL) from each row before it      \
     * changes, in one pass over W and its state. Runs only where it can (SGD on one thread)     \
     * and returns 1; else returns 0 having done nothing. x is read once per row: fastest on a    \
     * cache line (the plan copies its input there, plan.h: input_line). */                      \
    int fastnn_rank1_update_##SUFFIX(ptrdiff_t rows, ptrdiff_t cols, const T *delta, const T *x,  \
                                     T *input_grad, const fastnn_update *update);

FASTNN_DECLARE_FUSED_OPTIM(float, f32)
FASTNN_DECLARE_FUSED_OPTIM(double, f64)
#undef FASTNN_DECLARE_FUSED_OPTIM

/* fastnn_weight_grad_update_f32 with dW the product of the bf16-rounded delta and x (the numbers
 * of fastnn_sgemm_bf16 up to the order of the sums, at every k): the update itself stays
 * float32. */
int fastnn_weight_grad_update_bf16(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t k, const float *delta,
                                   ptrdiff_t ld_delta, const float *x, ptrdiff_t ld_x, float *grad,
                                   int accumulate, const fastnn_update *update);

#endif
