"""Activations, the Linear layer's forward and backward, and losses, as functions on arrays.

For people with their own training loops. Every function takes float32 or float64 arrays, keeps
the dtype, checks its arguments before any C runs (ValueError/TypeError naming the argument and
the shapes), and does the work in one C call with the GIL released.

NaN and Inf propagate: a NaN in an input gives NaN in the outputs it reaches (a loss, a gradient,
a softmax row) rather than an error; an infinite logit gives a NaN cross-entropy, as in PyTorch.
Finite logits of any size are safe: softmax, log-softmax and cross-entropy subtract each row's
maximum first, and the sums behind losses and bias gradients accumulate in double. Kernels
flush denormals to zero (inputs and results) while they run, and restore the caller's state.

The losses follow PyTorch's definitions and reductions: "mean" (over samples for cross_entropy
and hinge_loss, over elements for mse_loss and binary_cross_entropy_with_logits; an empty batch
is a ValueError), "sum", and "none" (the per-sample losses, whose gradient with return_grad=True
is that of their sum). A real-valued target is converted to the prediction's dtype.
"""
import math
import operator

import numpy as np

from . import _core

FLOAT_DTYPES = (np.float32, np.float64)
ACTIVATIONS = _core.ACTIVATIONS  # name -> code of csrc/activation_math.h
_IDENTITY = ACTIVATIONS["identity"]
# The GELU forms differentiate from their input; the others from their output.
_DERIVATIVE_FROM_INPUT = frozenset((ACTIVATIONS["gelu"], ACTIVATIONS["gelu_tanh"]))
_GELU_CODES = {"none": ACTIVATIONS["gelu"], "tanh": ACTIVATIONS["gelu_tanh"]}
REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------- validation helpers

def _float_array(x, name, caller):
    """`x` as a float32/float64 ndarray, or a TypeError naming `name`."""
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype.type not in FLOAT_DTYPES:
        raise TypeError(f"{caller}: {name} must be float32 or float64, got {x.dtype}")
    if not x.flags.aligned:
        x = x.copy()  # the kernels read floats through float pointers: they need aligned data
    return x


def _matrix(x, name, caller):
    x = _float_array(x, name, caller)
    if x.ndim != 2:
        raise ValueError(f"{caller}: {name} must be 2-D, got {x.ndim}-D with shape {x.shape}")
    return x


def _like(x, reference, name, reference_name, caller):
    """`x` as an array of `reference`'s shape and dtype, or a clear error."""
    x = _float_array(x, name, caller)
    if x.shape != reference.shape:
        raise ValueError(f"{caller}: {name} has shape {x.shape}, but {reference_name} has shape "
                         f"{reference.shape}")
    if x.dtype != reference.dtype:
        raise TypeError(f"{caller}: {name} has dtype {x.dtype}, but {reference_name} has dtype "
                        f"{reference.dtype}")
    return x


def _activation_code(name, caller):
    if name is None:
        return _IDENTITY
    code = ACTIVATIONS.get(name) if isinstance(name, str) else None
    if code is None:
        raise ValueError(f"{caller}: unknown activation {name!r}; expected None or one of "
                         f"{sorted(ACTIVATIONS)}")
    return code


def _unit_column_stride(x):
    """x itself when its rows are contiguous (what the GEMM and row kernels need), else a copy."""
    return x if x.strides[1] == x.itemsize or x.size == 0 else np.ascontiguousarray(x)


def _kernel_rows(x):
    """x itself when the row kernels can read it (contiguous rows, aligned), else a copy."""
    if (x.strides[1] == x.itemsize or x.size == 0) and x.flags.aligned:
        return x
    return np.array(x, order="C")


