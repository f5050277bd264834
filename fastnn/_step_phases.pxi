# Where a compiled training step's time goes (csrc/step_phases.h): a benchmark's tool.

cdef extern from "step_phases.h" nogil:
    int FASTNN_PHASE_KINDS
    int FASTNN_PHASE_MAX_LAYERS
    int fastnn_step_phases_on
    void fastnn_step_phases_reset()
    double fastnn_step_phase_get(int kind, int layer)

# the phases' names, in the order of step_phases.h's enum
STEP_PHASE_NAMES = ("forward", "loss", "delta", "input_grad", "weight_grad", "update")


def step_phases(bint on):
    """Switches the compiled step's phase timers on or off (and zeroes them): each phase of each
    layer then adds its thread CPU time to step_phase_seconds(). Time the step on one thread."""
    global fastnn_step_phases_on
    fastnn_step_phases_reset()
    fastnn_step_phases_on = on


def step_phase_seconds():
    """The seconds each phase took since step_phases(True), as a (phases, layers) float64 array:
    rows named by STEP_PHASE_NAMES, columns the plan's layers (a Linear's fused activation counts
    with it; a separate activation layer's backward counts as its delta)."""
    cdef int kind, layer
    out = np.zeros((FASTNN_PHASE_KINDS, FASTNN_PHASE_MAX_LAYERS), np.float64)
    cdef double[:, ::1] view = out
    for kind in range(FASTNN_PHASE_KINDS):
        for layer in range(FASTNN_PHASE_MAX_LAYERS):
            view[kind, layer] = fastnn_step_phase_get(kind, layer)
    return out
