"""Parameter: a trainable array and its gradient."""
import numpy as np

__all__ = ["Parameter"]

_FLOAT_DTYPES = (np.float32, np.float64)


class Parameter:
    """A trainable array: `.data` (C-contiguous float32/float64) and `.grad` of the same shape,
    zeros until a backward adds into it.

    `zero_grad()` costs nothing at once: the zeros are written only if `.grad` is read before the
    next backward, and otherwise that backward writes its gradient instead of adding it to zeros,
    which saves two passes over every gradient per training step.

    >>> import numpy as np
    >>> p = Parameter(np.ones((2, 3), np.float32))
    >>> p.grad.shape, float(p.grad.sum())
    ((2, 3), 0.0)
    """

    __slots__ = ("data", "_grad", "_grad_zeroed")

    def __init__(self, data):
        data = np.asarray(data)
        if data.dtype.type not in _FLOAT_DTYPES:
            if data.dtype.kind not in "iub":
                raise TypeError(f"Parameter: data must be float32 or float64, got {data.dtype}")
            data = data.astype(np.float64)
        self.data = np.require(data, requirements=("C_CONTIGUOUS", "ALIGNED"))
        self._grad = np.zeros_like(self.data)
        self._grad_zeroed = False

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    @property
    def grad(self):
        if self._grad_zeroed:
            self._grad.fill(0)
            self._grad_zeroed = False
        return self._grad

    @grad.setter
    def grad(self, value):  # checked where it is used: by the kernels that read or write it
        self._grad = value
        self._grad_zeroed = False

    def zero_grad(self):
        self._grad_zeroed = True

    def grad_for_backward(self):
        """(array, accumulate): where a backward puts this parameter's gradient, and whether it
        adds to what is there (False right after zero_grad: it may overwrite)."""
        accumulate = not self._grad_zeroed
        self._grad_zeroed = False
        return self._grad, accumulate

    def __repr__(self):
        return f"Parameter containing:\n{self.data!r}"
