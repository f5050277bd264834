"""Timing discipline: everything compared is timed in one process, round-robin, best of rounds.

On a shared machine a measurement is only ever slowed down (preemption, another process's cache
traffic, a clock not yet ramped up), never sped up, so the fastest of several short rounds is the
best estimate of what the code costs. Timing candidates in turn within each round, rather than one
after the other, exposes them all to the same disturbances, which keeps their ratios honest.

One-thread measurements read the process's CPU clock: it stops while another process holds the
core, so a preemption costs nothing, where the wall clock would charge its whole time slice; and
it counts every thread of ours, so work handed to a helper thread is not missed. With several
threads only the wall clock says how long the caller waited.
"""
import gc
import math
import sys
import time


def clock_for(threads):
    """The clock to time work on `threads` threads with: the process's CPU time for one, the wall
    clock for more."""
    return time.process_time if threads == 1 else time.perf_counter


def interleaved_best(candidates, rounds=5, round_seconds=0.002, budget_seconds=None,
                     clock=time.perf_counter, warm=False):
    """Best seconds per call of each callable in `candidates` (a dict name → callable).

    Each candidate is first called twice, the second call timed for a first estimate of its cost
    (the first may compile, as jax.jit does, or allocate: an estimate from it gave jax rounds of
    one call where the others had dozens), and gets a repeat count that makes one timing last
    about `round_seconds`; then `rounds` rounds time every
    candidate in turn. With `budget_seconds`, fewer rounds are run (at least two) when the total
    would exceed it. `clock` is time.perf_counter or, for one-thread work, time.process_time.
    With `warm`, each candidate is called once more, untimed, before its timing in every round:
    for work whose data lives in a cache the other candidates evict, timed as it runs when
    called back to back.

    >>> best = interleaved_best({"sum": lambda: sum(range(100))}, rounds=3)
    >>> 0 < best["sum"] < 1
    True
    """
    if not candidates:
        return {}
    if rounds < 1:
        raise ValueError(f"interleaved_best: rounds must be >= 1, got {rounds}")
    repeats, once = {}, {}
    for name, fn in candidates.items():
        fn()
        start = clock()
        fn()
        once[name] = max(clock() - start, 1e-9)
        repeats[name] = max(1, math.ceil(round_seconds / once[name]))
    if budget_seconds is not None:
        per_round = sum(once[name] * repeats[name] for name in candidates)
        rounds = max(2, min(rounds, int(budget_seconds / per_round)))
    best = {name: math.inf for name in candidates}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, fn in candidates.items():
                n = repeats[name]
                if warm:
                    fn()
                start = clock()
                for _ in range(n):
                    fn()
                best[name] = min(best[name], (clock() - start) / n)
    finally:
        if gc_was_enabled:
            gc.enable()
    return best


class Progress:
    """A progress bar on stderr: redrawn in place on a terminal, one line per step label change
    elsewhere (logs, CI), and nothing at all when `enabled` is False."""

    def __init__(self, total, enabled=True, stream=None, width=30):
        self.total = max(1, int(total))
        self.done = 0
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.started = time.perf_counter()
        self.interactive = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last_section = None

    def step(self, label):
        """Announce the step about to run."""
        if not self.enabled:
            return
        section = label.split(":")[0]
        filled = self.width * self.done // self.total
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.perf_counter() - self.started
        line = f"[{bar}] {self.done:>3}/{self.total} {elapsed:5.1f}s {label}"
        if self.interactive:
            self.stream.write("\r\033[K" + line[:120])
        elif section != self.last_section:
            self.stream.write(line + "\n")
        self.last_section = section
        self.stream.flush()

    def advance(self):
        self.done += 1

    def close(self):
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.started
        line = f"[{'#' * self.width}] {self.done:>3}/{self.total} {elapsed:5.1f}s done"
        self.stream.write(("\r\033[K" if self.interactive else "") + line + "\n")
        self.stream.flush()
