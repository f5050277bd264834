/* A compiled network: a chain of layers whose buffers, epilogues and optimizer bindings are built
 * once (by fastnn/nn/plan.py), then run as one C call per forward pass, training step or epoch.
 *
 * A training step is: forward (each Linear one GEMM with bias and activation in its write-back),
 * the loss and its gradient in one pass, then backward from the last layer: dS = dY * act'(S)
 * with the bias gradient in the same pass, dX = dS W (before W changes), and dW = dS^T X with the
 * optimizer's update fused in (fused_optim.h). Every buffer is row-contiguous with `capacity`
 * rows; a step may use fewer. */
#ifndef FASTNN_PLAN_H
#define FASTNN_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "activation_table.h"
#include "fused_optim.h"

enum { FASTNN_OP_LINEAR = 0, FASTNN_OP_ACTIVATION = 1 };

typedef struct {
    int kind;                /* FASTNN_OP_* */
    ptrdiff_t in, out;       /* features (in == out for an activation) */
    fastnn_activation_spec activation; /* applied after the product for a Linear */
    void *weight, *bias;     /* (out, in) and (out,) or NULL */
    void *weight_grad, *bias_grad;
    /* whether the batch's gradient adds to what the grad arrays hold: set by the plan's own
     * accumulation steps, cleared by its updating steps */
    int weight_accumulate, bias_accumulate;
    fastnn_update weight_update, bias_update; /* rule NONE: the gradient is left in grad */
    void *output;            /* capacity x out */
    void *pre;               /* capacity x out, the pre-activation the GELU forms need; or NULL */
    int bf16;                /* a Linear's three products on bf16-rounded operands (float32 plans) */
} fastnn_plan_layer;

typedef struct {
    int is_double;
    int count;
    fastnn_plan_layer *layers;
    ptrdiff_t capacity;      /* rows every buffer holds */
    /* a loss of the table (loss_table.h), elementwise or on class indices, with its default
     * parameter: plan.py sets those whose modules declare plan_loss() */
    int loss;
    int loss_sum;            /* reduction="sum" (else "mean") */
    /* the reported loss and its gradient each multiplied by their own weight (1 and 1 but for
     * scikit-learn's squared error: half the mean, the gradient of half the sum over outputs) */
    double loss_weight, grad_weight;
    /* capacity x widest: the gradient flowing back, ping-ponged; each layer's dS = dY ⊙ σ'
     * overwrites its dY in place (a separate dS buffer, 4 MiB at 1024 x 1024 float32, kept the
     * step's working set beyond L3: the B=1024 784-1024-1024-10 step's two delta passes went
     * from 0.78 to 0.47 ms, one Zen 5 core, benchmarks/step_phases.py) */
    void *grad[2];
    /* one row of the input, on a cache line: a batch of 1 whose input is not on one is copied
     * here for the backward, where the one-pass update (fastnn_rank1_update_*) reads the first
     * layer's input once per weight row and loads across two lines cost (784 x 1024 float32 first
     * layer, one Zen 5 core: 53-54 us aligned, 56-60 us 16 bytes off). NULL: never copied */
    void *input_line;
} fastnn_plan;

/* input_line's alignment: a cache line, one AVX-512 vector (fastnn/_aligned.py reads it from
 * here, as _core.CACHE_LINE_BYTES, to allocate the buffers the plan and the parameters use) */
#define FASTNN_CACHE_LINE_BYTES 64

/* Status codes (negative) */
#define FASTNN_PLAN_OUT_OF_MEMORY (-1)

/* The forward pass of `rows` rows of x (rows x in, contiguous); the last layer writes into y
 * (rows x out) when y is not NULL. Returns 0 or a negative status. */
int fastnn_plan_forward(const fastnn_plan *plan, ptrdiff_t rows, const void *x, void *y);

/* One step on `rows` samples: forward, loss, backward; with `update`, every layer's parameters
 * with a rule are stepped in the backward, else the gradients are added into the grad arrays
 * (gradient accumulation: the first such step after an update overwrites them, the next add,
 * and the updating step adds its own before it applies the sum). Returns the loss (mean or sum over the batch) in *loss.
 * target: rows int64 class indices (a loss on class indices) or rows x out values (contiguous). */
int fastnn_plan_train_step(fastnn_plan *plan, ptrdiff_t rows, const void *x, const void *target,
                           int update, double *loss);

/* The order of an epoch's samples */
enum { FASTNN_EPOCH_IN_ORDER = 0, FASTNN_EPOCH_SHUFFLED = 1, FASTNN_EPOCH_ORDER_GIVEN = 2 };

/* An epoch: the n samples of X (n x in) and target in their order, shuffled with a generator
 * seeded by seed, or in the order `order` holds (per `shuffle`, FASTNN_EPOCH_*), then updating
 * steps on batches of up to `batch` rows gathered into x_batch and target_batch (capacity rows
 * each). order: n indices (scratch unless given). Returns the loss summed over samples (for
 * reduction="mean", each batch's mean times its rows) in *loss_sum and the steps taken in *steps.
 *
 * l2 > 0 adds scikit-learn's L2 penalty to every Linear weight: a batch of r rows steps the
 * weights with weight decay l2 / r (their rule's weight_decay is set so, then restored after the
 * epoch) and adds l2 / 2 * |W|^2 / r to its loss, |W|^2 over all the weights before its update. */
int fastnn_plan_fit_epoch(fastnn_plan *plan, ptrdiff_t n, const void *x, const void *target,
                          ptrdiff_t batch, uint64_t seed, int shuffle, int64_t *order,
                          double l2, void *x_batch, void *target_batch, double *loss_sum,
                          ptrdiff_t *steps);

#endif
