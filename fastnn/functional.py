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
# The activation table (csrc/activation_table.h) as C compiled it: name -> code, and per name its
# row (code, whether the derivative reads the input, the parameters and their defaults).
ACTIVATIONS = _core.ACTIVATIONS
ACTIVATION_TABLE = {row["name"]: row for row in _core.ACTIVATION_TABLE}
_IDENTITY = ACTIVATIONS["identity"]
_DERIVATIVE_FROM_INPUT = frozenset(row["code"] for row in _core.ACTIVATION_TABLE
                                   if row["derivative_from_input"])
_GELU_CODES = {"none": ACTIVATIONS["gelu"], "tanh": ACTIVATIONS["gelu_tanh"]}
REDUCTIONS = ("mean", "sum", "none")
# The loss table (csrc/loss_table.h) as C compiled it: name -> row (code, kind, parameters).
LOSS_TABLE = {row["name"]: row for row in _core.LOSS_TABLE}


class ActivationSpec(tuple):
    """An activation of the table with its parameters: `name`, `params` (name -> value),
    `code`, `derivative_from_input`, and `kernel`, what the C kernels take (the code, or
    (code, a, b) with parameters). Made by `activation_spec`; hashable and comparable."""

    __slots__ = ()
    name = property(lambda self: self[0])
    params = property(lambda self: dict(self[1]))
    code = property(lambda self: ACTIVATIONS[self[0]])
    derivative_from_input = property(lambda self: self.code in _DERIVATIVE_FROM_INPUT)

    @property
    def kernel(self):
        values = [value for _, value in self[1]]
        return (self.code, *values, *[0.0] * (2 - len(values))) if values else self.code

    def __repr__(self):
        args = "".join(f", {k}={v!r}" for k, v in self[1])
        return f"activation_spec({self[0]!r}{args})"


def activation_spec(name, caller="activation_spec", **params):
    """The ActivationSpec for `name` (a name of ACTIVATIONS, None for identity, or a spec) with
    the given parameters (the table's defaults for those not given). The activations whose
    derivative is taken from their output need parameters >= 0 (a negative LeakyReLU slope or ELU
    alpha would make the output ambiguous about the input's sign).

    >>> import fastnn.functional as F
    >>> F.activation_spec("leaky_relu", negative_slope=0.2).kernel
    (6, 0.2, 0.0)
    """
    if isinstance(name, ActivationSpec):
        if not params:
            return name
        params = dict(name.params, **params)
        name = name.name
    if name is None:
        name = "identity"
    row = ACTIVATION_TABLE.get(name) if isinstance(name, str) else None
    if row is None:
        raise ValueError(f"{caller}: unknown activation {name!r}; expected None or one of "
                         f"{sorted(ACTIVATIONS)}")
    defaults = dict(row["params"])
    unknown = set(params) - set(defaults)
    if unknown:
        raise TypeError(f"{caller}: {name!r} takes no parameter {sorted(unknown)[0]!r}; its "
                        f"parameters are {list(defaults) or 'none'}")
    values = []
    for key, default in row["params"]:
        value = params.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{caller}: {key} must be a real number, got {type(value).__name__}")
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"{caller}: {key} must be finite, got {value}")
        if not row["derivative_from_input"] and value < 0:
            raise ValueError(f"{caller}: {key} must be >= 0 ({name}'s derivative is taken from its "
                             f"output), got {value}")
        values.append((key, value))
    return ActivationSpec((name, tuple(values)))


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


def _activation_code(name, caller, params=None):
    """What the kernels take for activation `name` (None, a name or an ActivationSpec)."""
    if name is None:
        return _IDENTITY
    return activation_spec(name, caller, **(params or {})).kernel


