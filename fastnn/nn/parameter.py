"""Parameter: a trainable array and its gradient."""
import numpy as np

from .. import _aligned as aligned

__all__ = ["Parameter"]

_FLOAT_DTYPES = (np.float32, np.float64)


class Parameter:
    """A trainable array: `.data` (C-contiguous float32/float64) and `.grad` of the same shape,
    zeros until a backward adds into it.

    `zero_grad()` costs nothing at once: the zeros are written only if `.grad` is read before the
    next backward, and otherwise that backward writes its gradient instead of adding it to zeros,
    which saves two passes over every gradient per training step.

    Assigning `.data` checks the new array against the parameter (same shape and dtype) and
    names both shapes when they differ; the values are copied into the parameter's own storage
    when it lives in a flat buffer (`Module.flatten_parameters`), otherwise bound as they are
    (a non-contiguous array is copied first), sharing memory with the caller's array as torch's
    `p.data = t` does; such an array is not moved onto a cache line (fastnn/_aligned.py), which
    costs the batch-1 step some speed, never values.

    Layers make their parameters with `Parameter.allocate`, on a cache line; that storage is a
    view of a larger byte buffer, so `ndarray.resize` in place raises: assign a new array instead.
    Pickling and copying keep the alignment and a flat buffer's parameters its views.

    >>> import numpy as np
    >>> p = Parameter(np.ones((2, 3), np.float32))
    >>> p.grad.shape, float(p.grad.sum())
    ((2, 3), 0.0)
    >>> p.data = np.zeros((3, 2), np.float32)
    Traceback (most recent call last):
    ...
    ValueError: Parameter (2, 3) float32: data must have shape (2, 3), got (3, 2)
    """

    __slots__ = ("_data", "_grad", "_grad_zeroed", "_flat", "_label")

    def __init__(self, data):
        data = np.asarray(data)
        if data.dtype.type not in _FLOAT_DTYPES:
            if data.dtype.kind not in "iub":
                raise TypeError(f"Parameter: data must be float32 or float64, got {data.dtype}")
            data = data.astype(np.float64)
        self._data = np.require(data, requirements=("C_CONTIGUOUS", "ALIGNED"))
        self._grad = aligned.zeros_like(self._data)
        self._grad_zeroed = False
        self._flat = None  # (FlatParameters, offset) while the storage is a view into one
        self._label = None  # "Linear.weight" once a module holds it (module.py), for errors

    @classmethod
    def allocate(cls, shape, dtype, fill=None):
        """A parameter over new storage starting on a cache line (how every layer makes its
        parameters), holding `fill` everywhere, or left unset for the layer to draw when None.

        >>> Parameter.allocate((2, 3), np.float32, fill=1).data.ctypes.data % 64
        0
        """
        data = aligned.empty(shape, dtype) if fill is None else aligned.full(shape, fill, dtype)
        return cls(data)

    def __getstate__(self):
        return {name: getattr(self, name, None) for name in self.__slots__}

    def __setstate__(self, state):
        """Unpickling and deepcopy: the arrays come back as fresh copies, at numpy's 16-byte
        alignment and, in a flat buffer, no longer views of it; put them back on a cache line,
        or back into the buffer once both it and this parameter are restored."""
        if isinstance(state, tuple):  # object's default for __slots__: (None, {slot: value})
            state = state[1]
        for name in self.__slots__:
            setattr(self, name, state.get(name))
        flat = None if self._flat is None else self._flat[0]
        if getattr(flat, "data", None) is not None and flat.readopt(self):
            return
        if isinstance(self._data, np.ndarray):
            self._data = aligned.on_cache_line(self._data)
        if isinstance(self._grad, np.ndarray):
            self._grad = aligned.on_cache_line(self._grad)

    @property
    def data(self):
        return self._data

    @data.setter
    def data(self, value):
        if isinstance(value, Parameter):
            value = value.data
        current = self._data
        if value is current:
            return
        where = f"{getattr(self, '_label', None) or 'Parameter'} {current.shape} {current.dtype}"
        if value is None:
            raise TypeError(f"{where}: data cannot be None")
        value = np.asarray(value)
        if value.shape != current.shape:
            raise ValueError(f"{where}: data must have shape {current.shape}, got {value.shape}")
        if value.dtype != current.dtype:
            if not np.can_cast(value.dtype, current.dtype, casting="same_kind"):
                raise TypeError(f"{where}: data must be {current.dtype}, got {value.dtype}")
            value = value.astype(current.dtype)
        if self._flat is not None:
            np.copyto(current, value)
        else:
            self._data = np.require(value, requirements=("C_CONTIGUOUS", "ALIGNED"))

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
