/* The compiled network's forward pass, training step and epoch (plan.h). */
#include "plan.h"

#include <string.h>

#include "activation_math.h"
#include "activations.h"
#include "fp_env.h"
#include "gemm.h"
#include "gemv.h"
#include "kernel_context.h"
#include "losses.h"
#include "step_phases.h"

static int plan_loss_is_class(const fastnn_plan *plan)
{
    return fastnn_loss_table[plan->loss].kind == FASTNN_LOSS_CLASS_ROWS;
}

/* splitmix64: a fast generator of good quality for shuffling; the epoch's order depends only
 * on the seed. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void shuffled_order(ptrdiff_t n, uint64_t seed, int shuffle, int64_t *order)
{
    if (shuffle == FASTNN_EPOCH_ORDER_GIVEN)
        return;
    for (ptrdiff_t i = 0; i < n; i++) order[i] = i;
    if (shuffle != FASTNN_EPOCH_SHUFFLED)
        return;
    uint64_t state = seed;
    for (ptrdiff_t i = n - 1; i > 0; i--) {
        ptrdiff_t j = (ptrdiff_t)(((unsigned __int128)next_random(&state) * (uint64_t)(i + 1)) >> 64);
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* The weight decay of a layer's weight rule (SGD's or Adam's; the other is unused). */
static double weight_decay_of(const fastnn_plan_layer *L)
{
    return L->weight_update.rule == FASTNN_RULE_ADAM ? L->weight_update.adam.weight_decay
                                                     : L->weight_update.sgd.weight_decay;
}

static void set_weight_decay(fastnn_plan_layer *L, double weight_decay)
{
    L->weight_update.sgd.weight_decay = weight_decay;
    L->weight_update.adam.weight_decay = weight_decay;
}

/* A Linear's products: GEMM, or GEMM_BF16 for a layer marked bf16 (float32 plans only; the
 * float64 plan passes its own GEMM twice). Batch 1 takes the GEMV kernels in float32 only: a bf16
 * layer's row goes through its GEMM, so that it rounds as the eager layer does. */
