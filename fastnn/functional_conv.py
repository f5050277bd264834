"""Convolution, pooling, normalisation, dropout and flatten as functions on arrays, with PyTorch's
names, arguments and layouts: inputs (N, C, L) or (N, C, H, W), convolution weights
(C_out, C_in / groups, K) or (C_out, C_in / groups, KH, KW). Re-exported by `fastnn.functional`.

Every forward has a `*_backward` that returns the gradients for the same arguments. The costly
parts run in C without the GIL: convolution as an implicit GEMM on fastnn's GEMM (bias and
activation fused into its write-back), pooling and batch normalisation threaded over the batch
or the channels. Arguments are checked before any C runs; an error names the caller (the
function, or the layer that called it) and the shapes.

>>> import numpy as np
>>> from fastnn import functional as F
>>> x = np.ones((1, 1, 4, 4), np.float32)
>>> w = np.ones((2, 1, 3, 3), np.float32)
>>> F.conv2d(x, w, padding=1)[0, 0]
array([[4., 6., 6., 4.],
       [6., 9., 9., 6.],
       [6., 9., 9., 6.],
       [4., 6., 6., 4.]], dtype=float32)
>>> F.max_pool2d(F.conv2d(x, w, padding=1), 2)[0, 1]
array([[9., 9.],
       [9., 9.]], dtype=float32)
"""
import numbers

import numpy as np

from . import _core

FLOAT_DTYPES = (np.float32, np.float64)
ACTIVATIONS = _core.ACTIVATIONS
_DERIVATIVE_FROM_INPUT = frozenset((ACTIVATIONS["gelu"], ACTIVATIONS["gelu_tanh"]))

__all__ = ["conv1d", "conv2d", "conv1d_backward", "conv2d_backward", "conv_output_shape",
           "max_pool1d", "max_pool2d", "max_pool1d_backward", "max_pool2d_backward",
           "avg_pool1d", "avg_pool2d", "avg_pool1d_backward", "avg_pool2d_backward",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool1d_backward",
           "adaptive_avg_pool2d_backward", "batch_norm", "batch_norm_backward", "layer_norm",
           "layer_norm_backward", "dropout", "dropout_backward", "flatten"]


# ---------------------------------------------------------------- argument checks