def _check_output(out, shape, dtype, inputs, name, caller):
    """`out` must be a writeable array of `shape` and `dtype` with contiguous rows, sharing no
    memory with the arrays in the dict `inputs`. On the hot path of training: one cheap test,
    the detailed ones only to explain a failure."""
    if not (type(out) is np.ndarray and out.shape == shape and out.dtype == dtype
            and out.flags.writeable and out.flags.aligned
            and (out.strides[-1] == out.itemsize or out.size == 0)
            and out.strides[0] % out.itemsize == 0):
        _explain_bad_output(out, shape, dtype, name, caller)
    overlap = _core.first_overlap(out, *inputs.values())
    if overlap >= 0:
        raise ValueError(f"{caller}: {name} overlaps {list(inputs)[overlap]}; pass a separate array")


def _explain_bad_output(out, shape, dtype, name, caller):
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{caller}: {name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"{caller}: {name} has shape {out.shape}, expected {shape}")
    if out.dtype != dtype:
        raise TypeError(f"{caller}: {name} has dtype {out.dtype}, expected {dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{caller}: {name} is read-only")
    if not out.flags.aligned:
        raise ValueError(f"{caller}: {name}'s data is not aligned to its dtype")
    raise ValueError(f"{caller}: {name} needs contiguous rows, got strides {out.strides}")


# ---------------------------------------------------------------- activations

def _apply(x, code, caller):
    x = _float_array(x, "x", caller)
    if x.flags.c_contiguous:
        return _core.activation_forward(code, x, np.empty_like(x))
    y = np.array(x, order="C")  # the copy is the output: the kernel runs in place on it
    return _core.activation_forward(code, y, y)


def identity(x):
    """x, as a new array.

    >>> import numpy as np, fastnn.functional as F
    >>> F.identity(np.array([-1.0, 2.0]))
    array([-1.,  2.])
    """
    return _apply(x, _IDENTITY, "identity")


def relu(x):
    """max(x, 0) elementwise (NaN stays NaN).

    >>> import numpy as np, fastnn.functional as F
    >>> F.relu(np.array([-1.0, 0.5], dtype=np.float32))
    array([0. , 0.5], dtype=float32)
    """
    return _apply(x, ACTIVATIONS["relu"], "relu")


def tanh(x):
    """tanh(x) elementwise.

    >>> import numpy as np, fastnn.functional as F
    >>> F.tanh(np.array([0.0]))
    array([0.])
    """
    return _apply(x, ACTIVATIONS["tanh"], "tanh")


def sigmoid(x):
    """1 / (1 + exp(-x)) elementwise, computed so that it never overflows.

    >>> import numpy as np, fastnn.functional as F
    >>> F.sigmoid(np.array([0.0, -1000.0]))
    array([0.5, 0. ])
    """
    return _apply(x, ACTIVATIONS["sigmoid"], "sigmoid")


def gelu(x, approximate="none"):
    """GELU as PyTorch defines it: x·Φ(x) with the erf (approximate="none"), or the tanh form
    0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (approximate="tanh").

    >>> import numpy as np, fastnn.functional as F
    >>> F.gelu(np.array([0.0, 1.0])).round(4)
    array([0.    , 0.8413])
    """
    code = _GELU_CODES.get(approximate)
    if code is None:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _apply(x, code, "gelu")


def activation(x, name):
    """The activation called `name` ("identity", "relu", "tanh", "sigmoid", "gelu", "gelu_tanh";
    None means identity), applied elementwise.

    >>> import numpy as np, fastnn.functional as F
    >>> F.activation(np.array([-2.0, 3.0]), "relu")
    array([0., 3.])
    """
    return _apply(x, _activation_code(name, "activation"), "activation")


def activation_backward(name, grad_output, *, output=None, input=None):
    """The gradient with respect to the activation's input: grad_output ⊙ act'.

    ReLU, tanh and sigmoid differentiate from their forward `output`; the GELU forms from their
    forward `input`; identity needs neither.

    >>> import numpy as np, fastnn.functional as F
    >>> y = F.sigmoid(np.array([0.0]))
    >>> F.activation_backward("sigmoid", np.array([1.0]), output=y)
    array([0.25])
    """
    caller = "activation_backward"
    code = _activation_code(name, caller)
    grad_output = _float_array(grad_output, "grad_output", caller)
    if code == _IDENTITY:
        return np.array(grad_output, order="C")
    from_input = code in _DERIVATIVE_FROM_INPUT
    saved_name = "input" if from_input else "output"
    saved = input if from_input else output
    if saved is None:
        raise ValueError(f"{caller}: the derivative of {name!r} needs {saved_name}=")
    saved = np.asarray(_like(saved, grad_output, saved_name, "grad_output", caller), order="C")
    grad_output = np.asarray(grad_output, order="C")
    return _core.activation_backward(code, grad_output, saved, np.empty_like(grad_output))


