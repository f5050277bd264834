# cython: language_level=3
"""fastnn's compiled core: one extension module, one thin typed shell per C component.

Each .pxi below declares its C functions and wraps them; callers in Python validate and allocate
first, so these wrappers only take typed arrays, release the GIL and call C once.
"""
import numpy as np
cimport numpy as cnp

cnp.import_array()


cdef inline int _check_aligned(cnp.ndarray x, str name) except -1:
    """C reads a float through a float pointer: an address that is not a multiple of the
    element's size is undefined behaviour there, however x86 tolerates it. Callers in Python
    copy misaligned inputs; what reaches a kernel misaligned is refused."""
    if not cnp.PyArray_ISALIGNED(x):
        raise ValueError(f"{name}: the array's data is not aligned to its dtype "
                         f"(flags.aligned is False); pass a copy")
    return 0

include "_threads.pxi"
include "_gemm.pxi"
include "_ops.pxi"
include "_optim.pxi"
include "_plan.pxi"
include "_optim_adaptive.pxi"
include "_probe.pxi"
include "_conv.pxi"
include "_ukernel_test.pxi"
include "_sparse.pxi"
include "_step_phases.pxi"