def _array(x, name, caller, ndim=None, dtype=None):
    """x as an aligned, C-contiguous float32/float64 ndarray of `ndim` dimensions."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{caller}: {name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype.type not in FLOAT_DTYPES:
        raise TypeError(f"{caller}: {name} must be float32 or float64, got {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{caller}: {name} has dtype {x.dtype}, expected {np.dtype(dtype)}")
    if ndim is not None and x.ndim not in ((ndim,) if isinstance(ndim, int) else ndim):
        want = ndim if isinstance(ndim, int) else " or ".join(map(str, ndim))
        raise ValueError(f"{caller}: {name} must be {want}-D, got {x.ndim}-D with shape {x.shape}")
    if not (x.flags.c_contiguous and x.flags.aligned):
        x = np.ascontiguousarray(x)
    return x


def _ints(value, n, name, caller, minimum):
    """An int or a sequence of n ints, each >= minimum, as a tuple of n ints."""
    values = (value,) * n if isinstance(value, numbers.Integral) else tuple(value) \
        if isinstance(value, (tuple, list)) else None
    if (values is None or len(values) != n or
            not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values)):
        raise TypeError(f"{caller}: {name} must be an int or {n} ints, got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{caller}: {name} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in values)


def _activation_code(activation, caller):
    if activation is None:
        return 0
    code = ACTIVATIONS.get(activation) if isinstance(activation, str) else None
    if code is None:
        raise ValueError(f"{caller}: unknown activation {activation!r}; expected None or one of "
                         f"{sorted(ACTIVATIONS)}")
    return code


# ---------------------------------------------------------------- convolution

def _conv_padding(padding, kernel, dilation, stride, n, caller):
    """((top, left), (bottom, right)) from an int, n ints, "valid" or "same"."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * n, (0,) * n
        if padding != "same":
            raise ValueError(f"{caller}: padding must be 'valid', 'same', an int or {n} ints, "
                             f"got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{caller}: padding='same' needs stride 1, got stride {stride}")
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple(t // 2 for t in total), tuple(t - t // 2 for t in total)
    pads = _ints(padding, n, "padding", caller, 0)
    return pads, pads


def conv_output_shape(input_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1, *,
                      caller="conv"):
    """The output shape of a convolution, and the geometry the C kernels take; ValueError naming
    `caller` and the shapes for an input the weights do not fit.

    >>> conv_output_shape((8, 3, 32, 32), (16, 3, 5, 5), stride=2, padding=2)[0]
    (8, 16, 16, 16)
    """
    n = len(weight_shape) - 2
    if len(input_shape) != n + 2:
        raise ValueError(f"{caller}: expected a {n + 2}-D input (N, C{', L' if n == 1 else ', H, W'}), "
                         f"got shape {tuple(input_shape)}")
    out_channels, per_group = weight_shape[:2]
    kernel = tuple(weight_shape[2:])
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{caller}: groups must be a positive int, got {groups!r}")
    stride = _ints(stride, n, "stride", caller, 1)
    dilation = _ints(dilation, n, "dilation", caller, 1)
    before, after = _conv_padding(padding, kernel, dilation, stride, n, caller)
    batch, channels = input_shape[:2]
    if channels != per_group * groups:
        raise ValueError(f"{caller}: the input has {channels} channels (shape {tuple(input_shape)}), "
                         f"the weight {tuple(weight_shape)} with groups={groups} expects "
                         f"{per_group * groups}")
    if out_channels % groups:
        raise ValueError(f"{caller}: out_channels {out_channels} is not divisible by groups={groups}")
    spatial = tuple(input_shape[2:])
    out = []
    for size, k, s, d, lo, hi in zip(spatial, kernel, stride, dilation, before, after):
        span = d * (k - 1) + 1
        if size + lo + hi < span:
            raise ValueError(f"{caller}: the input {tuple(input_shape)} (padded by {lo}+{hi}) is "
                             f"smaller than the kernel {kernel} (dilation {dilation})")
        out.append((size + lo + hi - span) // s + 1)
    if n == 1:
        spatial, kernel, stride, dilation, before, out = ((1,) + spatial, (1,) + kernel, (1,) + stride,
                                                          (1,) + dilation, (0,) + before, [1] + out)
    geometry = (batch, channels, out_channels, groups, spatial[0], spatial[1], out[0], out[1],
                kernel[0], kernel[1], stride[0], stride[1], before[0], before[1], dilation[0],
                dilation[1])
    shape = (batch, out_channels) + tuple(out[-n:])
    return shape, geometry


def _conv_operands(x, weight, bias, n, caller):
    x = _array(x, "input", caller, n + 2)
    weight = _array(weight, "weight", caller, n + 2, x.dtype)
    if bias is not None:
        bias = _array(bias, "bias", caller, 1, x.dtype)
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"{caller}: bias has shape {bias.shape}, expected ({weight.shape[0]},)")
    return x, weight, bias


def _conv(x, weight, bias, stride, padding, dilation, groups, activation, pre_activation_out, n,
          caller):
    x, weight, bias = _conv_operands(x, weight, bias, n, caller)
    code = _activation_code(activation, caller)
    shape, geometry = conv_output_shape(x.shape, weight.shape, stride, padding, dilation, groups,
                                        caller=caller)
    y = np.empty(shape, x.dtype)
    pre = pre_activation_out
    if pre is not None and (not isinstance(pre, np.ndarray) or pre.shape != shape or pre.dtype != x.dtype
                            or not pre.flags.c_contiguous or not pre.flags.writeable):
        raise ValueError(f"{caller}: pre_activation_out must be a writeable C-contiguous {shape} "
                         f"{x.dtype} array")
    if x.shape[0]:
        _core.conv2d_forward(geometry, x, weight, bias, code, y, pre)
    return y


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           activation=None, pre_activation_out=None):
    """activation(conv2d(input, weight) + bias) as torch.nn.functional.conv2d: input (N, C_in, H,
    W), weight (C_out, C_in / groups, KH, KW), bias (C_out,) or None; padding an int, a pair,
    "valid" or "same". `activation` (a name of functional.ACTIVATIONS) is applied in the GEMM's
    write-back; `pre_activation_out` receives the values before it (what the GELU backward needs).
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, activation,
                 pre_activation_out, 2, "conv2d")


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           activation=None, pre_activation_out=None):
    """conv2d's 1-D form, as torch.nn.functional.conv1d: input (N, C_in, L), weight
    (C_out, C_in / groups, K).

    >>> import numpy as np
    >>> conv1d(np.arange(5.0).reshape(1, 1, 5), np.ones((1, 1, 2)))
    array([[[1., 3., 5., 7.]]])
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, activation,
                 pre_activation_out, 1, "conv1d")


