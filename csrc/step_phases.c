/* The compiled step's phase timers (step_phases.h). */
#include "step_phases.h"

#include <string.h>
#include <time.h>

int fastnn_step_phases_on;
double fastnn_step_phase_seconds[FASTNN_PHASE_KINDS][FASTNN_PHASE_MAX_LAYERS];
double fastnn_step_phase_inner_update;

double fastnn_step_phase_clock(void)
{
    struct timespec now;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) != 0)
        return 0;
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

void fastnn_step_phases_reset(void)
{
    memset(fastnn_step_phase_seconds, 0, sizeof(fastnn_step_phase_seconds));
    fastnn_step_phase_inner_update = 0;
}

double fastnn_step_phase_get(int kind, int layer)
{
    return fastnn_step_phase_seconds[kind][layer];
}