#define DEFINE_PLAN(T, SUFFIX, GEMM, GEMM_BF16, WEIGHT_GRAD_UPDATE_BF16)                          \
    /* |W|^2 over every Linear weight */                                                          \
    static double weights_squared_##SUFFIX(const fastnn_plan *plan)                               \
    {                                                                                             \
        double total = 0;                                                                         \
        for (int l = 0; l < plan->count; l++) {                                                   \
            const fastnn_plan_layer *L = &plan->layers[l];                                        \
            if (L->kind == FASTNN_OP_LINEAR)                                                      \
                total += fastnn_optim_kernels_active()->SUFFIX.sum_squares(                       \
                    L->in * L->out, (const T *)L->weight);                                        \
        }                                                                                         \
        return total;                                                                             \
    }                                                                                             \
                                                                                                  \
    static int forward_##SUFFIX(const fastnn_plan *plan, ptrdiff_t rows, const T *x, T *y,        \
                                int training)                                                     \
    {                                                                                             \
        const T *h = x;                                                                           \
        const fastnn_gemv_kernels *gemv = fastnn_gemv_kernels_active();                           \
        for (int l = 0; l < plan->count; l++) {                                                   \
            const fastnn_plan_layer *L = &plan->layers[l];                                        \
            T *out = (l == plan->count - 1 && y) ? y : (T *)L->output;                            \
            double phase = fastnn_step_phase_begin();                                             \
            if (L->kind == FASTNN_OP_ACTIVATION) {                                                \
                fastnn_activation_forward_##SUFFIX(L->activation, rows * L->out, h, out);         \
            } else if (rows == 1 && gemv && !L->bf16) { /* batch 1: one stream over W */          \
                unsigned int fp_state = fastnn_flush_denormals_begin();                           \
                gemv->SUFFIX(L->out, L->in, (const T *)L->weight, L->in, h, out);                 \
                if (L->bias || L->activation.kind != FASTNN_ACT_IDENTITY || (training && L->pre)) \
                    fastnn_active_context()->activations->SUFFIX.bias_activation(                 \
                        L->activation, 1, L->out, (const T *)L->bias, out, L->out,                \
                        training ? (T *)L->pre : NULL, L->out);                                   \
                fastnn_flush_denormals_end(fp_state);                                             \
            } else {                                                                              \
                void *pre = training ? L->pre : NULL;                                             \
                fastnn_epilogue epilogue, *e = NULL;                                              \
                if (L->bias || L->activation.kind != FASTNN_ACT_IDENTITY || pre) {                \
                    fastnn_epilogue_init(&epilogue, sizeof(T) == sizeof(double), L->bias,         \
                                         L->activation, pre, L->out);                             \
                    e = &epilogue;                                                                \
                }                                                                                 \
                fastnn_gemm_fn_##SUFFIX gemm = L->bf16 ? GEMM_BF16 : GEMM;                        \
                if (gemm(rows, L->out, L->in, 1, h, L->in, 1, (const T *)L->weight, 1, L->in, 0,  \
                         out, L->out, e))                                                         \
                    return FASTNN_PLAN_OUT_OF_MEMORY;                                             \
            }                                                                                     \
            fastnn_step_phase_end(FASTNN_PHASE_FORWARD, l, phase);                                \
            h = out;                                                                              \
        }                                                                                         \
        return 0;                                                                                 \
    }                                                                                             \
                                                                                                  \
    /* The loss of the last layer's output against target, its gradient into g. */               \
    static double loss_##SUFFIX(const fastnn_plan *plan, ptrdiff_t rows, const void *target,      \
                                T *g)                                                             \
    {                                                                                             \
        const fastnn_plan_layer *last = &plan->layers[plan->count - 1];                           \
        const T *logits = (const T *)last->output;                                                \
        ptrdiff_t cols = last->out, n = rows * cols;                                              \
        double scale, total;                                                                      \
        const double param = fastnn_loss_table[plan->loss].default_param;                         \
        if (plan_loss_is_class(plan)) {                                                           \
            scale = plan->loss_sum ? 1.0 : 1.0 / (double)rows;                                    \
            total = fastnn_class_loss_##SUFFIX(plan->loss, param, rows, cols, logits,             \
                                               (const int64_t *)target, g,                        \
                                               scale * plan->grad_weight, NULL);                  \
        } else {                                                                                  \
            scale = plan->loss_sum ? 1.0 : 1.0 / (double)n;                                       \
            total = fastnn_elementwise_loss_##SUFFIX(plan->loss, param, n, logits,                \
                                                     (const T *)target, g,                        \
                                                     scale * plan->grad_weight, NULL);            \
        }                                                                                         \
        return total * scale * plan->loss_weight;                                                 \
    }                                                                                             \
                                                                                                  \
    /* The update of layer *pending (or none: -1), whose dW waits whole in its weight_grad. */    \
    static void deferred_update_##SUFFIX(fastnn_plan *plan, int *pending, double *squares)        \
    {                                                                                             \
        if (*pending < 0)                                                                         \
            return;                                                                               \
        fastnn_plan_layer *L = &plan->layers[*pending];                                           \
        double phase = fastnn_step_phase_begin();                                                 \
        L->weight_update.squares = squares;                                                       \
        fastnn_whole_update_##SUFFIX(L->out, L->in, (const T *)L->weight_grad, &L->weight_update); \
        L->weight_update.squares = NULL;                                                          \
        fastnn_step_phase_end(FASTNN_PHASE_UPDATE, *pending, phase);                              \
        *pending = -1;                                                                            \
    }                                                                                             \
                                                                                                  \
    /* squares (not NULL): adds |W|^2 of each Linear once it is stepped, read while in cache.     \
     * A weight whose dW is formed whole (fastnn_takes_whole_gradient) is stepped only after the  \
     * next layer's delta, which then reads that layer's saved output while dW's product has it    \
     * in cache, not after the update's pass over the weight and its state has evicted it        \
     * (784-1024-1024-10 SGD-momentum step, one Zen 5 core, builds alternated: the first layer's \
     * delta at B=1024 0.30-0.33 -> 0.24-0.29 ms in three step_phases runs; the step, best of   \
     * rounds in six pairs, 10.26 -> 10.23 ms at B=256 and 40.22 -> 39.96 at B=1024 on average, \
     * faster in five and four of the six). */                                                   \
    static int backward_##SUFFIX(fastnn_plan *plan, ptrdiff_t rows, const T *x, int update,       \
                                 double *squares)                                                 \
    {                                                                                             \
        if (rows == 1 && update && plan->input_line && (uintptr_t)x % FASTNN_CACHE_LINE_BYTES) {  \
            memcpy(plan->input_line, x, sizeof(T) * (size_t)plan->layers[0].in);                  \
            x = (const T *)plan->input_line;                                                      \
        }                                                                                         \
        const fastnn_gemv_kernels *gemv = fastnn_gemv_kernels_active();                           \
        const fastnn_activation_spec identity = {FASTNN_ACT_IDENTITY, 0, 0};                      \
        int which = 0, pending = -1;                                                              \
        for (int l = plan->count - 1; l >= 0; l--) {                                              \
            fastnn_plan_layer *L = &plan->layers[l];                                              \
            const T *g = (const T *)plan->grad[which];                                            \
            T *g_in = (T *)plan->grad[1 - which];                                                 \
            const T *h = l > 0 ? (const T *)plan->layers[l - 1].output : x;                       \
            if (L->kind == FASTNN_OP_ACTIVATION) {                                                \
                if (l == 0)                                                                       \
                    break; /* nothing to learn below: the input's gradient is not asked for */    \
                const T *saved = !fastnn_activation_table[L->activation.kind].derivative_from_input                 \
                                     ? (const T *)L->output : h;                                  \
                double phase = fastnn_step_phase_begin();                                         \
                fastnn_activation_backward_##SUFFIX(L->activation, rows * L->out, g, saved, g_in); \
                fastnn_step_phase_end(FASTNN_PHASE_DELTA, l, phase);                              \
                deferred_update_##SUFFIX(plan, &pending, squares);                                \
                which = 1 - which;                                                                \
                continue;                                                                         \
            }                                                                                     \
            double phase = fastnn_step_phase_begin();                                             \
            const T *d = g; /* dS, written over dY in place (plan.h) */                           \
            if (L->activation.kind != FASTNN_ACT_IDENTITY) {                                      \
                const T *saved = L->pre ? (const T *)L->pre : (const T *)L->output;               \
                fastnn_delta_and_bias_grad_##SUFFIX(L->activation, rows, L->out, g, L->out,       \
                                                    saved, L->out, (T *)g, L->out,                \
                                                    (T *)L->bias_grad, L->bias_accumulate);       \
            } else if (L->bias) {                                                                 \
                fastnn_delta_and_bias_grad_##SUFFIX(identity, rows, L->out, g, L->out, \
                                                    NULL, 0, NULL, 0, (T *)L->bias_grad,          \
                                                    L->bias_accumulate);                          \
            }                                                                                     \
            fastnn_step_phase_end(FASTNN_PHASE_DELTA, l, phase);                                  \
            deferred_update_##SUFFIX(plan, &pending, squares);                                    \
            phase = fastnn_step_phase_begin();                                                    \
            /* dX before the update changes W: at batch 1, from each row of W as it is stepped */ \
            fastnn_gemm_fn_##SUFFIX gemm = L->bf16 ? GEMM_BF16 : GEMM;                            \
            int stepped = rows == 1 && update && !L->weight_accumulate && !L->bf16 &&             \
                          fastnn_rank1_update_##SUFFIX(L->out, L->in, d, h, l > 0 ? g_in : NULL,  \
                                                       &L->weight_update);                        \
            if (stepped) {                                                                        \
                /* W stepped and dX formed in one pass */                                         \
            } else if (l > 0 && rows == 1 && gemv && !L->bf16) {                                  \
                unsigned int fp_state = fastnn_flush_denormals_begin();                           \
                gemv->gevm_##SUFFIX(L->out, L->in, (const T *)L->weight, L->in, d, g_in);         \
                fastnn_flush_denormals_end(fp_state);                                             \
            } else if (l > 0 && gemm(rows, L->in, L->out, 1, d, L->out, 1, (const T *)L->weight,  \
                                     L->in, 1, 0, g_in, L->in, NULL)) {                           \
                return FASTNN_PLAN_OUT_OF_MEMORY;                                                 \
            }                                                                                     \
            fastnn_step_phase_end(FASTNN_PHASE_INPUT_GRAD, l, phase);                             \
            phase = fastnn_step_phase_begin();                                                    \
            int squared = 0; /* |W|^2 added by the update, each block while in cache */           \
            int steps = update && L->weight_update.rule != FASTNN_RULE_NONE;                      \
            int whole = steps && fastnn_takes_whole_gradient(L->out, L->in, rows, sizeof(T));     \
            if (stepped) {                                                                        \
            } else if (steps && !whole) {                                                         \
                L->weight_update.squares = squares;                                               \
                int failed = (L->bf16 ? WEIGHT_GRAD_UPDATE_BF16 : fastnn_weight_grad_update_##SUFFIX)( \
                    L->out, L->in, rows, d, L->out, h, L->in, (T *)L->weight_grad,                \
                    L->weight_accumulate, &L->weight_update);                                     \
                L->weight_update.squares = NULL;                                                  \
                if (failed)                                                                       \
                    return FASTNN_PLAN_OUT_OF_MEMORY;                                             \
                squared = 1;                                                                      \
            } else if (gemm(L->out, L->in, rows, 1, d, 1, L->out, h, L->in, 1,                    \
                            L->weight_accumulate ? 1 : 0, (T *)L->weight_grad, L->in, NULL)) {    \
                return FASTNN_PLAN_OUT_OF_MEMORY;                                                 \
            } else if (whole) { /* dW whole: its update waits for the next layer's delta */       \
                pending = l;                                                                      \
                squared = 1;                                                                      \
            }                                                                                     \
            fastnn_step_phase_end(FASTNN_PHASE_WEIGHT_GRAD, l, phase);                            \
            fastnn_step_phase_move_inner_update(l);                                               \
            phase = fastnn_step_phase_begin();                                                    \
            if (update && L->bias && L->bias_update.rule != FASTNN_RULE_NONE)                     \
                fastnn_update_range_##SUFFIX(&L->bias_update, 0, L->out, (const T *)L->bias_grad); \
            if (squares && !squared)                                                              \
                *squares += fastnn_optim_kernels_active()->SUFFIX.sum_squares(                    \
                    L->in * L->out, (const T *)L->weight);                                        \
            fastnn_step_phase_end(FASTNN_PHASE_UPDATE, l, phase);                                 \
            which = 1 - which;                                                                    \
        }                                                                                         \
        deferred_update_##SUFFIX(plan, &pending, squares);                                        \
        return 0;                                                                                 \
    }                                                                                             \
                                                                                                  \
    static int train_step_##SUFFIX(fastnn_plan *plan, ptrdiff_t rows, const T *x,                 \
                                   const void *target, int update, double *loss, double *squares) \
    {                                                                                             \
        int status = forward_##SUFFIX(plan, rows, x, NULL, 1);                                    \
        if (status)                                                                               \
            return status;                                                                        \
        double phase = fastnn_step_phase_begin();                                                 \
        *loss = loss_##SUFFIX(plan, rows, target, (T *)plan->grad[0]);                            \
        fastnn_step_phase_end(FASTNN_PHASE_LOSS, plan->count - 1, phase);                         \
        if (update)                                                                               \
            for (int l = 0; l < plan->count; l++) {                                               \
                fastnn_update_begin_step(&plan->layers[l].weight_update);                         \
                fastnn_update_begin_step(&plan->layers[l].bias_update);                           \
            }                                                                                     \
        status = backward_##SUFFIX(plan, rows, x, update, squares);                               \
        if (update)                                                                               \
            for (int l = 0; l < plan->count; l++) {                                               \
                fastnn_update_end_step(&plan->layers[l].weight_update);                           \
                fastnn_update_end_step(&plan->layers[l].bias_update);                             \
                /* the step consumed the gradients: the next one starts afresh */                 \
                plan->layers[l].weight_accumulate = plan->layers[l].bias_accumulate = 0;          \
            }                                                                                     \
        else                                                                                      \
            for (int l = 0; l < plan->count; l++) /* the next steps add to these gradients */     \
                plan->layers[l].weight_accumulate = plan->layers[l].bias_accumulate = 1;          \
        return status;                                                                            \
    }                                                                                             \
                                                                                                  \
    static int fit_epoch_##SUFFIX(fastnn_plan *plan, ptrdiff_t n, const T *x, const void *target, \
                                  ptrdiff_t batch, uint64_t seed, int shuffle, int64_t *order,    \
                                  double l2, T *x_batch, void *target_batch, double *loss_sum,    \
                                  ptrdiff_t *steps)                                               \
    {                                                                                             \
        ptrdiff_t in = plan->layers[0].in, out = plan->layers[plan->count - 1].out;               \
        int classes = plan_loss_is_class(plan), status = 0;                                       \
        double decay_before[plan->count];                                                         \
        for (int l = 0; l < plan->count; l++) decay_before[l] = weight_decay_of(&plan->layers[l]); \
        shuffled_order(n, seed, shuffle, order);                                                  \
        double squares = l2 > 0 ? weights_squared_##SUFFIX(plan) : 0;                             \
        *loss_sum = 0;                                                                            \
        *steps = 0;                                                                               \
        for (ptrdiff_t start = 0; start < n && !status; start += batch) {                         \
            ptrdiff_t rows = n - start < batch ? n - start : batch;                               \
            if (l2 > 0 && (start == 0 || rows != batch))                                          \
                for (int l = 0; l < plan->count; l++)                                             \
                    if (plan->layers[l].kind == FASTNN_OP_LINEAR)                                 \
                        set_weight_decay(&plan->layers[l], l2 / (double)rows);                    \
            /* the batch's penalty l2/2 |W|^2 / rows, weighted by its rows */                     \
            double penalty = 0.5 * l2 * squares;                                                  \
            for (ptrdiff_t i = 0; i < rows; i++) {                                                \
                int64_t s = order[start + i];                                                     \
                memcpy(x_batch + i * in, x + s * in, sizeof(T) * (size_t)in);                     \
                if (classes)                                                                      \
                    ((int64_t *)target_batch)[i] = ((const int64_t *)target)[s];                  \
                else                                                                              \
                    memcpy((T *)target_batch + i * out, (const T *)target + s * out,             \
                           sizeof(T) * (size_t)out);                                              \
            }                                                                                     \
            double loss;                                                                          \
            squares = 0; /* the next batch's |W|^2, summed as the step leaves each weight */      \
            status = train_step_##SUFFIX(plan, rows, x_batch, target_batch, 1, &loss,             \
                                         l2 > 0 ? &squares : NULL);                               \
            if (!status) {                                                                        \
                *loss_sum += (plan->loss_sum ? loss : loss * (double)rows) + penalty;             \
                ++*steps;                                                                         \
            }                                                                                     \
        }                                                                                         \
        for (int l = 0; l < plan->count; l++)                                                     \
            if (plan->layers[l].kind == FASTNN_OP_LINEAR)                                         \
                set_weight_decay(&plan->layers[l], decay_before[l]);                              \
        return status;                                                                            \
    }