def _conv_backward(grad_output, x, weight, stride, padding, dilation, groups, activation, saved,
                   need_input_grad, need_bias_grad, n, caller, weight_grad=None, bias_grad=None,
                   accumulate=False):
    x, weight, _ = _conv_operands(x, weight, None, n, caller)
    shape, geometry = conv_output_shape(x.shape, weight.shape, stride, padding, dilation, groups,
                                        caller=caller)
    grad_output = _array(grad_output, "grad_output", caller, n + 2, x.dtype)
    if grad_output.shape != shape:
        raise ValueError(f"{caller}: grad_output has shape {grad_output.shape}, the output {shape}")
    code = _activation_code(activation, caller)
    delta = grad_output
    if code:
        which = "pre_activation" if code in _DERIVATIVE_FROM_INPUT else "output"
        if saved is None:
            raise ValueError(f"{caller}: activation={activation!r} needs {which}=")
        saved = _array(saved, which, caller, n + 2, x.dtype)
        if saved.shape != shape:
            raise ValueError(f"{caller}: {which} has shape {saved.shape}, the output {shape}")
        delta = np.empty_like(grad_output)
        _core.activation_backward(code, grad_output, saved, delta)
    dw = np.empty_like(weight) if weight_grad is None else weight_grad
    dx = np.empty_like(x) if need_input_grad else None
    if x.shape[0]:
        _core.conv2d_backward(geometry, x, weight, delta, dx, dw, accumulate)
    elif not accumulate:
        dw.fill(0)
        if dx is not None:
            dx.fill(0)
    db = None
    if need_bias_grad:
        db = np.empty(weight.shape[0], x.dtype) if bias_grad is None else bias_grad
        _core.channel_sums(delta.reshape(delta.shape[0], delta.shape[1], -1), db, accumulate)
    return dx, dw, db


def conv2d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    activation=None, output=None, pre_activation=None, need_input_grad=True,
                    need_bias_grad=True):
    """(grad_input, grad_weight, grad_bias) of conv2d with the same arguments: grad_input is None
    when need_input_grad is False, grad_bias when need_bias_grad is False. With a fused
    activation, pass the forward's `output` (ReLU, tanh, sigmoid) or `pre_activation` (GELU).

    >>> import numpy as np
    >>> x, w = np.ones((2, 1, 3, 3)), np.ones((1, 1, 2, 2))
    >>> dx, dw, db = conv2d_backward(np.ones((2, 1, 2, 2)), x, w)
    >>> dw[0, 0], db
    (array([[8., 8.],
           [8., 8.]]), array([8.]))
    """
    code = _activation_code(activation, "conv2d_backward")
    saved = pre_activation if code in _DERIVATIVE_FROM_INPUT else output
    return _conv_backward(grad_output, input, weight, stride, padding, dilation, groups, activation,
                          saved, need_input_grad, need_bias_grad, 2, "conv2d_backward")