def _kernel_code(kernel):
    return kernel[0] if type(kernel) is tuple else kernel


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


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else negative_slope·x (negative_slope >= 0), as torch.

    >>> import numpy as np, fastnn.functional as F
    >>> F.leaky_relu(np.array([-2.0, 3.0]), 0.1)
    array([-0.2,  3. ])
    """
    return _apply(x, activation_spec("leaky_relu", "leaky_relu", negative_slope=negative_slope).kernel,
                  "leaky_relu")


def elu(x, alpha=1.0):
    """x where x > 0, else alpha·(exp(x) − 1) (alpha >= 0), as torch.

    >>> import numpy as np, fastnn.functional as F
    >>> F.elu(np.array([-1.0, 2.0])).round(4)
    array([-0.6321,  2.    ])
    """
    return _apply(x, activation_spec("elu", "elu", alpha=alpha).kernel, "elu")


def silu(x):
    """x·σ(x) (also called swish), as torch.

    >>> import numpy as np, fastnn.functional as F
    >>> F.silu(np.array([0.0, 1.0])).round(4)
    array([0.    , 0.7311])
    """
    return _apply(x, ACTIVATIONS["silu"], "silu")


def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta·x)) / beta, or x where beta·x > threshold, as torch; never overflows.

    >>> import numpy as np, fastnn.functional as F
    >>> F.softplus(np.array([0.0, 100.0])).round(4)
    array([  0.6931, 100.    ])
    """
    return _apply(x, activation_spec("softplus", "softplus", beta=beta, threshold=threshold).kernel,
                  "softplus")


def activation(x, name, **params):
    """The activation called `name` (a name of ACTIVATIONS, or an ActivationSpec; None means
    identity) with its parameters, applied elementwise.

    >>> import numpy as np, fastnn.functional as F
    >>> F.activation(np.array([-2.0, 3.0]), "relu")
    array([0., 3.])
    >>> F.activation(np.array([-2.0, 3.0]), "leaky_relu", negative_slope=0.5)
    array([-1.,  3.])
    """
    return _apply(x, _activation_code(name, "activation", params), "activation")


def activation_backward(name, grad_output, *, output=None, input=None, **params):
    """The gradient with respect to the activation's input: grad_output ⊙ act'.

    Each activation differentiates from its forward `output` or its forward `input`, as the
    activation table says (ACTIVATION_TABLE[name]["derivative_from_input"]): ReLU, tanh,
    sigmoid, LeakyReLU and ELU from the output, the GELU forms, SiLU and Softplus from the
    input; identity needs neither.

    >>> import numpy as np, fastnn.functional as F
    >>> y = F.sigmoid(np.array([0.0]))
    >>> F.activation_backward("sigmoid", np.array([1.0]), output=y)
    array([0.25])
    """
    caller = "activation_backward"
    code = _activation_code(name, caller, params)
    grad_output = _float_array(grad_output, "grad_output", caller)
    if code == _IDENTITY:
        return np.array(grad_output, order="C")
    from_input = _kernel_code(code) in _DERIVATIVE_FROM_INPUT
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
           activation_params=None, precision="fp32"):
    """y = act(x · weightᵀ + bias), in one GEMM with bias and activation fused into its write-back.

    x is (N, in), weight (out, in) as PyTorch stores it, bias (out,) or None; `activation` is None
    or a name of `ACTIVATIONS` (or an ActivationSpec), its parameters in the dict
    `activation_params`. The result is a new (N, out) array or is written into `out`.
    `pre_activation_out` (N, out), if given, receives x · weightᵀ + bias before the activation:
    the activations whose derivative reads the input need it for `linear_backward`.
    `precision="bf16"` (float32 only) rounds x and weight to bfloat16 inside the product (see
    `fastnn.matmul`); bias, activation and the result stay float32.

    >>> import numpy as np, fastnn.functional as F
    >>> x = np.array([[1.0, -2.0]]); w = np.array([[1.0, 1.0], [0.0, 1.0]])
    >>> F.linear(x, w, np.array([0.5, 0.5]), activation="relu")
    array([[0., 0.]])
    >>> F.linear(x, w, np.array([0.5, 0.5]))
    array([[-0.5, -1.5]])
    """
    caller = "linear"
    code = _activation_code(activation, caller, activation_params)
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
                    accumulate=True, activation_params=None, precision="fp32"):
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
    code = _activation_code(activation, caller, activation_params)
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
        from_input = _kernel_code(code) in _DERIVATIVE_FROM_INPUT
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
                              bf16=False, weight_step=None):
    """`linear_backward` without its checks, for fastnn's own layers (see `linear_unchecked`):
    `saved` is the forward output, or the pre-activation for the GELU forms, or None for the
    identity. grad_output and saved are made row-contiguous and aligned here, as they may come
    from anywhere. With `weight_step(delta, x, weight_grad, accumulate)` (an optimizer inside
    backward, nn/fused_backward.py) the weight is stepped in place of forming dW, after dx has
    read it; dw is then None."""
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

    dx = (_core.gemm(delta, weight, np.empty((n, in_features), dtype=dtype), bf16=bf16)
          if need_input_grad else None)
    if weight_step is not None:
        weight_step(delta, x, weight_grad, accumulate)
        dw = None
    elif weight_grad is None:
        dw = _core.gemm(delta.T, x, np.empty((out_features, in_features), dtype=dtype), bf16=bf16)
    else:
        dw = _core.gemm(delta.T, x, weight_grad, beta=1.0 if accumulate else 0.0, bf16=bf16)
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


