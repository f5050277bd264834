"""Dropout: inverted dropout in training, the identity in eval mode, from a seeded generator."""
import numbers

import numpy as np

from .. import functional_conv as FC
from .module import Module, backward_before_forward, check_grad_output, describe

__all__ = ["Dropout"]


class Dropout(Module):
    """In training mode each element is zeroed with probability p and the others scaled by
    1 / (1 − p), as torch.nn.Dropout; in eval mode the input passes unchanged. `rng` (a numpy
    Generator or an int seed) makes the masks reproducible; `inplace` is accepted for torch's
    signature (the output is always a new array).

    >>> import numpy as np
    >>> drop = Dropout(0.5, rng=0)
    >>> y = drop(np.ones((2, 4), np.float32))
    >>> sorted(set(y.ravel().tolist())) == [0.0, 2.0], drop.eval()(np.ones(3)).tolist()
    (True, [1.0, 1.0, 1.0])
    """

    def __init__(self, p=0.5, inplace=False, *, rng=None):
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p!r}")
        self.p, self.inplace = float(p), bool(inplace)
        self._rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self._cache = None

    def forward(self, x):
        if type(x) is not np.ndarray:
            raise TypeError(f"{describe(self)}: input must be a numpy.ndarray, got {type(x).__name__}")
        y, mask = FC.dropout(x, self.p, self.training, rng=self._rng, return_mask=True)
        self._cache = (y, mask)
        return y

    def backward(self, grad_output, need_input_grad=True):
        if self._cache is None:
            raise backward_before_forward(self)
        y, mask = self._cache
        check_grad_output(self, grad_output, y)
        return FC.dropout_backward(grad_output, mask)

    def constructor_args(self):
        return {"p": self.p, "inplace": self.inplace}

    @staticmethod
    def parameter_shapes(args):
        return {}

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