def conv1d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    activation=None, output=None, pre_activation=None, need_input_grad=True,
                    need_bias_grad=True):
    """(grad_input, grad_weight, grad_bias) of conv1d with the same arguments (see conv2d_backward)."""
    code = _activation_code(activation, "conv1d_backward")
    saved = pre_activation if code in _DERIVATIVE_FROM_INPUT else output
    return _conv_backward(grad_output, input, weight, stride, padding, dilation, groups, activation,
                          saved, need_input_grad, need_bias_grad, 1, "conv1d_backward")


# ---------------------------------------------------------------- pooling

def _pool_geometry(shape, kernel_size, stride, padding, dilation, ceil_mode, n, caller):
    """(output shape, geometry tuple for C) of a pooling of (N, C, *spatial)."""
    if len(shape) != n + 2:
        raise ValueError(f"{caller}: expected a {n + 2}-D input (N, C{', L' if n == 1 else ', H, W'}), "
                         f"got shape {tuple(shape)}")
    kernel = _ints(kernel_size, n, "kernel_size", caller, 1)
    stride = kernel if stride is None or stride == () else _ints(stride, n, "stride", caller, 1)
    padding = _ints(padding, n, "padding", caller, 0)
    dilation = _ints(dilation, n, "dilation", caller, 1)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{caller}: padding {padding} must be at most half the kernel {kernel}")
    out = []
    for size, k, s, p, d in zip(shape[2:], kernel, stride, padding, dilation):
        span = d * (k - 1) + 1
        if size + 2 * p < span:
            raise ValueError(f"{caller}: the input {tuple(shape)} (padded by {p}) is smaller than "
                             f"the kernel {kernel} (dilation {dilation})")
        count = -(-(size + 2 * p - span) // s) if ceil_mode else (size + 2 * p - span) // s
        if ceil_mode and count * s >= size + p:  # the last window must start inside the input
            count -= 1
        out.append(count + 1)
    spatial = tuple(shape[2:])
    if n == 1:
        spatial, kernel, stride, padding, dilation, out = ((1,) + spatial, (1,) + kernel, (1,) + stride,
                                                           (0,) + padding, (1,) + dilation, [1] + out)
    geometry = (shape[0] * shape[1], spatial[0], spatial[1], out[0], out[1], kernel[0], kernel[1],
                stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1])
    return tuple(shape[:2]) + tuple(out[-n:]), geometry


def _max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, n, caller):
    x = _array(x, "input", caller)
    shape, geometry = _pool_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode, n, caller)
    y = np.empty(shape, x.dtype)
    indices = np.empty(shape, np.int64) if return_indices else None
    if x.size:
        _core.max_pool2d(geometry, x, y, indices)
    return (y, indices) if return_indices else y


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The maximum of each window, as torch.nn.functional.max_pool2d (stride defaults to the kernel
    size; padding counts as -inf; a NaN in a window is its maximum). With return_indices, also the
    position of each maximum in its input plane (h * W + w), which max_pool2d_backward takes."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2,
                     "max_pool2d")


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """max_pool2d over (N, C, L).

    >>> import numpy as np
    >>> max_pool1d(np.array([[[1.0, 3.0, 2.0, 5.0, 4.0]]]), 2)
    array([[[3., 5.]]])
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1,
                     "max_pool1d")


def _max_pool_backward(grad_output, indices, input_shape, kernel_size, stride, padding, dilation,
                       ceil_mode, n, caller):
    shape, geometry = _pool_geometry(tuple(input_shape), kernel_size, stride, padding, dilation,
                                     ceil_mode, n, caller)
    grad_output = _array(grad_output, "grad_output", caller)
    if grad_output.shape != shape:
        raise ValueError(f"{caller}: grad_output has shape {grad_output.shape}, the output {shape}")
    if not isinstance(indices, np.ndarray) or indices.shape != shape or indices.dtype != np.int64:
        raise ValueError(f"{caller}: indices must be the int64 {shape} array max_pool returned")
    dx = np.empty(tuple(input_shape), grad_output.dtype)
    if dx.size:
        _core.max_pool2d_backward(geometry, grad_output, np.ascontiguousarray(indices), dx)
    return dx


def max_pool2d_backward(grad_output, indices, input_shape, kernel_size, stride=None, padding=0,
                        dilation=1, ceil_mode=False):
    """The input gradient of max_pool2d: each grad_output value added at its window's maximum."""
    return _max_pool_backward(grad_output, indices, input_shape, kernel_size, stride, padding,
                              dilation, ceil_mode, 2, "max_pool2d_backward")


