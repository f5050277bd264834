"""Conv1d and Conv2d: torch's layers, arguments and weight layout, on the implicit GEMM of
fastnn.functional_conv. A following activation runs in the GEMM's write-back, and in eval mode a
following BatchNorm is folded into the weights, so Conv2d → BatchNorm2d is one GEMM at inference."""
import math

import numpy as np

from .. import functional_conv as FC
from .. import init
from .fused_pair import FusedActivation, GemmLayer
from .module import check_grad_output, describe
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d"]

_FLOAT_DTYPES = (np.float32, np.float64)
_GELU_ACTIVATIONS = ("gelu", "gelu_tanh")
# The activations a convolution's write-back applies: those whose derivative reads the output, or
# the input as the GELU forms (whose pre-activation it keeps).
_FUSED_ACTIVATIONS = ("identity", "relu", "tanh", "sigmoid") + _GELU_ACTIVATIONS


class _ConvNd(GemmLayer):
    _dims = None  # spatial dimensions

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", *, activation=None, dtype=np.float32,
                 rng=None):
        name, n = type(self).__name__, self._dims
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels),
                           ("groups", groups)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) "
                             f"must be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        dtype = np.dtype(dtype)
        if dtype.type not in _FLOAT_DTYPES:
            raise TypeError(f"{name}: dtype must be float32 or float64, got {dtype}")
        if activation is not None and activation not in _FUSED_ACTIVATIONS:
            raise ValueError(f"{name}: unknown activation {activation!r}; expected None or one of "
                             f"{sorted(_FUSED_ACTIVATIONS)}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = FC._ints(kernel_size, n, "kernel_size", name, 1)
        self.stride = FC._ints(stride, n, "stride", name, 1)
        self.dilation = FC._ints(dilation, n, "dilation", name, 1)
        if isinstance(padding, str):
            FC._conv_padding(padding, self.kernel_size, self.dilation, self.stride, n, name)
            self.padding = padding
        else:
            self.padding = FC._ints(padding, n, "padding", name, 0)
        self.padding_mode = padding_mode
        self._activation = None if activation == "identity" else activation
        self.weight = Parameter.allocate((self.out_channels, self.in_channels // self.groups)
                                         + self.kernel_size, dtype)
        self.bias = Parameter.allocate(self.out_channels, dtype) if bias else None
        self.reset_parameters(rng)
        self._cache = None

    @property
    def activation(self):
        """The fused activation's name, or None."""
        return self._activation

    def reset_parameters(self, rng=None):
        """torch's initialisation: weight by kaiming_uniform(a=√5), bias from U(−1/√fan_in,
        1/√fan_in), fan_in = in_channels / groups · prod(kernel_size)."""
        rng = init._generator(rng, type(self).__name__)
        init.kaiming_uniform(self.weight, a=math.sqrt(5), rng=rng)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_channels // self.groups * math.prod(self.kernel_size))
            init.uniform(self.bias, -bound, bound, rng=rng)

    def _checked_input(self, x):
        if type(x) is not np.ndarray:
            raise TypeError(f"{describe(self)}: input must be a numpy.ndarray, got {type(x).__name__}")
        if x.dtype != self.weight.data.dtype:
            raise ValueError(f"{describe(self)}: expected input of dtype {self.weight.data.dtype}, got "
                             f"{x.dtype} (shape {x.shape})")
        return x

    def _forward(self, x, activation, weight=None, bias=None):
        """(output, cache) for a checked x, with these weights (default: the layer's own)."""
        weight = self.weight.data if weight is None else weight
        if bias is None and self.bias is not None:
            bias = self.bias.data
        pre = None
        if activation in _GELU_ACTIVATIONS:
            shape, _ = FC.conv_output_shape(x.shape, weight.shape, self.stride, self.padding,
                                            self.dilation, self.groups, caller=describe(self))
            pre = np.empty(shape, x.dtype)
        y = FC._conv(x, weight, bias, self.stride, self.padding, self.dilation, self.groups,
                     activation, pre, self._dims, describe(self))
        return y, (x, y, pre)

    def _run(self, x, activation):
        """forward's work for this layer or a fused step: (output, cache)."""
        return self._forward(self._checked_input(x), activation)

    def _backward(self, grad_output, cache, activation, need_input_grad):
        x, output, pre = cache
        check_grad_output(self, grad_output, output)
        weight_grad, bias_grad, accumulate = self._gradient_buffers()
        saved = pre if activation in _GELU_ACTIVATIONS else output
        dx, _, _ = FC._conv_backward(grad_output, x, self.weight.data, self.stride, self.padding,
                                     self.dilation, self.groups, activation, saved, need_input_grad,
                                     self.bias is not None, self._dims, describe(self),
                                     weight_grad, bias_grad, accumulate)
        return dx

    def fuse_next(self, following):
        """The activation module after this layer runs in its write-back; a BatchNorm after it
        is folded into its weights in eval mode."""
        if following is None or self._activation is not None:
            return None
        name = following.epilogue_activation
        if name is not None and not isinstance(name, str):
            return None  # an activation with parameters (LeakyReLU...) runs as its own module
        if name in _FUSED_ACTIVATIONS:
            return ConvActivation(self, following, None if name == "identity" else name)
        folds = getattr(following, "folds_into_convolution", None)
        if folds is not None and folds(self._dims, self.out_channels, self.weight.data.dtype):
            return ConvBatchNorm(self, following)
        return None

    def constructor_args(self):
        """The arguments that rebuild this layer (what fastnn.save records)."""
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
                "dilation": list(self.dilation), "groups": self.groups,
                "bias": self.bias is not None, "activation": self._activation,
                "dtype": self.weight.data.dtype.name}

    @staticmethod
    def parameter_shapes(args):
        """The shapes of the parameters `constructor_args` stand for (fastnn.load checks a file
        holds them before it builds the layer)."""
        kernel = tuple(args["kernel_size"]) if isinstance(args["kernel_size"], list) else None
        groups = args["groups"] if isinstance(args["groups"], int) and args["groups"] > 0 else 1
        shapes = {"weight": (args["out_channels"], args["in_channels"] // groups) + (kernel or ())}
        if args["bias"]:
            shapes["bias"] = (args["out_channels"],)
        return shapes

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding not in ((0,) * self._dims, "valid"):
            text += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self._activation is not None:
            text += f", activation={self._activation!r}"
        if self.weight.data.dtype != np.float32:
            text += f", dtype={self.weight.data.dtype}"
        return text


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation, as torch) of x (N, C_in, H, W) with weight
    (C_out, C_in / groups, KH, KW), plus bias (C_out,): torch.nn.Conv2d's arguments and defaults
    (stride, padding as ints, pairs, "valid" or "same", dilation, groups: 1, grouped, depthwise
    with groups = C_in), so a torch state_dict loads as it is. `activation` fuses an activation
    into the GEMM's write-back, as Linear's does; `rng` seeds the initialisation.

    backward(grad_output, need_input_grad=True) adds into weight.grad and bias.grad and returns
    the input gradient (None with need_input_grad=False: the first layer skips that GEMM).

    >>> import numpy as np
    >>> conv = Conv2d(1, 4, 3, padding=1, rng=0)
    >>> y = conv(np.ones((2, 1, 5, 5), np.float32))
    >>> y.shape, conv.backward(np.ones_like(y)).shape
    ((2, 4, 5, 5), (2, 1, 5, 5))
    """

    _dims = 2


class Conv1d(_ConvNd):
    """1-D convolution of x (N, C_in, L) with weight (C_out, C_in / groups, K): torch.nn.Conv1d's
    arguments; everything else as Conv2d.

    >>> import numpy as np
    >>> Conv1d(2, 3, 5, stride=2, rng=0)(np.zeros((4, 2, 11), np.float32)).shape
    (4, 3, 4)
    """

    _dims = 1


class ConvActivation(FusedActivation):
    """A convolution and the activation module after it, run as one GEMM (fused_pair.py)."""

    __slots__ = ()


class ConvBatchNorm:
    """A convolution and the BatchNorm after it. Training: the two in turn (the statistics are
    the batch's). Eval: one GEMM with the normalisation folded into the weights,
    w' = w · γ/√(var + eps) per output channel and b' = (b − mean) · γ/√(var + eps) + β."""

    __slots__ = ("conv", "norm", "modules", "folded_input")
    skips_input_grad = True

    def __init__(self, conv, norm):
        self.conv, self.norm, self.folded_input = conv, norm, None
        self.modules = (conv, norm)

    def parameters(self):
        yield from self.conv.parameters()
        yield from self.norm.parameters()

    def forward(self, x):
        if self.norm.uses_batch_statistics():
            self.folded_input = None
            return self.norm.forward(self.conv.forward(x))
        x = self.conv._checked_input(x)
        scale, shift = self.norm.folded_scale_shift()
        conv = self.conv
        weight = conv.weight.data * scale.reshape((-1,) + (1,) * (conv.weight.data.ndim - 1))
        bias = shift if conv.bias is None else conv.bias.data * scale + shift
        y, _ = conv._forward(x, None, weight.astype(x.dtype), bias.astype(x.dtype))
        self.folded_input = x
        return y

    def backward(self, grad_output, need_input_grad=True):
        if self.folded_input is not None:
            # differentiating an eval-mode forward (rare): run the pair unfused to cache what
            # each backward reads, the statistics being the running ones either way
            self.norm.forward(self.conv.forward(self.folded_input))
        return self.conv.backward(self.norm.backward(grad_output), need_input_grad)
