"""Elementwise activations and softmax as modules."""
import numpy as np

from .. import functional as F
from .module import Module, backward_before_forward, check_grad_output

__all__ = ["Identity", "ReLU", "Tanh", "Sigmoid", "GELU", "Softmax"]


class _Activation(Module):
    """An elementwise activation: forward caches what its derivative reads (output, or input for
    the GELU forms); backward returns grad_output ⊙ act'."""

    _function_name = None  # the name in fastnn.functional.ACTIVATIONS

    @property
    def epilogue_activation(self):
        """This activation's name for a producer's write-back, unless a subclass changed what
        forward or backward compute (then it runs as itself)."""
        cls = type(self)
        if cls.forward is _Activation.forward and cls.backward is _Activation.backward:
            return self._function_name
        return None

    def plan_op(self):
        name = self.epilogue_activation
        return None if name is None else {"op": "activation", "activation": name}

    def forward(self, x):
        y = F.activation(x, self._function_name)
        self._cache = (x, y)
        return y

    def backward(self, grad_output, need_input_grad=True):
        cache = getattr(self, "_cache", None)
        if cache is None:
            raise backward_before_forward(self)
        x, y = cache
        check_grad_output(self, grad_output, y)
        return F.activation_backward(self._function_name, grad_output, output=y, input=x)


class Identity(Module):
    """Returns its input unchanged (the same array, as torch); backward passes the gradient on.

    >>> import numpy as np
    >>> x = np.zeros(2)
    >>> Identity()(x) is x
    True
    """

    _function_name = "identity"

    def __init__(self, *args, **kwargs):  # accepts and ignores arguments, as torch's does
        pass

    epilogue_activation = "identity"

    def plan_op(self):
        return []  # nothing to run

    def forward(self, x):
        return x

    def backward(self, grad_output, need_input_grad=True):
        return grad_output


class ReLU(_Activation):
    """max(x, 0) elementwise.

    >>> import numpy as np
    >>> ReLU()(np.array([-1.0, 2.0]))
    array([0., 2.])
    """

    _function_name = "relu"


class Tanh(_Activation):
    """tanh(x) elementwise.

    >>> import numpy as np
    >>> Tanh()(np.array([0.0]))
    array([0.])
    """

    _function_name = "tanh"


class Sigmoid(_Activation):
    """1 / (1 + exp(−x)) elementwise, stable for every finite x.

    >>> import numpy as np
    >>> Sigmoid()(np.array([0.0]))
    array([0.5])
    """

    _function_name = "sigmoid"


class GELU(_Activation):
    """x·Φ(x) (approximate="none", with erf) or its tanh form (approximate="tanh"), as torch.

    >>> import numpy as np
    >>> GELU(approximate="tanh")(np.array([0.0, 1.0])).round(4)
    array([0.    , 0.8412])
    """

    def __init__(self, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self._approximate = approximate
        self._function_name = "gelu" if approximate == "none" else "gelu_tanh"

    approximate = property(lambda self: self._approximate)

    def extra_repr(self):
        return f"approximate={self._approximate!r}"


class Softmax(Module):
    """exp(x) / Σ exp(x) along `dim` (max-shifted: never overflows).

    >>> import numpy as np
    >>> Softmax(dim=-1)(np.array([[0.0, 0.0]]))
    array([[0.5, 0.5]])
    """

    def __init__(self, dim=-1):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"Softmax: dim must be an int, got {type(dim).__name__}")
        self.dim = int(dim)

    def forward(self, x):
        y = F.softmax(x, self.dim)
        self._output = y
        return y

    def backward(self, grad_output, need_input_grad=True):
        y = getattr(self, "_output", None)
        if y is None:
            raise backward_before_forward(self)
        check_grad_output(self, grad_output, y)
        return F.softmax_backward(grad_output, y, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