DEFINE_PLAN(float, f32, fastnn_sgemm, fastnn_sgemm_bf16, fastnn_weight_grad_update_bf16)
DEFINE_PLAN(double, f64, fastnn_dgemm, fastnn_dgemm, fastnn_weight_grad_update_f64)

int fastnn_plan_forward(const fastnn_plan *plan, ptrdiff_t rows, const void *x, void *y)
{
    if (plan->is_double)
        return forward_f64(plan, rows, (const double *)x, (double *)y, 0);
    return forward_f32(plan, rows, (const float *)x, (float *)y, 0);
}

int fastnn_plan_train_step(fastnn_plan *plan, ptrdiff_t rows, const void *x, const void *target,
                           int update, double *loss)
{
    if (plan->is_double)
        return train_step_f64(plan, rows, (const double *)x, target, update, loss, NULL);
    return train_step_f32(plan, rows, (const float *)x, target, update, loss, NULL);
}

int fastnn_plan_fit_epoch(fastnn_plan *plan, ptrdiff_t n, const void *x, const void *target,
                          ptrdiff_t batch, uint64_t seed, int shuffle, int64_t *order, double l2,
                          void *x_batch, void *target_batch, double *loss_sum, ptrdiff_t *steps)
{
    if (plan->is_double)
        return fit_epoch_f64(plan, n, (const double *)x, target, batch, seed, shuffle, order, l2,
                             (double *)x_batch, target_batch, loss_sum, steps);
    return fit_epoch_f32(plan, n, (const float *)x, target, batch, seed, shuffle, order, l2,
                         (float *)x_batch, target_batch, loss_sum, steps);
}
