"""Elementwise activations and softmax as modules."""
import numpy as np

from .. import functional as F
from .module import Module, backward_before_forward, check_grad_output

__all__ = ["Identity", "ReLU", "Tanh", "Sigmoid", "GELU", "LeakyReLU", "ELU", "SiLU", "Softplus",
           "Softmax", "LogSoftmax"]


class _Activation(Module):
    """An elementwise activation of the table (fastnn.functional.ACTIVATION_TABLE): forward caches
    what its derivative reads (the output or the input, as the table says); backward returns
    grad_output ⊙ act'. A subclass with parameters sets `_params` (name -> value)."""

    _function_name = None  # the name in fastnn.functional.ACTIVATIONS
    _params = {}

    @property
    def _spec(self):
        return F.activation_spec(self._function_name, type(self).__name__, **self._params)

    @property
    def epilogue_activation(self):
        """This activation for a producer's write-back (its name, or its ActivationSpec when it
        has parameters), unless a subclass changed what forward or backward compute (then it
        runs as itself)."""
        cls = type(self)
        if cls.forward is _Activation.forward and cls.backward is _Activation.backward:
            return self._spec if self._params else self._function_name
        return None

    def plan_op(self):
        name = self.epilogue_activation
        return None if name is None else {"op": "activation", "activation": name}

    def forward(self, x):
        y = F.activation(x, self._spec)
        self._cache = (x, y)
        return y

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self._params.items())

    def backward(self, grad_output, need_input_grad=True):
        cache = getattr(self, "_cache", None)
        if cache is None:
            raise backward_before_forward(self)
        x, y = cache
        check_grad_output(self, grad_output, y)
        return F.activation_backward(self._spec, grad_output, output=y, input=x)


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


class LeakyReLU(_Activation):
    """x where x > 0, else negative_slope·x, as torch (negative_slope >= 0: the derivative is read
    from the output, so backward keeps nothing more than ReLU does).

    >>> import numpy as np
    >>> LeakyReLU(0.1)(np.array([-2.0, 3.0]))
    array([-0.2,  3. ])
    """

    _function_name = "leaky_relu"

    def __init__(self, negative_slope=0.01, inplace=False):
        self._params = {"negative_slope": negative_slope}
        self._spec  # checks the parameter now

    negative_slope = property(lambda self: self._params["negative_slope"])


class ELU(_Activation):
    """x where x > 0, else alpha·(exp(x) − 1), as torch (alpha >= 0; the derivative is read from
    the output).

    >>> import numpy as np
    >>> ELU()(np.array([-1.0, 2.0])).round(4)
    array([-0.6321,  2.    ])
    """

    _function_name = "elu"

    def __init__(self, alpha=1.0, inplace=False):
        self._params = {"alpha": alpha}
        self._spec

    alpha = property(lambda self: self._params["alpha"])


class SiLU(_Activation):
    """x·σ(x), as torch (its derivative reads the input, which a fused Linear keeps).

    >>> import numpy as np
    >>> SiLU()(np.array([0.0, 1.0])).round(4)
    array([0.    , 0.7311])
    """

    _function_name = "silu"

    def __init__(self, inplace=False):
        pass


class Softplus(_Activation):
    """log(1 + exp(beta·x)) / beta, and x where beta·x > threshold, as torch.

    >>> import numpy as np
    >>> Softplus()(np.array([0.0, 30.0])).round(4)
    array([ 0.6931, 30.    ])
    """

    _function_name = "softplus"

    def __init__(self, beta=1.0, threshold=20.0):
        self._params = {"beta": beta, "threshold": threshold}
        self._spec

    beta = property(lambda self: self._params["beta"])
    threshold = property(lambda self: self._params["threshold"])


class Softmax(Module):
    """exp(x) / Σ exp(x) along `dim` (max-shifted: never overflows); LogSoftmax is its log.

    >>> import numpy as np
    >>> Softmax(dim=-1)(np.array([[0.0, 0.0]]))
    array([[0.5, 0.5]])
    """

    def __init__(self, dim=-1):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"Softmax: dim must be an int, got {type(dim).__name__}")
        self.dim = int(dim)

    _forward, _backward = staticmethod(F.softmax), staticmethod(F.softmax_backward)

    def forward(self, x):
        y = self._forward(x, self.dim)
        self._output = y
        return y

    def backward(self, grad_output, need_input_grad=True):
        y = getattr(self, "_output", None)
        if y is None:
            raise backward_before_forward(self)
        check_grad_output(self, grad_output, y)
        return self._backward(grad_output, y, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """x − logsumexp(x) along `dim`, as torch: feeds NLLLoss.

    >>> import numpy as np
    >>> LogSoftmax(dim=-1)(np.array([[0.0, 0.0]])).round(4)
    array([[-0.6931, -0.6931]])
    """

    _forward, _backward = staticmethod(F.log_softmax), staticmethod(F.log_softmax_backward)