def max_pool1d_backward(grad_output, indices, input_shape, kernel_size, stride=None, padding=0,
                        dilation=1, ceil_mode=False):
    return _max_pool_backward(grad_output, indices, input_shape, kernel_size, stride, padding,
                              dilation, ceil_mode, 1, "max_pool1d_backward")


def _divisor(divisor_override, caller):
    if divisor_override is None:
        return 0
    if isinstance(divisor_override, bool) or not isinstance(divisor_override, numbers.Integral) \
            or divisor_override < 1:
        raise ValueError(f"{caller}: divisor_override must be a positive int or None, "
                         f"got {divisor_override!r}")
    return int(divisor_override)


def _avg_pool(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, n,
              caller):
    x = _array(x, "input", caller)
    shape, geometry = _pool_geometry(x.shape, kernel_size, stride, padding, 1, ceil_mode, n, caller)
    y = np.empty(shape, x.dtype)
    if x.size:
        _core.avg_pool2d(geometry, x, y, bool(count_include_pad), _divisor(divisor_override, caller),
                         False)
    return y


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """The mean of each window, as torch.nn.functional.avg_pool2d: the padding's zeros count in
    the divisor unless count_include_pad is False; divisor_override replaces the divisor."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 2, "avg_pool2d")


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """avg_pool2d over (N, C, L).

    >>> import numpy as np
    >>> avg_pool1d(np.array([[[1.0, 3.0, 2.0, 6.0]]]), 2)
    array([[[2., 4.]]])
    """
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1,
                     "avg_pool1d")


def _avg_pool_backward(grad_output, input_shape, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override, n, caller):
    shape, geometry = _pool_geometry(tuple(input_shape), kernel_size, stride, padding, 1, ceil_mode,
                                     n, caller)
    grad_output = _array(grad_output, "grad_output", caller)
    if grad_output.shape != shape:
        raise ValueError(f"{caller}: grad_output has shape {grad_output.shape}, the output {shape}")
    dx = np.empty(tuple(input_shape), grad_output.dtype)
    if dx.size:
        _core.avg_pool2d_backward(geometry, grad_output, dx, bool(count_include_pad),
                                  _divisor(divisor_override, caller), False)
    return dx


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
    """The input gradient of avg_pool2d with the same arguments."""
    return _avg_pool_backward(grad_output, input_shape, kernel_size, stride, padding, ceil_mode,
                              count_include_pad, divisor_override, 2, "avg_pool2d_backward")


def avg_pool1d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True):
    return _avg_pool_backward(grad_output, input_shape, kernel_size, stride, padding, ceil_mode,
                              count_include_pad, None, 1, "avg_pool1d_backward")


def _adaptive_geometry(shape, output_size, n, caller):
    if len(shape) != n + 2:
        raise ValueError(f"{caller}: expected a {n + 2}-D input (N, C{', L' if n == 1 else ', H, W'}), "
                         f"got shape {tuple(shape)}")
    spatial = tuple(shape[2:])
    if not isinstance(output_size, (tuple, list)):
        output_size = (output_size,) * n
    if len(output_size) != n:
        raise ValueError(f"{caller}: output_size must be an int or {n} values, got {output_size!r}")
    out = tuple(size if o is None else o for o, size in zip(output_size, spatial))
    out = _ints(out, n, "output_size", caller, 1)
    if any(s < 1 for s in spatial):
        raise ValueError(f"{caller}: the input {tuple(shape)} has an empty spatial dimension")
    if n == 1:
        spatial, out = (1,) + spatial, (1,) + out
    geometry = (shape[0] * shape[1], spatial[0], spatial[1], out[0], out[1], 1, 1, 1, 1, 0, 0, 1, 1)
    return tuple(shape[:2]) + out[-n:], geometry


def _adaptive(x, output_size, n, caller):
    x = _array(x, "input", caller)
    shape, geometry = _adaptive_geometry(x.shape, output_size, n, caller)
    y = np.empty(shape, x.dtype)
    if x.size:
        _core.avg_pool2d(geometry, x, y, True, 0, True)
    return y


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output size (torch's bins: floor(i H / OH) to ceil((i + 1) H / OH));
    output_size 1 is global average pooling.

    >>> import numpy as np
    >>> adaptive_avg_pool2d(np.arange(8.0).reshape(1, 2, 2, 2), 1)
    array([[[[1.5]],
    <BLANKLINE>
            [[5.5]]]])
    """
    return _adaptive(input, output_size, 2, "adaptive_avg_pool2d")