# ---------------------------------------------------------------- softmax

def _rows_along(x, dim, caller):
    """x with axis `dim` moved last, as contiguous (rows, size of dim), and the moved shape."""
    if x.ndim == 0:
        raise ValueError(f"{caller}: x must have at least one dimension, got a 0-D array")
    try:
        dim = operator.index(dim)
    except TypeError:
        raise TypeError(f"{caller}: dim must be an int, got {type(dim).__name__}") from None
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"{caller}: dim {dim} is out of range for shape {x.shape}")
    moved = np.moveaxis(x, dim, -1)
    rows = math.prod(moved.shape[:-1])  # explicit: reshape(-1, 0) is ambiguous for an empty axis
    return np.ascontiguousarray(moved).reshape(rows, x.shape[dim]), moved.shape, dim


def _softmax(x, dim, take_log, caller):
    x = _float_array(x, "x", caller)
    rows, moved_shape, dim = _rows_along(x, dim, caller)
    y = _core.softmax(rows, np.empty_like(rows), take_log)
    return np.moveaxis(y.reshape(moved_shape), -1, dim)


def softmax(x, dim=-1):
    """exp(x) / Σ exp(x) along `dim`, with the maximum subtracted first so it never overflows.

    >>> import numpy as np, fastnn.functional as F
    >>> F.softmax(np.array([[0.0, 0.0], [1000.0, 1000.0]]))
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """
    return _softmax(x, dim, False, "softmax")


def log_softmax(x, dim=-1):
    """x − logsumexp(x) along `dim`, stable for logits of any finite size.

    >>> import numpy as np, fastnn.functional as F
    >>> F.log_softmax(np.array([0.0, 0.0])).round(4)
    array([-0.6931, -0.6931])
    """
    return _softmax(x, dim, True, "log_softmax")


def _softmax_backward(grad_output, output, dim, take_log, caller):
    grad_output = _float_array(grad_output, "grad_output", caller)
    output = _like(output, grad_output, "output", "grad_output", caller)
    grad_rows, moved_shape, dim = _rows_along(grad_output, dim, caller)
    output_rows, _, _ = _rows_along(output, dim, caller)
    grad_input = _core.softmax_backward(grad_rows, output_rows, np.empty_like(grad_rows), take_log)
    return np.moveaxis(grad_input.reshape(moved_shape), -1, dim)


def softmax_backward(grad_output, output, dim=-1):
    """The gradient of softmax with respect to its input, from its `output` y:
    y ⊙ (grad_output − Σ grad_output ⊙ y) along `dim`.

    >>> import numpy as np, fastnn.functional as F
    >>> y = F.softmax(np.array([1.0, 2.0]))
    >>> F.softmax_backward(np.ones(2), y)  # softmax sums to one, so a uniform push does nothing
    array([0., 0.])
    """
    return _softmax_backward(grad_output, output, dim, False, "softmax_backward")


def log_softmax_backward(grad_output, output, dim=-1):
    """The gradient of log_softmax with respect to its input, from its `output` y:
    grad_output − exp(y) · Σ grad_output along `dim`.

    >>> import numpy as np, fastnn.functional as F
    >>> y = F.log_softmax(np.array([0.0, 0.0]))
    >>> F.log_softmax_backward(np.array([1.0, 0.0]), y)
    array([ 0.5, -0.5])
    """
    return _softmax_backward(grad_output, output, dim, True, "log_softmax_backward")


# ---------------------------------------------------------------- linear

