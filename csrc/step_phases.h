/* Where a compiled training step's time goes: each phase of each layer (its forward product, the
 * delta pass, the input-gradient product, the weight-gradient product, the optimizer's pass) timed
 * on the calling thread's CPU clock, which a descheduled thread does not advance, so the figures
 * hold on a busy machine. Off unless switched on (a benchmark's tool, benchmarks/step_phases.py):
 * then each phase costs two clock reads (about a microsecond in all per layer). The clock counts
 * the calling thread only: time the step on one thread. */
#ifndef FASTNN_STEP_PHASES_H
#define FASTNN_STEP_PHASES_H

enum {
    FASTNN_PHASE_FORWARD,     /* the layer's forward (product, bias and activation) */
    FASTNN_PHASE_LOSS,        /* the loss and its gradient (counted on the last layer) */
    FASTNN_PHASE_DELTA,       /* the activation's derivative and the bias gradient */
    FASTNN_PHASE_INPUT_GRAD,  /* the input gradient's product */
    FASTNN_PHASE_WEIGHT_GRAD, /* the weight gradient, less the optimizer's separate pass */
    FASTNN_PHASE_UPDATE,      /* the optimizer's pass over the weight (and the bias's) */
    FASTNN_PHASE_KINDS
};
#define FASTNN_PHASE_MAX_LAYERS 64 /* later layers are not timed */

extern int fastnn_step_phases_on;
extern double fastnn_step_phase_seconds[FASTNN_PHASE_KINDS][FASTNN_PHASE_MAX_LAYERS];
/* The optimizer's pass inside the weight gradient's call, moved to FASTNN_PHASE_UPDATE by the
 * caller that times that call. */
extern double fastnn_step_phase_inner_update;

double fastnn_step_phase_clock(void);
void fastnn_step_phases_reset(void);
double fastnn_step_phase_get(int kind, int layer);

/* A phase's start (0 when timing is off), then its end: adds the thread CPU time between to
 * phase KIND of LAYER. */
static inline double fastnn_step_phase_begin(void)
{
    return fastnn_step_phases_on ? fastnn_step_phase_clock() : 0;
}

static inline void fastnn_step_phase_end(int kind, int layer, double start)
{
    if (fastnn_step_phases_on && layer < FASTNN_PHASE_MAX_LAYERS)
        fastnn_step_phase_seconds[kind][layer] += fastnn_step_phase_clock() - start;
}

/* The end of the optimizer's pass inside a weight gradient's call... */
static inline void fastnn_step_phase_end_inner_update(double start)
{
    if (fastnn_step_phases_on)
        fastnn_step_phase_inner_update += fastnn_step_phase_clock() - start;
}

/* ... which the caller, having timed the whole call as the weight gradient, moves to the update. */
static inline void fastnn_step_phase_move_inner_update(int layer)
{
    if (!fastnn_step_phases_on) /* then nothing was added: no write to the shared global */
        return;
    if (layer < FASTNN_PHASE_MAX_LAYERS) {
        fastnn_step_phase_seconds[FASTNN_PHASE_WEIGHT_GRAD][layer] -= fastnn_step_phase_inner_update;
        fastnn_step_phase_seconds[FASTNN_PHASE_UPDATE][layer] += fastnn_step_phase_inner_update;
    }
    fastnn_step_phase_inner_update = 0;
}

#endif
