/* fastnn's own worker threads: parallel work as units taken from a shared counter.
 *
 * Why not an OpenMP team: a team's join waits for every member, so on a machine where another
 * process holds a core, each parallel region waits for a descheduled thread (and libgomp's idle
 * members spin on the cores they share). Here the calling thread takes units too and never waits
 * for a unit nobody has claimed: a helper that is not running when the work is handed out simply
 * finds nothing left. Helpers sleep (no spinning) between calls.
 */
#ifndef FASTNN_THREAD_POOL_H
#define FASTNN_THREAD_POOL_H

#include <stddef.h>

/* One unit of work; returns 0, or nonzero for a failure (the other units still run). */
typedef int (*fastnn_unit_fn)(void *context, ptrdiff_t unit);

#define FASTNN_UNITS_FAILED (-1)
#define FASTNN_UNITS_INTERRUPTED (-2)

/* Runs unit(context, u) once for every u in [0, units), on the calling thread and up to
 * threads - 1 helpers, and returns when all have run: 0, or FASTNN_UNITS_FAILED if a unit
 * failed. Which thread runs a unit is unspecified, so a unit's result must not depend on it.
 * Calls from several threads at once are allowed: a call that finds the helpers taken runs its
 * units on its own thread. With `interruptible`, the calling thread asks the interrupt check
 * (below) between units, at most every few milliseconds; when it answers yes, the units not yet
 * started are skipped and FASTNN_UNITS_INTERRUPTED is returned. */
int fastnn_run_units(int threads, ptrdiff_t units, fastnn_unit_fn unit, void *context,
                     int interruptible);

/* The interrupt check: returns nonzero when the caller should stop (a signal handler raised).
 * Called only from the thread whose id (pthread_self, as an unsigned long) is `only_thread`. */
void fastnn_set_interrupt_check(int (*check)(void), unsigned long only_thread);

/* Counts of units run by the calling threads and by helpers since the process started (or forked),
 * for tests and the benchmark: they show whether helpers took part. */
void fastnn_unit_counts(long long *by_callers, long long *by_helpers);

#endif
