# cython: language_level=3
"""fastnn's compiled core: one extension module, one thin typed shell per C component.

Each .pxi below declares its C functions and wraps them; callers in Python validate and allocate
first, so these wrappers only take typed arrays, release the GIL and call C once.
"""
import numpy as np
cimport numpy as cnp

cnp.import_array()

include "_gemm.pxi"
include "_ops.pxi"
include "_optim.pxi"
include "_probe.pxi"