def _elementwise(name, caller, input, target, reduction, return_grad, param=0.0,
                 input_name="input"):
    """An elementwise loss of the table over all elements of input against a target of its shape;
    `caller` is the public function's name, for the errors."""
    input = np.asarray(_float_array(input, input_name, caller), order="C")
    target = _float_target(target, input, caller)
    code = LOSS_TABLE[name]["code"]
    kernel = lambda *operands: _core.elementwise_loss(code, param, *operands)  # noqa: E731
    return _loss(kernel, input, (input, target), reduction, input.size, input.shape, return_grad,
                 caller)


def _positive(value, name, caller):
    value = float(value)
    if not value > 0 or not np.isfinite(value):
        raise ValueError(f"{caller}: {name} must be a positive finite number, got {value}")
    return value


def mse_loss(input, target, reduction="mean", *, return_grad=False):
    """Mean (or sum) of (input − target)² over all elements, as torch.nn.functional.mse_loss.

    Returns a float (the per-element array for reduction="none"), or (loss, gradient with
    respect to input) with return_grad=True.

    >>> import numpy as np, fastnn.functional as F
    >>> F.mse_loss(np.array([1.0, 3.0]), np.array([0.0, 0.0]))
    5.0
    """
    return _elementwise("mse", "mse_loss", input, target, reduction, return_grad)


def l1_loss(input, target, reduction="mean", *, return_grad=False):
    """Mean (or sum) of |input − target| over all elements, as torch.nn.functional.l1_loss (its
    gradient at 0 is 0).

    >>> import numpy as np, fastnn.functional as F
    >>> F.l1_loss(np.array([1.0, -3.0]), np.array([0.0, 0.0]))
    2.0
    """
    return _elementwise("l1", "l1_loss", input, target, reduction, return_grad)


def huber_loss(input, target, reduction="mean", delta=1.0, *, return_grad=False):
    """0.5·d² where |d| < delta, else delta·(|d| − 0.5·delta), with d = input − target, as
    torch.nn.functional.huber_loss.

    >>> import numpy as np, fastnn.functional as F
    >>> F.huber_loss(np.array([0.5, 3.0]), np.array([0.0, 0.0]), reduction="none")
    array([0.125, 2.5  ])
    """
    return _elementwise("huber", "huber_loss", input, target, reduction, return_grad,
                        _positive(delta, "delta", "huber_loss"))


def binary_cross_entropy_with_logits(logits, target, reduction="mean", *, return_grad=False):
    """−[t·log σ(x) + (1 − t)·log(1 − σ(x))] over all elements, computed in the stable form
    max(x, 0) − x·t + log(1 + exp(−|x|)), as torch.nn.functional.binary_cross_entropy_with_logits.

    >>> import numpy as np, fastnn.functional as F
    >>> round(F.binary_cross_entropy_with_logits(np.array([0.0]), np.array([1.0])), 4)
    0.6931
    """
    return _elementwise("bce_with_logits", "binary_cross_entropy_with_logits", logits, target,
                        reduction, return_grad,
                        input_name="logits")