def adaptive_avg_pool1d(input, output_size):
    return _adaptive(input, output_size, 1, "adaptive_avg_pool1d")


def _adaptive_backward(grad_output, input_shape, output_size, n, caller):
    shape, geometry = _adaptive_geometry(tuple(input_shape), output_size, n, caller)
    grad_output = _array(grad_output, "grad_output", caller)
    if grad_output.shape != shape:
        raise ValueError(f"{caller}: grad_output has shape {grad_output.shape}, the output {shape}")
    dx = np.empty(tuple(input_shape), grad_output.dtype)
    if dx.size:
        _core.avg_pool2d_backward(geometry, grad_output, dx, True, 0, True)
    return dx


def adaptive_avg_pool2d_backward(grad_output, input_shape, output_size):
    return _adaptive_backward(grad_output, input_shape, output_size, 2, "adaptive_avg_pool2d_backward")


def adaptive_avg_pool1d_backward(grad_output, input_shape, output_size):
    return _adaptive_backward(grad_output, input_shape, output_size, 1, "adaptive_avg_pool1d_backward")


# ---------------------------------------------------------------- batch normalisation

def _channel_vector(v, name, channels, dtype, caller):
    if v is None:
        return None
    v = _array(v, name, caller, 1)
    if v.shape != (channels,):
        raise ValueError(f"{caller}: {name} has shape {v.shape}, expected ({channels},) for the "
                         f"input's {channels} channels")
    return v


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5, *, return_stats=False, caller="batch_norm"):
    """Batch normalisation as torch.nn.functional.batch_norm over input (N, C) or (N, C, *):
    y = (x − mean) / sqrt(var + eps) · weight + bias per channel.

    training=True uses the batch's mean and biased variance and, when running_mean/running_var
    are given, updates them in place: running = (1 − momentum) · running + momentum · batch
    value, with the unbiased variance (momentum=None: the cumulative average is the caller's
    business, as torch's num_batches_tracked). training=False uses the running statistics.
    return_stats=True also returns (mean, invstd) in float64, what batch_norm_backward takes.

    >>> import numpy as np
    >>> x = np.array([[1.0], [3.0]])
    >>> batch_norm(x, None, None, training=True).round(3)
    array([[-1.],
           [ 1.]])
    """
    x = _array(input, "input", caller)
    if x.ndim < 2:
        raise ValueError(f"{caller}: expected an input (N, C) or (N, C, *), got shape {x.shape}")
    channels = x.shape[1]
    running_mean = _channel_vector(running_mean, "running_mean", channels, x.dtype, caller)
    running_var = _channel_vector(running_var, "running_var", channels, x.dtype, caller)
    weight = _channel_vector(weight, "weight", channels, x.dtype, caller)
    bias = _channel_vector(bias, "bias", channels, x.dtype, caller)
    per_channel = x.size // channels if channels else 0
    if training:
        if per_channel < 2:
            raise ValueError(f"{caller}: training needs more than 1 value per channel, got input "
                             f"shape {x.shape}")
        mean, var = np.empty(channels), np.empty(channels)
        _core.batch_norm_stats(x, mean, var)
        if running_mean is not None and momentum is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if running_var is not None and momentum is not None:
            running_var *= 1 - momentum
            running_var += momentum * var * (per_channel / (per_channel - 1))
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{caller}: eval mode (training=False) needs running_mean and running_var")
        mean, var = running_mean.astype(np.float64), running_var.astype(np.float64)
    invstd = 1 / np.sqrt(var + eps)
    scale = invstd * (weight if weight is not None else 1)
    shift = (bias if bias is not None else 0) - mean * scale
    y = np.empty_like(x)
    if x.size:
        _core.batch_norm_apply(x, scale.astype(x.dtype), shift.astype(x.dtype), y)
    return (y, mean, invstd) if return_stats else y


