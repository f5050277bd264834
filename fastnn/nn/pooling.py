"""Max, average and adaptive average pooling as modules: torch's names, arguments and defaults,
the kernels in C threaded over the batch's planes."""
import numpy as np

from .. import functional_conv as FC
from .module import Module, backward_before_forward, check_grad_output, describe

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d"]


class _Pool(Module):
    """A pooling layer: forward caches the input's shape (and the maxima's positions), backward
    spreads the gradient back over the windows."""

    _dims = None
    _arg_names = ()

    def _check(self, x):
        if type(x) is not np.ndarray:
            raise TypeError(f"{describe(self)}: input must be a numpy.ndarray, got {type(x).__name__}")
        return x

    def _set_window(self, kernel_size, stride, padding):
        """kernel_size, stride (default: the kernel's) and padding, checked, as tuples."""
        name, n = type(self).__name__, self._dims
        self.kernel_size = FC._ints(kernel_size, n, "kernel_size", name, 1)
        self.stride = self.kernel_size if stride is None else FC._ints(stride, n, "stride", name, 1)
        self.padding = FC._ints(padding, n, "padding", name, 0)

    def _check_padding_fits(self):
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{type(self).__name__}: padding {self.padding} must be at most half "
                             f"the kernel {self.kernel_size}")

    def backward(self, grad_output, need_input_grad=True):
        cache = getattr(self, "_cache", None)
        if cache is None:
            raise backward_before_forward(self)
        check_grad_output(self, grad_output, cache[0])
        return self._backward(grad_output, cache)

    def constructor_args(self):
        return {name: (list(v) if isinstance(v := getattr(self, name), tuple) else v)
                for name in self._arg_names}

    @staticmethod
    def parameter_shapes(args):
        return {}

    def extra_repr(self):
        return ", ".join(f"{name}={getattr(self, name)}" for name in self._arg_names)


class _MaxPool(_Pool):
    _arg_names = ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode")

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        self._set_window(kernel_size, stride, padding)
        self.dilation = FC._ints(dilation, self._dims, "dilation", type(self).__name__, 1)
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)
        self._check_padding_fits()
        self._cache = None

    def forward(self, x):
        x = self._check(x)
        y, indices = FC._max_pool(x, self.kernel_size, self.stride, self.padding, self.dilation,
                                  self.ceil_mode, True, n=self._dims, caller=describe(self))
        self._cache = (y, x.shape, indices)
        return (y, indices) if self.return_indices else y

    def _backward(self, grad_output, cache):
        y, shape, indices = cache
        return FC._max_pool_backward(grad_output, indices, shape, self.kernel_size, self.stride,
                                     self.padding, self.dilation, self.ceil_mode, self._dims,
                                     describe(self))


class MaxPool2d(_MaxPool):
    """The maximum over each kernel_size window of x (N, C, H, W), as torch.nn.MaxPool2d (stride
    defaults to kernel_size; padding counts as -inf, at most half the kernel).

    >>> import numpy as np
    >>> MaxPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4))
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """

    _dims = 2


class MaxPool1d(_MaxPool):
    """MaxPool2d over x (N, C, L), as torch.nn.MaxPool1d."""

    _dims = 1


class _AvgPool(_Pool):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        self._set_window(kernel_size, stride, padding)
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)
        FC._divisor(divisor_override, type(self).__name__)
        self.divisor_override = divisor_override
        self._check_padding_fits()
        self._cache = None

    def forward(self, x):
        x = self._check(x)
        y = FC._avg_pool(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                         self.count_include_pad, self.divisor_override, self._dims, describe(self))
        self._cache = (y, x.shape)
        return y

    def _backward(self, grad_output, cache):
        return FC._avg_pool_backward(grad_output, cache[1], self.kernel_size, self.stride,
                                     self.padding, self.ceil_mode, self.count_include_pad,
                                     self.divisor_override, self._dims, describe(self))


class AvgPool2d(_AvgPool):
    """The mean over each window of x (N, C, H, W), as torch.nn.AvgPool2d: padding's zeros count
    in the divisor unless count_include_pad=False; divisor_override replaces the divisor.

    >>> import numpy as np
    >>> AvgPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4))
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """

    _dims = 2
    _arg_names = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                  "divisor_override")


class AvgPool1d(_AvgPool):
    """AvgPool2d over x (N, C, L), as torch.nn.AvgPool1d."""

    _dims = 1
    _arg_names = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class _AdaptiveAvgPool(_Pool):
    _arg_names = ("output_size",)

    def __init__(self, output_size):
        name, n = type(self).__name__, self._dims
        sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * n
        FC._ints(tuple(1 if s is None else s for s in sizes), n, "output_size", name, 1)
        self.output_size = tuple(sizes) if isinstance(output_size, (tuple, list)) else output_size
        self._cache = None

    def forward(self, x):
        x = self._check(x)
        y = FC._adaptive(x, self.output_size, self._dims, describe(self))
        self._cache = (y, x.shape)
        return y

    def _backward(self, grad_output, cache):
        return FC._adaptive_backward(grad_output, cache[1], self.output_size, self._dims,
                                     describe(self))


class AdaptiveAvgPool2d(_AdaptiveAvgPool):
    """Average pooling of x (N, C, H, W) to output_size (an int, a pair, None keeps that size),
    with torch's bins; AdaptiveAvgPool2d(1) is global average pooling.

    >>> import numpy as np
    >>> AdaptiveAvgPool2d(1)(np.arange(8.0).reshape(1, 2, 2, 2)).ravel()
    array([1.5, 5.5])
    """

    _dims = 2


class AdaptiveAvgPool1d(_AdaptiveAvgPool):
    """Average pooling of x (N, C, L) to output_size, as torch.nn.AdaptiveAvgPool1d."""

    _dims = 1