def linear(x, weight, bias=None, activation=None, *, out=None, pre_activation_out=None,
           precision="fp32"):
    """y = act(x · weightᵀ + bias), in one GEMM with bias and activation fused into its write-back.

    x is (N, in), weight (out, in) as PyTorch stores it, bias (out,) or None; `activation` is None
    or a name of `ACTIVATIONS`. The result is a new (N, out) array or is written into `out`.
    `pre_activation_out` (N, out), if given, receives x · weightᵀ + bias before the activation:
    the GELU forms need it for `linear_backward`. `precision="bf16"` (float32 only) rounds x and
    weight to bfloat16 inside the product (see `fastnn.matmul`); bias, activation and the result
    stay float32.

    >>> import numpy as np, fastnn.functional as F
    >>> x = np.array([[1.0, -2.0]]); w = np.array([[1.0, 1.0], [0.0, 1.0]])
    >>> F.linear(x, w, np.array([0.5, 0.5]), activation="relu")
    array([[0., 0.]])
    >>> F.linear(x, w, np.array([0.5, 0.5]))
    array([[-0.5, -1.5]])
    """
    caller = "linear"
    code = _activation_code(activation, caller)
    x = _matrix(x, "x", caller)
    bf16 = _core.precision_is_bf16(precision, x.dtype, caller)
    weight = _matrix(weight, "weight", caller)
    if weight.dtype != x.dtype:
        raise TypeError(f"{caller}: weight has dtype {weight.dtype}, but x has dtype {x.dtype}")
    n, in_features = x.shape
    out_features = weight.shape[0]
    if weight.shape[1] != in_features:
        raise ValueError(f"{caller}: x is {x.shape} = (N, in), so weight must be (out, {in_features}), "
                         f"got {weight.shape}")
    if bias is not None:
        bias = _float_array(bias, "bias", caller)
        if bias.shape != (out_features,) or bias.dtype != x.dtype:
            raise ValueError(f"{caller}: bias must be ({out_features},) of dtype {x.dtype} for weight "
                             f"{weight.shape}, got {bias.shape} of dtype {bias.dtype}")
        if not bias.flags.c_contiguous:
            bias = np.ascontiguousarray(bias)
    shape = (n, out_features)
    inputs = {"x": x, "weight": weight, "bias": bias}
    if out is None:
        out = np.empty(shape, dtype=x.dtype)
    else:
        _check_output(out, shape, x.dtype, inputs, "out", caller)
    if pre_activation_out is not None:
        _check_output(pre_activation_out, shape, x.dtype, dict(inputs, out=out),
                      "pre_activation_out", caller)
    return linear_unchecked(x, weight, bias, code, out, pre_activation_out, bf16)


def linear_unchecked(x, weight, bias, code, out=None, pre_activation_out=None, bf16=False):
    """`linear` without its checks, for fastnn's own layers, which hold their parameters in the
    right shapes and dtypes and check their inputs once: x (N, in) aligned, weight (out, in),
    bias (out,) contiguous or None, `code` from ACTIVATIONS; out and pre_activation_out (N, out)
    with contiguous rows, or None. Checking again per call would cost more than a small layer."""
    if out is None:
        out = np.empty((x.shape[0], weight.shape[0]), dtype=x.dtype)
    return _core.gemm(x, weight.T, out, bias=bias, activation=code, pre_activation=pre_activation_out,
                      bf16=bf16)


