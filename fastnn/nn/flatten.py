"""Flatten: dimensions merged into one, as torch.nn.Flatten; backward restores the shape."""
import numpy as np

from .. import functional_conv as FC
from .module import Module, backward_before_forward, check_grad_output, describe

__all__ = ["Flatten"]


class Flatten(Module):
    """Merges dimensions start_dim..end_dim (by default all but the batch's) into one: the bridge
    from convolutions (N, C, H, W) to a Linear (N, C·H·W).

    >>> import numpy as np
    >>> Flatten()(np.zeros((2, 3, 4, 4))).shape
    (2, 48)
    """

    def __init__(self, start_dim=1, end_dim=-1):
        for name, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"Flatten: {name} must be an int, got {value!r}")
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)
        self._cache = None

    def forward(self, x):
        if type(x) is not np.ndarray:
            raise TypeError(f"{describe(self)}: input must be a numpy.ndarray, got {type(x).__name__}")
        y = FC.flatten(x, self.start_dim, self.end_dim)
        self._cache = (y, x.shape)
        return y

    def backward(self, grad_output, need_input_grad=True):
        if self._cache is None:
            raise backward_before_forward(self)
        y, shape = self._cache
        check_grad_output(self, grad_output, y)
        return grad_output.reshape(shape)

    def constructor_args(self):
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}

    @staticmethod
    def parameter_shapes(args):
        return {}

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
