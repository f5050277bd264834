"""LayerNorm: normalisation over each sample's last dimensions, as torch.nn.LayerNorm."""
import numbers

import numpy as np

from .. import functional_conv as FC
from .module import Module, backward_before_forward, check_grad_output, describe
from .parameter import Parameter

__all__ = ["LayerNorm"]


class LayerNorm(Module):
    """(x − mean) / √(var + eps) · weight + bias, the statistics over the last
    len(normalized_shape) dimensions of each sample (float64 inside), as torch.nn.LayerNorm;
    weight starts at 1 and bias at 0.

    >>> import numpy as np
    >>> LayerNorm(2)(np.array([[1.0, 3.0]], np.float32)).round(3)
    array([[-1.,  1.]], dtype=float32)
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, *,
                 dtype=np.float32):
        shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
        if not shape or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1
                                for s in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be positive ints, got {normalized_shape!r}")
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be > 0, got {eps!r}")
        dtype = np.dtype(dtype)
        if dtype.type not in (np.float32, np.float64):
            raise TypeError(f"LayerNorm: dtype must be float32 or float64, got {dtype}")
        self.normalized_shape, self.eps = tuple(int(s) for s in shape), float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        self.weight = Parameter.allocate(self.normalized_shape, dtype, fill=1) if elementwise_affine else None
        self.bias = Parameter.allocate(self.normalized_shape, dtype, fill=0) if elementwise_affine and bias else None
        self._dtype = dtype
        self._cache = None

    def forward(self, x):
        if type(x) is not np.ndarray:
            raise TypeError(f"{describe(self)}: input must be a numpy.ndarray, got {type(x).__name__}")
        if x.dtype != self._dtype:
            raise ValueError(f"{describe(self)}: expected input of dtype {self._dtype}, got {x.dtype} "
                             f"(shape {x.shape})")
        y, mean, invstd = FC.layer_norm(x, self.normalized_shape,
                                        self.weight.data if self.weight is not None else None,
                                        self.bias.data if self.bias is not None else None,
                                        self.eps, return_stats=True, caller=describe(self))
        self._cache = (x, y, mean, invstd)
        return y

    def backward(self, grad_output, need_input_grad=True):
        if self._cache is None:
            raise backward_before_forward(self)
        x, y, mean, invstd = self._cache
        check_grad_output(self, grad_output, y)
        dx, dgamma, dbeta = FC.layer_norm_backward(
            grad_output, x, self.normalized_shape, mean, invstd,
            self.weight.data if self.weight is not None else None,
            need_input_grad=need_input_grad, need_weight_grad=self.weight is not None,
            caller=describe(self))
        for parameter, grad in ((self.weight, dgamma), (self.bias, dbeta)):
            if parameter is not None:
                target, accumulate = parameter.grad_for_backward()
                if accumulate:
                    target += grad
                else:
                    target[...] = grad
        return dx

    skips_input_grad = True

    def constructor_args(self):
        return {"normalized_shape": list(self.normalized_shape), "eps": self.eps,
                "elementwise_affine": self.elementwise_affine, "bias": self.bias is not None,
                "dtype": self._dtype.name}

    @staticmethod
    def parameter_shapes(args):
        shape = tuple(args["normalized_shape"]) if isinstance(args["normalized_shape"], list) else ()
        shapes = {"weight": shape} if args["elementwise_affine"] else {}
        if args["elementwise_affine"] and args["bias"]:
            shapes["bias"] = shape
        return shapes

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