def batch_norm_backward(grad_output, input, mean, invstd, weight=None, training=True, *,
                        need_input_grad=True, need_weight_grad=True, caller="batch_norm_backward",
                        weight_grad=None, bias_grad=None, accumulate=False):
    """(grad_input, grad_weight, grad_bias) of batch_norm, from the (mean, invstd) its
    return_stats gave: training=True differentiates through the batch statistics too.
    grad_weight and grad_bias are None when need_weight_grad is False."""
    x = _array(input, "input", caller)
    grad_output = _array(grad_output, "grad_output", caller, x.ndim, x.dtype)
    if grad_output.shape != x.shape:
        raise ValueError(f"{caller}: grad_output has shape {grad_output.shape}, the input {x.shape}")
    channels = x.shape[1]
    mean = np.ascontiguousarray(mean, np.float64)
    invstd = np.ascontiguousarray(invstd, np.float64)
    if mean.shape != (channels,) or invstd.shape != (channels,):
        raise ValueError(f"{caller}: mean and invstd must be ({channels},)")
    weight = _channel_vector(weight, "weight", channels, x.dtype, caller)
    dx = np.empty_like(x) if need_input_grad else None
    dgamma = dbeta = None
    if need_weight_grad:
        dgamma = np.empty(channels, x.dtype) if weight_grad is None else weight_grad
        dbeta = np.empty(channels, x.dtype) if bias_grad is None else bias_grad
    _core.batch_norm_backward(x, grad_output, mean, invstd, weight, bool(training), dx, dgamma,
                              dbeta, accumulate)
    return dx, dgamma, dbeta


# ---------------------------------------------------------------- layer normalisation

def _normalized_axes(x, normalized_shape, caller):
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    if x.ndim < len(shape) or tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise ValueError(f"{caller}: the input's last dimensions {x.shape} do not match "
                         f"normalized_shape {shape}")
    return tuple(range(x.ndim - len(shape), x.ndim)), shape


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, *, return_stats=False,
               caller="layer_norm"):
    """(x − mean) / sqrt(var + eps) · weight + bias over the last len(normalized_shape)
    dimensions, as torch.nn.functional.layer_norm; statistics in float64. return_stats=True also
    returns (mean, invstd), what layer_norm_backward takes.

    >>> import numpy as np
    >>> layer_norm(np.array([[1.0, 3.0]]), 2).round(3)
    array([[-1.,  1.]])
    """
    x = _array(input, "input", caller)
    axes, shape = _normalized_axes(x, normalized_shape, caller)
    for name, v in (("weight", weight), ("bias", bias)):
        if v is not None and (not isinstance(v, np.ndarray) or v.shape != shape):
            raise ValueError(f"{caller}: {name} must have shape {shape}")
    mean = x.mean(axis=axes, keepdims=True, dtype=np.float64)
    centred = x - mean
    invstd = 1 / np.sqrt(np.mean(centred * centred, axis=axes, keepdims=True) + eps)
    y = centred * invstd
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    y = y.astype(x.dtype, copy=False)
    return (y, mean, invstd) if return_stats else y