def linear_backward(grad_output, x, weight, *, activation=None, output=None, pre_activation=None,
                    need_input_grad=True, has_bias=True, weight_grad=None, bias_grad=None,
                    accumulate=True, precision="fp32"):
    """The gradients of y = act(x · weightᵀ + b): returns (dx, dweight, dbias).

    One C pass forms dS = grad_output ⊙ act'(S) and reduces dbias = Σ_rows dS (in double); then
    dweight = dSᵀ · x and dx = dS · weight run on the GEMM with strides, without transposed copies.
    act' comes from the forward `output` (ReLU, tanh, sigmoid) or `pre_activation` (the GELU forms,
    see `linear(..., pre_activation_out=)`); identity (activation=None) needs neither.

    With `weight_grad` (out, in) and/or `bias_grad` (out,) given, the gradients are added into
    them, as PyTorch accumulates into .grad, and those arrays are returned; with
    `accumulate=False` they are overwritten instead (what a first backward after zeroing needs,
    without reading the zeros). dx is None when
    `need_input_grad` is False (a first layer), dbias None when `has_bias` is False.
    `precision="bf16"` (float32 only) runs both products on bf16-rounded operands (dS, x and
    weight), as torch's autocast does; dS, dbias and the gradients themselves stay float32.

    >>> import numpy as np, fastnn.functional as F
    >>> x = np.array([[1.0, 2.0]]); w = np.array([[3.0, 4.0]])
    >>> y = F.linear(x, w, np.zeros(1), activation="relu")
    >>> dx, dw, db = F.linear_backward(np.ones((1, 1)), x, w, activation="relu", output=y)
    >>> dx, dw, db
    (array([[3., 4.]]), array([[1., 2.]]), array([1.]))
    """
    caller = "linear_backward"
    code = _activation_code(activation, caller)
    x = _matrix(x, "x", caller)
    weight = _matrix(weight, "weight", caller)
    grad_output = _matrix(grad_output, "grad_output", caller)
    dtype = x.dtype
    bf16 = _core.precision_is_bf16(precision, dtype, caller)
    if weight.dtype != dtype or grad_output.dtype != dtype:
        raise TypeError(f"{caller}: x, weight and grad_output must share a dtype, got {dtype}, "
                        f"{weight.dtype} and {grad_output.dtype}")
    (n, in_features), (out_features, weight_in) = x.shape, weight.shape
    if weight_in != in_features or grad_output.shape != (n, out_features):
        raise ValueError(f"{caller}: x {x.shape} = (N, in) and weight {weight.shape} = (out, in) "
                         f"need grad_output (N, out) = {(n, out_features)}, got {grad_output.shape}")
    grad_output = _unit_column_stride(grad_output)

    saved = None
    if code != _IDENTITY:
        from_input = code in _DERIVATIVE_FROM_INPUT
        saved = pre_activation if from_input else output
        if saved is None:
            raise ValueError(f"{caller}: the derivative of {activation!r} needs "
                             f"{'pre_activation' if from_input else 'output'}=")
        if not isinstance(saved, np.ndarray) or saved.shape != grad_output.shape or saved.dtype != dtype:
            raise ValueError(f"{caller}: {'pre_activation' if from_input else 'output'} must be "
                             f"{grad_output.shape} of dtype {dtype}, got "
                             f"{getattr(saved, 'shape', type(saved).__name__)}")
    if bias_grad is not None and has_bias:
        _check_output(bias_grad, (out_features,), dtype, {}, "bias_grad", caller)
    if weight_grad is not None:
        _check_output(weight_grad, (out_features, in_features), dtype,
                      {"x": x, "weight": weight, "grad_output": grad_output}, "weight_grad", caller)
    return linear_backward_unchecked(grad_output, x, weight, code, saved, need_input_grad, has_bias,
                                     weight_grad, bias_grad, accumulate, bf16)


def linear_backward_unchecked(grad_output, x, weight, code, saved, need_input_grad=True,
                              has_bias=True, weight_grad=None, bias_grad=None, accumulate=True,
                              bf16=False):
    """`linear_backward` without its checks, for fastnn's own layers (see `linear_unchecked`):
    `saved` is the forward output, or the pre-activation for the GELU forms, or None for the
    identity. grad_output and saved are made row-contiguous and aligned here, as they may come
    from anywhere."""
    grad_output = _kernel_rows(grad_output)
    dtype = x.dtype
    (n, in_features), out_features = x.shape, weight.shape[0]
    if code == _IDENTITY:
        delta = None
    else:
        saved = _kernel_rows(saved)
        delta = np.empty(grad_output.shape, dtype=dtype)
    if not has_bias:
        db = None
    elif bias_grad is not None:
        db = bias_grad
    else:
        db = np.empty(out_features, dtype=dtype)
    if delta is not None or db is not None:
        _core.delta_and_bias_grad(code, grad_output, saved, delta, db, bias_grad is not None and accumulate)
    if delta is None:
        delta = grad_output

    if weight_grad is None:
        dw = _core.gemm(delta.T, x, np.empty((out_features, in_features), dtype=dtype), bf16=bf16)
    else:
        dw = _core.gemm(delta.T, x, weight_grad, beta=1.0 if accumulate else 0.0, bf16=bf16)
    dx = (_core.gemm(delta, weight, np.empty((n, in_features), dtype=dtype), bf16=bf16)
          if need_input_grad else None)
    return dx, dw, db