def binary_cross_entropy(input, target, reduction="mean", *, return_grad=False):
    """−[t·log p + (1 − t)·log(1 − p)] over probabilities p in [0, 1] (else ValueError), each
    log clamped at −100, as torch.nn.functional.binary_cross_entropy; the gradient is torch's
    (p − t) / max(p·(1 − p), 1e−12). Prefer binary_cross_entropy_with_logits on logits.

    >>> import numpy as np, fastnn.functional as F
    >>> round(F.binary_cross_entropy(np.array([0.5]), np.array([1.0])), 4)
    0.6931
    >>> F.binary_cross_entropy(np.array([0.0]), np.array([1.0]))  # log 0 clamped
    100.0
    """
    caller = "binary_cross_entropy"
    p = _float_array(input, "input", caller)
    outside = ~((p >= 0) & (p <= 1))
    if outside.any():
        raise ValueError(f"{caller}: input must hold probabilities in [0, 1], got "
                         f"{p[outside].flat[0]} (pass logits to binary_cross_entropy_with_logits)")
    return _elementwise("bce", caller, p, target, reduction, return_grad)


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
    logits = _class_scores(logits, "logits", caller)
    n = logits.shape[0]
    target = np.asarray(target)
    if target.dtype.kind in "iu":
        kernel, target = _class_kernel("cross_entropy", caller), _class_target(target, n, caller)
    elif target.dtype.kind == "f":
        if target.ndim == 1:  # torch refuses these too: a float target must be probabilities
            raise TypeError(f"{caller}: target is float with shape {target.shape}: class labels must "
                            f"be integer class indices (e.g. target.astype(np.int64)); a float target "
                            f"must be class probabilities of the logits' shape {logits.shape}")
        kernel, target = _core.cross_entropy_probs, _float_target(target, logits, caller)
    else:
        raise TypeError(f"{caller}: target must be integer class indices or float probabilities, "
                        f"got {target.dtype}")
    return _loss(kernel, logits, (logits, target), reduction, n, (n,), return_grad, caller)


def _class_scores(scores, name, caller):
    """Scores (N, C) with C >= 1, contiguous."""
    scores = _matrix(scores, name, caller)
    if scores.shape[1] == 0:
        raise ValueError(f"{caller}: {name} {scores.shape} have no classes")
    return np.asarray(scores, order="C")


def _class_kernel(name, caller, param=0.0):
    code = LOSS_TABLE[name]["code"]
    return lambda *operands: _core.class_loss(code, param, *operands, caller)


def nll_loss(input, target, reduction="mean", *, return_grad=False):
    """−input[i, target_i] averaged over samples, for log-probabilities input (N, C) (a
    log_softmax output) and integer class indices target (N,), as torch.nn.functional.nll_loss.

    >>> import numpy as np, fastnn.functional as F
    >>> round(F.nll_loss(np.log(np.array([[0.5, 0.5], [0.25, 0.75]])), np.array([0, 1])), 4)
    0.4904
    """
    caller = "nll_loss"
    input = _class_scores(input, "input", caller)
    n = input.shape[0]
    target = _class_target(target, n, caller)
    return _loss(_class_kernel("nll", caller), input, (input, target), reduction, n, (n,),
                 return_grad, caller)


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
        code = LOSS_TABLE["hinge"]["code"]
        kernel = lambda *operands: _core.elementwise_loss(code, margin, *operands)  # noqa: E731
        return _loss(kernel, scores, (scores, target), reduction, n, (n,), return_grad, caller)
    if scores.ndim != 2:
        raise ValueError(f"{caller}: scores must be (N,), (N, 1) or (N, C), got shape {scores.shape}")
    n = scores.shape[0]
    scores = np.asarray(scores, order="C")
    target = _class_target(target, n, caller)
    return _loss(_class_kernel("multi_margin", caller, margin), scores, (scores, target), reduction,
                 n, (n,), return_grad, caller)


__all__ = [
    "ACTIVATIONS", "ACTIVATION_TABLE", "ActivationSpec", "activation_spec", "identity", "relu",
    "tanh", "sigmoid", "gelu", "leaky_relu", "elu", "silu", "softplus", "activation",
    "activation_backward", "softmax", "log_softmax", "softmax_backward", "log_softmax_backward",
    "linear", "linear_backward", "LOSS_TABLE", "mse_loss", "l1_loss", "huber_loss", "cross_entropy",
    "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "hinge_loss",
]

from .functional_conv import *  # noqa: E402,F401,F403  (convolution, pooling, normalisation)