def layer_norm_backward(grad_output, input, normalized_shape, mean, invstd, weight=None, *,
                        need_input_grad=True, need_weight_grad=True, caller="layer_norm_backward"):
    """(grad_input, grad_weight, grad_bias) of layer_norm from its (mean, invstd)."""
    x = _array(input, "input", caller)
    axes, shape = _normalized_axes(x, normalized_shape, caller)
    grad_output = _array(grad_output, "grad_output", caller, x.ndim, x.dtype)
    if grad_output.shape != x.shape:
        raise ValueError(f"{caller}: grad_output has shape {grad_output.shape}, the input {x.shape}")
    xhat = (x - mean) * invstd
    batch_axes = tuple(range(x.ndim - len(shape)))
    dgamma = dbeta = None
    if need_weight_grad:
        dgamma = np.sum(grad_output * xhat, axis=batch_axes).astype(x.dtype)
        dbeta = np.sum(grad_output, axis=batch_axes, dtype=np.float64).astype(x.dtype)
    dx = None
    if need_input_grad:
        g = grad_output * weight if weight is not None else grad_output.astype(np.float64)
        dx = invstd * (g - g.mean(axis=axes, keepdims=True)
                       - xhat * np.mean(g * xhat, axis=axes, keepdims=True))
        dx = dx.astype(x.dtype)
    return dx, dgamma, dbeta


# ---------------------------------------------------------------- dropout and flatten

def dropout(input, p=0.5, training=True, *, rng=None, return_mask=False):
    """Zeroes each element with probability p and scales the rest by 1 / (1 − p) when training
    (inverted dropout, as torch); the identity otherwise. `rng` is a numpy Generator or an int
    seed. return_mask=True also returns the scaled mask dropout_backward takes.

    >>> import numpy as np
    >>> y = dropout(np.ones(10000, np.float32), 0.25, rng=0)
    >>> sorted(set(y.tolist())), abs(float(y.mean()) - 1) < 0.05
    ([0.0, 1.3333333730697632], True)
    """
    x = _array(input, "input", "dropout")
    if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p!r}")
    if not training or p == 0:
        return (x, None) if return_mask else x
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if p == 1:
        mask = np.zeros_like(x)
    else:
        mask = (generator.random(x.shape, dtype=x.dtype) >= p).astype(x.dtype)
        mask *= x.dtype.type(1 / (1 - p))
    y = x * mask
    return (y, mask) if return_mask else y


def dropout_backward(grad_output, mask):
    """grad_output · mask (None: the identity, as in eval mode)."""
    grad_output = _array(grad_output, "grad_output", "dropout_backward")
    return grad_output if mask is None else grad_output * mask


def flatten(input, start_dim=1, end_dim=-1):
    """The dimensions start_dim..end_dim merged into one (a view when possible), as torch.flatten.

    >>> import numpy as np
    >>> flatten(np.zeros((2, 3, 4, 5))).shape
    (2, 60)
    """
    if not isinstance(input, np.ndarray):
        raise TypeError(f"flatten: input must be a numpy.ndarray, got {type(input).__name__}")
    ndim = max(input.ndim, 1)
    start, end = start_dim % ndim, end_dim % ndim
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for "
                         f"shape {input.shape}")
    shape = input.shape
    return input.reshape(shape[:start] + (-1 if 0 not in shape else int(np.prod(shape[start:end + 1])),)
                         + shape[end + 1:])
