"""Linear: y = act(x · Wᵀ + b) as one GEMM with the bias and the activation in its write-back."""
import math

import numpy as np

from .. import _core
from .. import functional as F
from .. import init
from .fused_pair import FusedActivation, GemmLayer
from .module import backward_before_forward, check_grad_output, describe
from .parameter import Parameter

__all__ = ["Linear"]

_FLOAT_DTYPES = (np.float32, np.float64)


class Linear(GemmLayer):
    """y = act(x · weightᵀ + bias) for x of shape (*, in_features) (any leading dimensions, as
    torch: they are flattened into the GEMM's rows, a view where x's layout allows); one GEMM with
    the bias and the activation fused into its write-back. A list is taken as an array of the
    layer's dtype.

    weight is (out_features, in_features) and bias (out_features,), both initialised as torch
    does: U(−1/√in_features, 1/√in_features) (kaiming_uniform with a = √5 for the weight). `rng`
    is a numpy Generator or an int seed. `activation` is None or one of "identity", "relu",
    "tanh", "sigmoid", "gelu", "gelu_tanh" (GELU(approximate="tanh")), "leaky_relu", "elu",
    "silu", "softplus" (with the table's default parameters: for others put the module after the
    Linear in a Sequential, which fuses it, or pass `fastnn.functional.activation_spec(...)`).

    backward(grad_output, need_input_grad=True) adds into weight.grad and bias.grad and returns
    the gradient with respect to x; with need_input_grad=False (a first layer, whose input is data)
    it skips that product and returns None.

    `precision="bf16"` (float32 layers) runs the layer's three products -- x·Wᵀ, dS·W and dSᵀ·x
    -- on operands rounded to bfloat16 and accumulated in float32, as torch's
    `autocast("cpu", dtype=torch.bfloat16)` does for its linear layers: twice float32's arithmetic
    rate on CPUs with AVX512-BF16 (elsewhere the same numbers at float32's speed). The weights,
    bias, activation, gradients and the optimizer stay float32. The default "fp32" computes in
    the layer's dtype. `model.to_precision("bf16")` sets it on a whole model.

    >>> import numpy as np
    >>> layer = Linear(3, 2, activation="relu", rng=0)
    >>> y = layer(np.ones((4, 3), np.float32))
    >>> y.shape, bool((y >= 0).all())
    ((4, 2), True)
    >>> layer.backward(np.ones_like(y)).shape
    (4, 3)
    >>> Linear(3, 2, precision="bf16", rng=0)
    Linear(in_features=3, out_features=2, bias=True, precision='bf16')
    """

    def __init__(self, in_features, out_features, bias=True, *, activation=None, dtype=np.float32,
                 rng=None, precision="fp32"):
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Linear: {name} must be a positive int, got {value!r}")
        dtype = np.dtype(dtype)
        if dtype.type not in _FLOAT_DTYPES:
            raise TypeError(f"Linear: dtype must be float32 or float64, got {dtype}")
        self._bf16 = _core.precision_is_bf16(precision, dtype, "Linear")
        self._precision = precision
        spec = None if activation is None else F.activation_spec(activation, "Linear")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self._activation = None if spec is None or spec.name == "identity" else spec
        self.weight = Parameter.allocate((self.out_features, self.in_features), dtype)
        self.bias = Parameter.allocate(self.out_features, dtype) if bias else None
        self.reset_parameters(rng)
        self._cache = None

    @property
    def activation(self):
        """The fused activation's name, or None (fixed at construction: a Sequential plans on it)."""
        return None if self._activation is None else self._activation.name

    @property
    def precision(self):
        """"fp32" or "bf16": what the products round their operands to (see the class). A
        compiled plan reads it when compiled: compile again after changing it."""
        return self._precision

    @precision.setter
    def precision(self, value):
        self._bf16 = _core.precision_is_bf16(value, self.weight.data.dtype, describe(self))
        self._precision = value

    def reset_parameters(self, rng=None):
        """Draw weight and bias again from U(−1/√in_features, 1/√in_features)."""
        rng = init._generator(rng, "Linear")
        init.kaiming_uniform(self.weight, a=math.sqrt(5), rng=rng)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform(self.bias, -bound, bound, rng=rng)

    def _checked_input(self, x):
        """x as (rows, in_features) (a view where its layout allows) and its leading shape."""
        dtype = self.weight.data.dtype
        if type(x) is not np.ndarray:
            if not isinstance(x, (list, tuple)):
                raise TypeError(f"{describe(self)}: input must be a numpy.ndarray or a list, got "
                                f"{type(x).__name__}")
            try:
                x = np.asarray(x, dtype=dtype)
            except (TypeError, ValueError) as error:
                raise ValueError(f"{describe(self)}: the input list is not a rectangular array of "
                                 f"numbers: {error}") from None
        if x.ndim < 1 or x.shape[-1] != self.in_features or x.size == 0 or x.dtype != dtype:
            raise ValueError(f"{describe(self)}: expected input (*, {self.in_features}) with at least "
                             f"one row (N >= 1, {self.in_features}) of dtype {dtype}, got {x.shape} "
                             f"of dtype {x.dtype}")
        lead = x.shape[:-1]
        if x.ndim != 2:
            x = x.reshape(-1, self.in_features)
        return (x if x.flags.aligned else x.copy()), lead

    def _forward(self, x, activation):
        """(output, pre-activation or None) for a checked 2-D x; the pre-activation is kept only
        where the derivative needs it (the activations that differentiate from their input)."""
        from_input = activation is not None and activation.derivative_from_input
        pre = np.empty((x.shape[0], self.out_features), x.dtype) if from_input else None
        bias = self.bias.data if self.bias is not None else None
        code = 0 if activation is None else activation.kernel
        return F.linear_unchecked(x, self.weight.data, bias, code, pre_activation_out=pre,
                                  bf16=self._bf16), pre

    def _reshaped_grad(self, grad_output, cache):
        """grad_output checked against the forward output's shape, as the 2-D rows of the GEMM."""
        x, y, pre, lead = cache
        if lead == (x.shape[0],):
            check_grad_output(self, grad_output, y)
            return grad_output
        if (type(grad_output) is not np.ndarray or grad_output.shape != lead + (self.out_features,)
                or grad_output.dtype != y.dtype):
            raise ValueError(f"{describe(self)}: grad_output must match the forward output, shape "
                             f"{lead + (self.out_features,)} {y.dtype}; got "
                             f"{getattr(grad_output, 'shape', type(grad_output).__name__)} "
                             f"{getattr(grad_output, 'dtype', '')}".rstrip())
        return grad_output.reshape(-1, self.out_features)

    def _backward(self, grad_output, cache, activation, need_input_grad, updates=None):
        """dx (of x's shape, or None) after adding the parameters' gradients, for a checked
        grad_output of the forward output's shape; with `updates` (an OptimizerInBackward) the
        weight is stepped in place of its gradient when the optimizer holds it."""
        x, output, pre, lead = cache
        grad_output = self._reshaped_grad(grad_output, cache)
        weight_grad, bias_grad, accumulate = self._gradient_buffers()
        code = 0 if activation is None else activation.kernel
        from_input = activation is not None and activation.derivative_from_input
        # a bf16 layer's dW is a bf16 product, which the fused update's GEMM is not: it is
        # stepped by the plain rule after the backward
        weight_step = updates.weight_step(self.weight) if updates is not None and not self._bf16 else None
        dx, _, _ = F.linear_backward_unchecked(
            grad_output, x, self.weight.data, code, pre if from_input else output, need_input_grad,
            self.bias is not None, weight_grad, bias_grad, accumulate, self._bf16,
            weight_step=weight_step)
        return dx if dx is None or len(lead) == 1 else dx.reshape(lead + (self.in_features,))

    def _run(self, x, activation):
        """forward's work for this layer or a fused step: (output of shape (*, out), cache)."""
        x, lead = self._checked_input(x)
        y, pre = self._forward(x, activation)
        return (y if len(lead) == 1 else y.reshape(lead + (self.out_features,))), (x, y, pre, lead)

    def backward_updating(self, grad_output, updates, need_input_grad=True):
        """backward with the optimizer inside (nn/fused_backward.py): the weight stepped where
        its gradient is formed."""
        if self._cache is None:
            raise backward_before_forward(self)
        return self._backward(grad_output, self._cache, self._activation, need_input_grad, updates)

    def fuse_next(self, following):
        """A Linear without an activation of its own takes the activation module after it into
        its write-back."""
        name = following.epilogue_activation if following is not None else None
        if self._activation is not None or name is None:
            return None
        spec = F.activation_spec(name, "Linear")
        return LinearActivation(self, following, None if spec.name == "identity" else spec)

    def plan_op(self):
        return {"op": "linear", "weight": self.weight, "bias": self.bias, "activation": self._activation,
                "precision": self._precision}

    def extra_repr(self):
        text = f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
        if self._activation is not None:
            params = "".join(f", {k}={v}" for k, v in self._activation.params.items())
            text += f", activation={self._activation.name!r}{params}"
        if self.weight.data.dtype != np.float32:
            text += f", dtype={self.weight.data.dtype}"
        if self._bf16:
            text += ", precision='bf16'"
        return text


class LinearActivation(FusedActivation):
    """A Linear and the activation module after it, run as one fused Linear (fused_pair.py)."""

    __slots__ = ()

    def backward_updating(self, grad_output, updates, need_input_grad=True):
        if self.cache is None:
            raise backward_before_forward(self.layer)
        return self.layer._backward(grad_output, self.cache, self.activation, need_input_grad,
                                    updates)

    def plan_op(self):
        linear = self.layer
        return {"op": "linear", "weight": linear.weight, "bias": linear.bias, "activation": self.activation,
                "precision": linear.precision}
