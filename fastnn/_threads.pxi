# fastnn's worker threads (csrc/thread_pool.h): Ctrl-C during a long product, and unit counts.
cdef extern from "Python.h":
    # declared here without cpython.exc's `except -1`: the exception it sets must stay set for
    # the kernel's caller to raise, not be reported and cleared inside the check
    int _run_signal_handlers "PyErr_CheckSignals" ()

cdef extern from "thread_pool.h" nogil:
    int FASTNN_UNITS_INTERRUPTED
    void fastnn_set_interrupt_check(int (*check)() noexcept nogil, unsigned long only_thread)
    void fastnn_unit_counts(long long *by_callers, long long *by_helpers)


cdef int _signal_raised() noexcept nogil:
    """Called between units of a long product on the main thread, which has released the GIL:
    takes it back for a moment to run Python's signal handlers. A handler that raises (Ctrl-C's
    KeyboardInterrupt) stops the product and its exception stays set for the caller to raise."""
    with gil:
        return _run_signal_handlers() < 0


cdef int _raise_pending() except -1:
    """Hands the exception set by a signal handler during a kernel on to the caller."""
    return -1


def unit_counts():
    """(units run by calling threads, units run by helper threads) since the process started:
    whether helpers took part in parallel work."""
    cdef long long by_callers, by_helpers
    fastnn_unit_counts(&by_callers, &by_helpers)
    return by_callers, by_helpers


import threading as _threading
# Python runs signal handlers on the main thread only, so only there is checking worthwhile.
fastnn_set_interrupt_check(_signal_raised, <unsigned long>_threading.main_thread().ident)