# ---------------------------------------------------------------- losses

def _grad_scale(reduction, count, caller):
    """What each sample's gradient is multiplied by under `reduction` over `count` samples."""
    if reduction == "mean":
        if count == 0:
            raise ValueError(f"{caller}: reduction='mean' over an empty batch is undefined")
        return 1.0 / count
    if reduction in ("sum", "none"):
        return 1.0
    raise ValueError(f"{caller}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _loss(kernel, prediction, operands, reduction, count, losses_shape, return_grad, caller):
    """Runs a fused loss kernel and shapes its result: the reduced float (or the per-sample array
    for reduction="none"), with the gradient beside it when `return_grad`."""
    scale = _grad_scale(reduction, count, caller)
    grad = np.empty(prediction.shape, dtype=prediction.dtype) if return_grad else None
    losses = np.empty(losses_shape, dtype=prediction.dtype) if reduction == "none" else None
    total = kernel(*operands, grad, scale, losses)
    value = losses if reduction == "none" else float(total * scale)
    return (value, grad) if return_grad else value


def _float_target(target, prediction, caller):
    """A real-valued target of the prediction's shape, in its dtype, contiguous."""
    target = np.asarray(target)
    if target.dtype.kind not in "fiub":
        raise TypeError(f"{caller}: target must be numeric, got {target.dtype}")
    if target.shape != prediction.shape:
        raise ValueError(f"{caller}: target has shape {target.shape}, but the prediction has shape "
                         f"{prediction.shape}")
    return np.require(target, prediction.dtype, ("C_CONTIGUOUS", "ALIGNED"))


def _class_target(target, n, caller):
    """(n,) integer class indices as contiguous int64 (the range is checked in C)."""
    target = np.asarray(target)
    if target.dtype.kind not in "iu":
        raise TypeError(f"{caller}: class indices must be integers, got {target.dtype}")
    if target.shape != (n,):
        raise ValueError(f"{caller}: class-index target must have shape ({n},), got {target.shape}")
    return np.require(target, np.int64, ("C_CONTIGUOUS", "ALIGNED"))


def mse_loss(input, target, reduction="mean", *, return_grad=False):
    """Mean (or sum) of (input − target)² over all elements, as torch.nn.functional.mse_loss.

    Returns a float (the per-element array for reduction="none"), or (loss, gradient with
    respect to input) with return_grad=True.

    >>> import numpy as np, fastnn.functional as F
    >>> F.mse_loss(np.array([1.0, 3.0]), np.array([0.0, 0.0]))
    5.0
    """
    caller = "mse_loss"
    input = np.asarray(_float_array(input, "input", caller), order="C")
    target = _float_target(target, input, caller)
    return _loss(_core.mse_loss, input, (input, target), reduction, input.size, input.shape,
                 return_grad, caller)


def binary_cross_entropy_with_logits(logits, target, reduction="mean", *, return_grad=False):
    """−[t·log σ(x) + (1 − t)·log(1 − σ(x))] over all elements, computed in the stable form
    max(x, 0) − x·t + log(1 + exp(−|x|)), as torch.nn.functional.binary_cross_entropy_with_logits.

    >>> import numpy as np, fastnn.functional as F
    >>> round(F.binary_cross_entropy_with_logits(np.array([0.0]), np.array([1.0])), 4)
    0.6931
    """
    caller = "binary_cross_entropy_with_logits"
    logits = np.asarray(_float_array(logits, "logits", caller), order="C")
    target = _float_target(target, logits, caller)
    return _loss(_core.bce_with_logits, logits, (logits, target), reduction, logits.size,
                 logits.shape, return_grad, caller)


def cross_entropy(logits, target, reduction="mean", *, return_grad=False):
    """Softmax cross-entropy from logits (N, C), as torch.nn.functional.cross_entropy.

    `target` is either integer class indices (N,), each in [0, C) (else ValueError), or float
    class probabilities (N, C). The log-sum-exp is fused and max-shifted, so no finite logit
    overflows. Returns a float, (N,) losses for reduction="none", or (loss, dL/dlogits).

    >>> import numpy as np, fastnn.functional as F
    >>> loss, grad = F.cross_entropy(np.array([[1e4, -1e4]]), np.array([1]), return_grad=True)
    >>> loss, grad
    (20000.0, array([[ 1., -1.]]))
    """
    caller = "cross_entropy"
    logits = _matrix(logits, "logits", caller)
    n, classes = logits.shape
    if classes == 0:
        raise ValueError(f"{caller}: logits {logits.shape} have no classes")
    logits = np.asarray(logits, order="C")
    target = np.asarray(target)
    if target.dtype.kind in "iu":
        kernel, target = _core.cross_entropy_class, _class_target(target, n, caller)
    elif target.dtype.kind == "f":
        kernel, target = _core.cross_entropy_probs, _float_target(target, logits, caller)
    else:
        raise TypeError(f"{caller}: target must be integer class indices or float probabilities, "
                        f"got {target.dtype}")
    return _loss(kernel, logits, (logits, target), reduction, n, (n,), return_grad, caller)


def hinge_loss(scores, target, reduction="mean", *, margin=1.0, return_grad=False):
    """The SVM hinge loss.

    Binary, when `scores` is (N,) or (N, 1): max(0, margin − y·f) with y ∈ {−1, 1} (else
    ValueError). Multi-class, when `scores` is (N, C) and `target` integer class indices (N,):
    Σ_{j≠y} max(0, margin − s_y + s_j) / C per sample, as torch.nn.MultiMarginLoss(p=1).
    Returns a float, (N,) losses for reduction="none", or (loss, dL/dscores).

    >>> import numpy as np, fastnn.functional as F
    >>> F.hinge_loss(np.array([2.0, 0.5]), np.array([1, 1]))
    0.25
    >>> F.hinge_loss(np.array([[0.0, 1.0]]), np.array([0]))
    1.0
    """
    caller = "hinge_loss"
    scores = _float_array(scores, "scores", caller)
    margin = float(margin)
    if scores.ndim == 1 or (scores.ndim == 2 and scores.shape[1] == 1):
        n = scores.shape[0]
        scores = np.asarray(scores, order="C")
        target = np.asarray(target)
        if target.shape == (n,) and scores.ndim == 2:
            target = target.reshape(n, 1)
        target = _float_target(target, scores, caller)
        return _loss(_core.hinge_loss, scores, (scores, target, margin), reduction, n, (n,),
                     return_grad, caller)
    if scores.ndim != 2:
        raise ValueError(f"{caller}: scores must be (N,), (N, 1) or (N, C), got shape {scores.shape}")
    n = scores.shape[0]
    scores = np.asarray(scores, order="C")
    target = _class_target(target, n, caller)
    return _loss(_core.multi_margin_loss, scores, (scores, target, margin), reduction, n, (n,),
                 return_grad, caller)


__all__ = [
    "ACTIVATIONS", "identity", "relu", "tanh", "sigmoid", "gelu", "activation",
    "activation_backward", "softmax", "log_softmax", "softmax_backward", "log_softmax_backward",
    "linear", "linear_backward", "mse_loss", "cross_entropy", "binary_cross_entropy_with_logits",
    "hinge_loss",
]

from .functional_conv import *  # noqa: E402,F401,F403  (convolution, pooling, normalisation)
