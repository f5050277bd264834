"""What the fuzzer calls: every public function and estimator method of fastnn, each with a
valid call drawn at random and then, most of the time, one to three of its arguments replaced
by something hostile (a wrong shape, dtype, layout or type; NaN, inf, huge or negative numbers;
None). `draw_call(rng)` returns a Call: what it is, a thunk that makes it, and a check of the
result it returns. A call may return a correct result or raise ValueError or TypeError;
MemoryError only when the call is marked `may_be_too_large`. Run by tests/fuzz_runner.py.
"""
import io
import math
import os
import tempfile

import numpy as np

import fastnn
import fastnn.functional as F
import reference as R
from fastnn import init, nn, optim
from fastnn.datasets import load_digits, make_spirals, make_xor

# ---------------------------------------------------------------- hostile values

HOSTILE_SCALARS = [None, -1, 0, 1, 2, -0.0, 0.5, 1e308, -1e308, float("nan"), float("inf"), -float("inf"),
                   2**31, 2**63, 2**64, -2**63, 10**30, True, False, "1", "", "relu", b"x", [], [1, 2], (3,),
                   {}, {"a": 1}, 1 + 2j, np.float32(np.nan), np.int64(-5), np.float64(1e-320), object(),
                   np.array(3.0), np.ones(2), len]
HOSTILE_DTYPES = [np.float16, np.int8, np.int32, np.int64, np.uint64, np.bool_, np.complex64, object, "<U3",
                  ">f4", ">f8"]
HOSTILE_VALUES = [0.0, np.nan, np.inf, -np.inf, 1e38, -3.4e38, 1e300, 1e-45, 5e-324, -0.0]


class Call:
    def __init__(self, label, thunk, check=None, may_be_too_large=False, also_clear=()):
        self.label, self.thunk, self.check = label, thunk, check
        self.may_be_too_large = may_be_too_large
        self.also_clear = also_clear  # exception types this call's protocol defines (IndexError for [])


def float_array(rng, shape, dtype=None, scale=1.0):
    dtype = dtype or (np.float32 if rng.random() < 0.6 else np.float64)
    return (rng.standard_normal(shape) * scale).astype(dtype)


def layout(rng, array):
    """`array`, or the same values in a hostile layout: transposed, strided, misaligned,
    read-only, Fortran order, a subclass, a list."""
    kind = rng.integers(9)
    # numpy 2.4's np.repeat on a 3-D view of a non-contiguous np.matrix writes out of bounds:
    # the layouts are made from plain arrays only, so that a crash here is fastnn's
    array = np.asarray(array) if type(array) is not np.ndarray and isinstance(array, np.ndarray) else array
    if kind == 0 and array.ndim >= 2:
        return np.asfortranarray(array)
    if kind == 1:
        bigger = np.repeat(array[..., None], 2, axis=-1) if array.ndim else array
        return bigger[..., 0] if array.ndim else array
    if kind == 2 and array.size and not array.dtype.hasobject:  # misaligned: one byte past an aligned address
        raw = np.zeros(array.nbytes + 1, np.uint8)
        view = raw[1:].view(array.dtype).reshape(array.shape)
        view[...] = array
        return view
    if kind == 3:
        read_only = array.copy()
        read_only.flags.writeable = False
        return read_only
    if kind == 4:
        return array.tolist()
    if kind == 5 and array.ndim >= 1:
        return array.view(np.matrix) if array.ndim == 2 else np.ma.masked_array(array)
    return array


def hostile_array(rng, like=None):
    """Something that is not what an array argument wants, or an array of hostile values."""
    kind = rng.integers(8)
    shape = like.shape if isinstance(like, np.ndarray) else (int(rng.integers(0, 4)),)
    if kind == 0:
        return HOSTILE_SCALARS[rng.integers(len(HOSTILE_SCALARS))]
    if kind == 1:  # another dtype
        dtype = HOSTILE_DTYPES[rng.integers(len(HOSTILE_DTYPES))]
        try:
            return np.ones(shape).astype(dtype)
        except (TypeError, ValueError):
            return np.ones(shape, dtype=object)
    if kind == 2:  # another shape
        shapes = [(), (0,), (1,), (0, 0), (3, 0), (0, 3), (1, 1), (2, 3, 4), (7,), (1, 1, 1, 1), (5, 1)]
        return float_array(rng, shapes[rng.integers(len(shapes))])
    if kind == 3 and isinstance(like, np.ndarray) and like.dtype.kind == "f":  # hostile values
        out = np.array(like, copy=True)
        if out.size:
            out.flat[rng.integers(out.size, size=max(1, out.size // 3))] = HOSTILE_VALUES[rng.integers(len(HOSTILE_VALUES))]
        return out
    if kind == 4 and isinstance(like, np.ndarray):
        return layout(rng, like)
    if kind == 5:
        return np.zeros(shape + (2,))  # one axis too many
    if kind == 6 and isinstance(like, np.ndarray) and like.ndim:
        return like[..., :0]  # empty along the last axis
    return float_array(rng, shape, np.float64 if rng.random() < 0.5 else np.float32)


def mutate(rng, args, kwargs, hostile_for=None):
    """One to three of the arguments (positional or keyword) replaced by hostile values."""
    args, kwargs = list(args), dict(kwargs)
    slots = [("a", i) for i in range(len(args))] + [("k", k) for k in kwargs]
    if not slots:
        return args, kwargs
    for _ in range(int(rng.integers(1, 4))):
        where, key = slots[rng.integers(len(slots))]
        old = args[key] if where == "a" else kwargs[key]
        new = hostile_array(rng, old) if isinstance(old, np.ndarray) or rng.random() < 0.3 else \
            HOSTILE_SCALARS[rng.integers(len(HOSTILE_SCALARS))]
        if where == "a":
            args[key] = new
        else:
            kwargs[key] = new
    return args, kwargs


def finite_floats(*values):
    return all(isinstance(v, np.ndarray) and v.dtype.kind == "f" and type(v) is np.ndarray
               and np.isfinite(v).all() for v in values)


def close(result, expected, dtype, scale=None):
    expected = np.asarray(expected, np.float64)
    result = np.asarray(result)
    assert result.shape == expected.shape, f"shape {result.shape}, expected {expected.shape}"
    tol = 2e-3 if np.dtype(dtype) == np.float32 else 1e-9
    scale = np.abs(expected) + 1 if scale is None else scale
    bad = ~(np.abs(result.astype(np.float64) - expected) <= tol * scale)
    if np.dtype(dtype) == np.float32:  # values beyond float32's range become inf there
        bad &= np.abs(expected) < 3e38
    assert not bad.any(), f"differs from the float64 reference at {np.argwhere(bad)[:3].tolist()}"


# ---------------------------------------------------------------- the targets

def call_with(rng, label, function, args, kwargs, reference=None, may_be_too_large=False, big=()):
    """A Call of function(*args, **kwargs), mutated with probability 0.8; its result checked
    against reference(args, kwargs) when the call was valid and the inputs finite. Keyword
    arguments named in `big` are sizes: a mutation that makes one valid but huge (a billion
    samples) is not hostile, only slow, and is dropped."""
    mutated = rng.random() < 0.8
    if mutated:
        args, kwargs = mutate(rng, args, kwargs)
        if any(_valid_but_huge(kwargs.get(name)) for name in big):
            return Call(f"{label} (huge size dropped)", lambda: None)

    def check(result):
        if reference is not None and not mutated:
            reference(result, *args, **kwargs)
    return Call(f"{label}{' mutated' if mutated else ''}", lambda: function(*args, **kwargs), check,
                may_be_too_large)


def _valid_but_huge(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 10**5 < value < 2**58


def matmul_target(rng):
    m, k, n = (int(rng.choice([0, 1, 2, 3, 7, 16, 17, 33, 64, 97])) for _ in range(3))
    dtype = np.float32 if rng.random() < 0.5 else np.float64
    trans_a, trans_b = bool(rng.random() < 0.3), bool(rng.random() < 0.3)
    a = float_array(rng, (k, m) if trans_a else (m, k), dtype)
    b = float_array(rng, (n, k) if trans_b else (k, n), dtype)
    kwargs = {"trans_a": trans_a, "trans_b": trans_b}
    if rng.random() < 0.3:
        kwargs["out"] = np.empty((m, n), dtype)
    a, b = layout(rng, a) if rng.random() < 0.3 else a, b

    def reference(result, a, b, trans_a=False, trans_b=False, out=None):
        A, B = np.asarray(a, np.float64), np.asarray(b, np.float64)
        A, B = (A.T if trans_a else A), (B.T if trans_b else B)
        close(result, A @ B, dtype, scale=np.abs(A) @ np.abs(B) + 1)
        if out is not None:
            assert result is out
    return call_with(rng, "matmul", fastnn.matmul, (a, b), kwargs, reference)


ACTIVATION_NAMES = ["identity", "relu", "tanh", "sigmoid", "gelu", "gelu_tanh"]
REFERENCE_ACTIVATIONS = {"identity": R.identity, "relu": R.relu, "tanh": R.tanh, "sigmoid": R.sigmoid,
                         "gelu": R.gelu, "gelu_tanh": R.gelu_tanh}


def random_shape(rng, max_ndim=3):
    return tuple(int(rng.choice([0, 1, 2, 3, 5, 16, 33])) for _ in range(int(rng.integers(0, max_ndim + 1))))


def activation_target(rng):
    name = ACTIVATION_NAMES[rng.integers(len(ACTIVATION_NAMES))]
    x = float_array(rng, random_shape(rng), scale=float(rng.choice([1, 10, 100])))
    if rng.random() < 0.5:
        function = {"identity": F.identity, "relu": F.relu, "tanh": F.tanh, "sigmoid": F.sigmoid,
                    "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh")}[name]
        args = (x,)
    else:
        function, args = F.activation, (x, name)

    def reference(result, x, *_):
        assert isinstance(result, np.ndarray) and result.dtype == x.dtype
        close(result, REFERENCE_ACTIVATIONS[name](x), x.dtype)
    return call_with(rng, f"activation {name}", function, args, {}, reference)


def activation_backward_target(rng):
    name = ACTIVATION_NAMES[rng.integers(len(ACTIVATION_NAMES))]
    x = float_array(rng, random_shape(rng))
    g = float_array(rng, x.shape, x.dtype)
    from_input = name in ("gelu", "gelu_tanh")
    saved = x if from_input else REFERENCE_ACTIVATIONS[name](x).astype(x.dtype)
    kwargs = {} if name == "identity" else {"input" if from_input else "output": saved}

    def reference(result, name_, g, **kw):
        assert result.shape == g.shape and result.dtype == g.dtype
        close(result, np.asarray(g, np.float64) * R.derivative(name, x), g.dtype)
    return call_with(rng, f"activation_backward {name}", F.activation_backward, (name, g), kwargs, reference)


def softmax_target(rng):
    shape = random_shape(rng) or (3,)
    x = float_array(rng, shape, scale=float(rng.choice([1, 30])))
    dim = int(rng.integers(-len(shape), len(shape)))
    take_log = rng.random() < 0.5
    forward = F.log_softmax if take_log else F.softmax
    if rng.random() < 0.5:
        def reference(result, x, dim):
            close(result, (R.log_softmax if take_log else R.softmax)(x, dim), x.dtype)
        return call_with(rng, "log_softmax" if take_log else "softmax", forward, (x, dim), {}, reference)
    y = forward(x, dim)
    g = float_array(rng, shape, x.dtype)
    backward = F.log_softmax_backward if take_log else F.softmax_backward

    def reference(result, g, y, dim):
        close(result, (R.log_softmax_backward if take_log else R.softmax_backward)(g, y, dim), x.dtype,
              scale=np.abs(np.asarray(g, np.float64)).sum() + 1)
    return call_with(rng, f"{backward.__name__}", backward, (g, y, dim), {}, reference)


def linear_target(rng):
    n, i, o = (int(rng.choice([0, 1, 3, 8, 17])) for _ in range(3))
    dtype = np.float32 if rng.random() < 0.5 else np.float64
    x, w = float_array(rng, (n, i), dtype), float_array(rng, (o, i), dtype)
    bias = float_array(rng, (o,), dtype) if rng.random() < 0.7 else None
    activation = [None, *ACTIVATION_NAMES][rng.integers(7)]
    if rng.random() < 0.5:
        def reference(result, x, w, bias=None, activation=None):
            close(result, R.linear(x, w, bias, activation)[0], dtype,
                  scale=np.abs(np.asarray(x, np.float64)) @ np.abs(np.asarray(w, np.float64)).T + 1)
        return call_with(rng, "linear", F.linear, (x, w), {"bias": bias, "activation": activation}, reference)
    pre = (x @ w.T + (0 if bias is None else bias)).astype(dtype)
    out = R.linear(x, w, bias, activation)[0].astype(dtype)
    g = float_array(rng, (n, o), dtype)
    kwargs = {"activation": activation, "output": out, "pre_activation": pre,
              "need_input_grad": bool(rng.random() < 0.8), "has_bias": bias is not None,
              "accumulate": bool(rng.random() < 0.5)}
    if rng.random() < 0.3:
        kwargs["weight_grad"] = np.zeros((o, i), dtype)
    if rng.random() < 0.3 and bias is not None:
        kwargs["bias_grad"] = np.zeros(o, dtype)

    def reference(result, g, x, w, activation=None, pre_activation=None, need_input_grad=True,
                  has_bias=True, **_):
        dx, dw, db = result
        rdx, rdw, rdb = R.linear_backward(g, x, w, pre_activation, activation)
        G = np.abs(np.asarray(g, np.float64))
        close(dw, rdw, dtype, scale=G.T @ np.abs(np.asarray(x, np.float64)) + 1)
        if need_input_grad:
            close(dx, rdx, dtype, scale=G @ np.abs(np.asarray(w, np.float64)) + 1)
        else:
            assert dx is None
        if has_bias:
            close(db, rdb, dtype, scale=G.sum(axis=0) + 1)
    return call_with(rng, "linear_backward", F.linear_backward, (g, x, w), kwargs, reference)


def linear_out_target(rng):
    """F.linear writing into out= and pre_activation_out=, possibly hostile."""
    n, i, o = (int(rng.choice([0, 1, 3, 8])) for _ in range(3))
    dtype = np.float32 if rng.random() < 0.5 else np.float64
    x, w, b = float_array(rng, (n, i), dtype), float_array(rng, (o, i), dtype), float_array(rng, (o,), dtype)
    kwargs = {"activation": "gelu", "out": np.empty((n, o), dtype), "pre_activation_out": np.empty((n, o), dtype)}
    if rng.random() < 0.3:
        kwargs["out"] = x if rng.random() < 0.5 else w  # aliasing an input

    def reference(result, x, w, b, activation, out, pre_activation_out):
        y, pre = R.linear(x, w, b, activation)
        scale = np.abs(np.asarray(x, np.float64)) @ np.abs(np.asarray(w, np.float64)).T + 1
        close(result, y, dtype, scale)
        close(pre_activation_out, pre, dtype, scale)
        assert result is out
    return call_with(rng, "linear out=", F.linear, (x, w, b), kwargs, reference)


def state_target(rng):
    """Module.load_state_dict, Parameter(), Sequential(), save and load(into=) with hostile input."""
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1))
    kind = rng.integers(5)
    if kind == 0:
        state = model.state_dict()
        if rng.random() < 0.8:
            key = sorted(state)[rng.integers(len(state))]
            state[key] = hostile_array(rng, state[key])
        if rng.random() < 0.2:
            state = HOSTILE_SCALARS[rng.integers(len(HOSTILE_SCALARS))]
        strict = bool(rng.random() < 0.7)
        return Call("Module.load_state_dict", lambda: model.load_state_dict(state, strict=strict))
    if kind == 1:
        return call_with(rng, "Parameter()", nn.Parameter, (float_array(rng, (2, 3)),), {})
    if kind == 2:
        return call_with(rng, "Sequential()", nn.Sequential, (nn.ReLU(), nn.Linear(2, 2, rng=0)), {})
    directory = tempfile.mkdtemp()
    path = os.path.join(directory, "m.npz")

    def cleanup():
        for name in os.listdir(directory):
            os.unlink(os.path.join(directory, name))
        os.rmdir(directory)
    if kind == 3:
        target = model if rng.random() < 0.5 else HOSTILE_SCALARS[rng.integers(len(HOSTILE_SCALARS))]
        if rng.random() < 0.4:  # an estimator, unfitted, with a hostile parameter
            cls = list(ESTIMATOR_PARAMS)[rng.integers(len(ESTIMATOR_PARAMS))]
            params = dict(ESTIMATOR_PARAMS[cls])
            params[sorted(params)[rng.integers(len(params))]] = HOSTILE_SCALARS[rng.integers(len(HOSTILE_SCALARS))]
            target = cls(**params)

        def save():
            try:
                fastnn.save(path, target)
            finally:
                cleanup()
        return Call("save", save)
    fastnn.save(path, model)
    into = [nn.Linear(3, 4), nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)),
            HOSTILE_SCALARS[rng.integers(len(HOSTILE_SCALARS))]][rng.integers(3)]

    def load_into():
        try:
            return fastnn.load(path, into=into)
        finally:
            cleanup()
    return Call("load into=", load_into)


def loss_target(rng):
    n, c = int(rng.choice([0, 1, 2, 5, 17])), int(rng.choice([1, 2, 3, 10]))
    dtype = np.float32 if rng.random() < 0.5 else np.float64
    reduction = ["mean", "sum", "none"][rng.integers(3)]
    kind = rng.integers(4)
    return_grad = bool(rng.random() < 0.5)
    kwargs = {"reduction": reduction, "return_grad": return_grad}
    if kind == 0:
        x, t = float_array(rng, (n, c), dtype), float_array(rng, (n, c), dtype)
        function, ref = F.mse_loss, R.mse_loss
    elif kind == 1:
        x, t = float_array(rng, (n, c), dtype), rng.random((n, c)).astype(dtype)
        function, ref = F.binary_cross_entropy_with_logits, R.binary_cross_entropy_with_logits
    elif kind == 2:
        x, t = float_array(rng, (n, c), dtype), rng.integers(0, c, n)
        function, ref = F.cross_entropy, R.cross_entropy
    else:
        if c == 1 or rng.random() < 0.5:
            x, t = float_array(rng, (n,), dtype), rng.choice([-1.0, 1.0], n)
        else:
            x, t = float_array(rng, (n, c), dtype), rng.integers(0, c, n)
        function, ref = F.hinge_loss, R.hinge_loss
        kwargs["margin"] = float(rng.choice([0.0, 0.5, 1.0, 2.0]))

    def reference(result, x, t, reduction, return_grad, **extra):
        loss = result[0] if return_grad else result
        close(loss, ref(x, t, reduction, **extra), dtype,
              scale=np.abs(np.asarray(ref(x, t, "none", **extra), np.float64)).sum() + 1
              if reduction != "none" else None)
        if return_grad:
            assert result[1].shape == x.shape and np.isfinite(result[1]).all()
    return call_with(rng, function.__name__, function, (x, t), kwargs, reference)


def init_target(rng):
    names = ["uniform", "normal", "constant", "zeros", "xavier_uniform", "xavier_normal", "kaiming_uniform",
             "kaiming_normal", "calculate_gain"]
    name = names[rng.integers(len(names))]
    tensor = float_array(rng, tuple(int(s) for s in rng.integers(1, 6, size=int(rng.integers(1, 4)))))
    if rng.random() < 0.3:
        tensor = nn.Parameter(tensor)
    args = {"constant": (tensor, 0.5), "zeros": (tensor,), "calculate_gain": ("leaky_relu", 0.2)}.get(name, (tensor,))
    kwargs = {} if name in ("constant", "zeros", "calculate_gain") else {"rng": int(rng.integers(10))}

    def check(result, *args, **kwargs):
        if name != "calculate_gain":
            data = result.data if isinstance(result, nn.Parameter) else result
            assert np.isfinite(data).all()
    return call_with(rng, f"init.{name}", getattr(init, name), args, kwargs, check)


LAYER_MAKERS = [lambda rng: nn.Linear(4, 3, activation=["relu", None, "tanh"][rng.integers(3)], rng=0),
                lambda rng: nn.ReLU(), lambda rng: nn.Tanh(), lambda rng: nn.Sigmoid(), lambda rng: nn.GELU(),
                lambda rng: nn.Identity(), lambda rng: nn.Softmax(dim=-1),
                lambda rng: nn.Sequential(nn.Linear(4, 5, rng=0), nn.ReLU(), nn.Linear(5, 3, rng=1))]


def module_target(rng):
    """A layer's forward or backward, or a constructor, with hostile arguments."""
    kind = rng.integers(4)
    if kind == 0:
        kwargs = {"in_features": int(rng.integers(1, 6)), "out_features": int(rng.integers(1, 6)), "bias": True,
                  "activation": "relu", "dtype": np.float32, "rng": 0}
        return call_with(rng, "nn.Linear()", nn.Linear, (), kwargs, may_be_too_large=True,
                         big=("in_features", "out_features"))
    if kind == 1:
        losses = [nn.MSELoss, nn.CrossEntropyLoss, nn.BCEWithLogitsLoss, nn.HingeLoss]
        cls = losses[rng.integers(len(losses))]
        return call_with(rng, f"nn.{cls.__name__}()", cls, (), {"reduction": "sum"})
    layer = LAYER_MAKERS[rng.integers(len(LAYER_MAKERS))](rng)
    x = float_array(rng, (int(rng.integers(0 if kind == 2 else 1, 6)), 4), np.float32)
    if kind == 2:
        return call_with(rng, f"{type(layer).__name__}.forward", layer, (x,), {})
    y = layer(x)
    g = np.ones_like(y)
    return call_with(rng, f"{type(layer).__name__}.backward", layer.backward, (g,), {})


def loss_module_target(rng):
    """A loss module's forward(prediction, target) then backward(), with hostile arguments."""
    n, c = int(rng.choice([0, 1, 3, 8])), int(rng.choice([1, 2, 4]))
    dtype = np.float32 if rng.random() < 0.5 else np.float64
    kind = rng.integers(4)
    x = float_array(rng, (n, c), dtype)
    if kind == 0:
        loss, t = nn.MSELoss(reduction="sum"), float_array(rng, (n, c), dtype)
    elif kind == 1:
        loss, t = nn.BCEWithLogitsLoss(), rng.random((n, c)).astype(dtype)
    elif kind == 2:
        loss, t = nn.CrossEntropyLoss(), rng.integers(0, c, n)
    else:
        loss, t = nn.HingeLoss(margin=0.5), rng.integers(0, c, n) if c > 1 else rng.choice([-1.0, 1.0], (n, 1))

    def forward_backward(x, t):
        return loss(x, t), loss.backward()

    def check(result, x, t):
        value, grad = result
        assert grad.shape == x.shape and np.isfinite(grad).all() and np.isfinite(value)
    return call_with(rng, f"{type(loss).__name__} forward+backward", forward_backward, (x, t), {}, check)


def sequential_target(rng):
    """Sequential's container methods and a backward that skips the input gradient."""
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))
    kind = rng.integers(3)
    if kind == 0:
        call = call_with(rng, "Sequential[index]", lambda i: model[i], (int(rng.integers(-3, 3)),), {})
        call.also_clear = (IndexError,)  # the sequence protocol: iteration stops on it, as list's
        return call
    if kind == 1:
        return call_with(rng, "Sequential.append", model.append, (nn.Tanh(),), {})
    x = float_array(rng, (int(rng.integers(1, 5)), 3), np.float32)
    y = model(x)
    return call_with(rng, "Sequential.backward", model.backward, (np.ones_like(y),),
                     {"need_input_grad": bool(rng.random() < 0.5)})


def flat_target(rng):
    """A model whose parameters live in one flat buffer: train a step with hostile gradients or
    data, or load a hostile state, then check the views still are the buffer."""
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))
    flat = model.flatten_parameters()
    opt = [optim.SGD(model.parameters(), lr=0.1, momentum=0.9), optim.Adam(model.parameters())][rng.integers(2)]
    x = float_array(rng, (int(rng.integers(0, 5)), 3), np.float32)
    p = model.parameters()[rng.integers(4)] if isinstance(model.parameters(), list) else list(model.parameters())[0]
    attribute = ["grad", "data", None][rng.integers(3)]
    value = hostile_array(rng, p.data)

    def train_step():
        y = model(x)
        model.backward(np.ones_like(y))
        if attribute is not None:
            setattr(p, attribute, value)
        opt.step()
        return flat

    def check(result):
        for q in model.parameters():
            assert np.shares_memory(q.data, flat.data), "a parameter left the flat buffer"
    return Call(f"flat {type(opt).__name__} step, hostile .{attribute}", train_step,
                check if attribute != "grad" else None)


def optimizer_target(rng):
    p = nn.Parameter(float_array(rng, (3, 2)))
    p.grad[...] = 1
    makers = [(optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0, "weight_decay": 0, "nesterov": False}),
              (optim.Adam, {"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0, "amsgrad": False}),
              (optim.AdamW, {"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01, "amsgrad": True})]
    cls, kwargs = makers[rng.integers(len(makers))]
    kind = rng.integers(5)
    if kind == 4:  # parameter groups given as dicts, with hostile overrides
        q = nn.Parameter(float_array(rng, (2,)))
        groups = [{"params": [p]}, {"params": q, "lr": 0.01}]

        def construct_and_step(groups, **kw):
            opt = cls(groups, **kw)
            opt.step()
            opt.zero_grad()
            return opt
        if rng.random() < 0.7:
            groups[int(rng.integers(2))][["params", "lr", "weight_decay", "unknown"][rng.integers(4)]] = \
                HOSTILE_SCALARS[rng.integers(len(HOSTILE_SCALARS))]
        return Call(f"{cls.__name__} parameter groups", lambda: construct_and_step(groups, **kwargs))
    if kind == 0:
        def construct_and_step(params, **kw):
            opt = cls(params, **kw)
            opt.step()
            return opt
        return call_with(rng, f"{cls.__name__}()+step", construct_and_step, ([p],), kwargs)
    opt = cls([p], **kwargs)
    if kind == 1:  # a hostile .grad or .data, then step
        mutated, attribute = hostile_array(rng, p.data), "grad" if rng.random() < 0.6 else "data"

        def edit_and_step():
            setattr(p, attribute, mutated)
            return opt.step()
        return Call(f"{cls.__name__}.step hostile .{attribute}", edit_and_step)
    if kind == 2:
        return call_with(rng, f"{cls.__name__}.load_state_dict", opt.load_state_dict, (opt.state_dict(),), {})
    if rng.random() < 0.5:
        return call_with(rng, "StepLR", lambda o, **k: optim.StepLR(o, **k).step(), (opt,),
                         {"step_size": 2, "gamma": 0.5, "last_epoch": -1})
    return call_with(rng, "ExponentialLR", lambda o, **k: optim.ExponentialLR(o, **k).step(), (opt,),
                     {"gamma": 0.5, "last_epoch": -1})


def dataset_target(rng):
    kind = rng.integers(3)
    if kind == 0:
        def check(result, *args, **kwargs):
            X, y = result
            assert X.shape == (kwargs.get("n_samples", 200), 2) and np.isfinite(X).all()
        return call_with(rng, "make_xor", make_xor, (),
                         {"n_samples": int(rng.integers(1, 50)), "noise": 0.1, "shuffle": True,
                          "random_state": 0}, check, may_be_too_large=True, big=("n_samples",))
    if kind == 1:
        def check(result, *args, **kwargs):
            X, y = result
            assert X.shape == (kwargs["n_samples"], 2) and set(y.tolist()) <= set(range(kwargs["n_classes"]))
        return call_with(rng, "make_spirals", make_spirals, (),
                         {"n_samples": int(rng.integers(1, 50)), "n_turns": 1.5, "noise": 0.0, "n_classes": 3,
                          "shuffle": bool(rng.random() < 0.5), "random_state": 1}, check, may_be_too_large=True,
                         big=("n_samples", "n_classes"))
    return call_with(rng, "load_digits", load_digits, (), {"n_class": int(rng.integers(1, 11)), "return_X_y": True})


def misc_target(rng):
    """The remaining public entry points: what fastnn runs on, and every repr."""
    kind = rng.integers(3)
    if kind == 0:
        return Call("cpu_info", lambda: fastnn.cpu_info(),
                    lambda info: None if info["num_threads"] >= 1 and info["isa"] else 1 / 0)
    if kind == 1:
        return Call("get_num_threads", fastnn.get_num_threads, lambda n: None if n >= 1 else 1 / 0)
    things = [nn.Sequential(nn.Linear(2, 3, rng=0), nn.GELU(approximate="tanh")), nn.HingeLoss(margin=2.0),
              fastnn.MLPClassifier(hidden_layer_sizes=(7, 3)), optim.SGD([nn.Parameter(np.zeros(1))])]
    return Call("repr", lambda: repr(things[rng.integers(len(things))]))


def threads_target(rng):
    before = fastnn.get_num_threads()
    n = [1, 2, None, 0][rng.integers(4)]

    def set_and_multiply(n):
        try:
            fastnn.set_num_threads(n)
            a = np.ones((40, 40), np.float32)
            assert (fastnn.matmul(a, a) == 40).all()
        finally:
            fastnn.set_num_threads(before)
    return call_with(rng, "set_num_threads", set_and_multiply, (n,), {})


# -- estimators

ESTIMATOR_PARAMS = {
    fastnn.MLPClassifier: dict(hidden_layer_sizes=(3,), activation="relu", solver="adam", alpha=1e-4, batch_size="auto",
                               learning_rate="constant", learning_rate_init=1e-2, power_t=0.5, max_iter=3, shuffle=True,
                               random_state=0, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                               nesterovs_momentum=True, early_stopping=False, validation_fraction=0.2, beta_1=0.9,
                               beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, dtype=np.float32),
    fastnn.Perceptron: dict(eta0=1.0, max_iter=3, fit_intercept=True, shuffle=True, random_state=0, warm_start=False),
    fastnn.LogisticRegression: dict(C=1.0, max_iter=5, tol=1e-5),
    fastnn.LinearSVM: dict(alpha=1e-3, max_iter=5, final_smoothing=1e-2),
}
ESTIMATOR_PARAMS[fastnn.MLPRegressor] = dict(ESTIMATOR_PARAMS[fastnn.MLPClassifier])
# values that are valid but make a call run for ever are not hostile, only slow
SLOW_IF_HUGE = {"max_iter", "hidden_layer_sizes", "verbose"}


def estimator_data(rng, regression):
    n, d = int(rng.choice([0, 1, 2, 3, 8, 20])), int(rng.choice([0, 1, 2, 4]))
    X = float_array(rng, (n, d), np.float64)
    if regression:
        y = float_array(rng, (n,) if rng.random() < 0.7 else (n, 2), np.float64)
    else:
        labels = [np.array([0, 1]), np.array([3, 7, 9]), np.array(["a", "b"], dtype=object), np.array([-1.5, 2.5])]
        y = labels[rng.integers(len(labels))][rng.integers(0, 2, n)]
    return X, y


def estimator_target(rng):
    classes = list(ESTIMATOR_PARAMS)
    cls = classes[rng.integers(len(classes))]
    regression = cls is fastnn.MLPRegressor
    params = dict(ESTIMATOR_PARAMS[cls])
    hostile_params = rng.random() < 0.3
    if hostile_params:
        for key in rng.choice(sorted(params), size=int(rng.integers(1, 3)), replace=False):
            value = HOSTILE_SCALARS[rng.integers(len(HOSTILE_SCALARS))]
            if key in SLOW_IF_HUGE and isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and abs(value) > 100 and value == value:
                value = -abs(value) if rng.random() < 0.5 else 0
            params[str(key)] = value
    X, y = estimator_data(rng, regression)
    estimator = cls(**params) if not hostile_params else None
    method = ["fit", "partial_fit", "predict", "predict_proba", "predict_log_proba", "decision_function", "score",
              "set_params", "get_params", "edited_attribute"][rng.integers(10)]

    def run(X, y):
        model = estimator if estimator is not None else cls(**params)
        if method in ("fit", "get_params"):
            result = model.fit(X, y, **weights) if method == "fit" else model.get_params()
            return model, result
        if method == "partial_fit":
            if not hasattr(model, "partial_fit"):
                return model, None
            extra = {} if regression else {"classes": np.unique(y) if len(y) else None}
            if extra and rng.random() < 0.3:
                extra["classes"] = hostile_array(rng, extra["classes"])
            return model, model.partial_fit(X, y, **extra)
        if method == "set_params":
            key = sorted(params)[rng.integers(len(params))]
            value = HOSTILE_SCALARS[rng.integers(len(HOSTILE_SCALARS))]
            if key in SLOW_IF_HUGE and isinstance(value, (int, float)) and abs(value) > 100:
                value = 0
            model.set_params(**{key: value})
            return model, model.fit(X, y)
        features = X.shape[1] if isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] else 2
        train_X = float_array(np.random.default_rng(2), (20, features), np.float64)
        train_y = np.arange(20) % 2 if not regression else train_X.sum(axis=1)
        model.fit(train_X, train_y)
        if method == "edited_attribute":  # a fitted attribute replaced, then predict / train on
            names = [n for n in ("coefs_", "intercepts_", "coef_", "intercept_", "classes_") if hasattr(model, n)]
            name = names[rng.integers(len(names))]
            value = getattr(model, name)
            if isinstance(value, list) and value and rng.random() < 0.7:
                value = list(value)
                value[rng.integers(len(value))] = hostile_array(rng, value[0])
            else:
                value = hostile_array(rng, value if isinstance(value, np.ndarray) else None)
            setattr(model, name, value)
            return model, (model.predict(train_X) if rng.random() < 0.7 else
                           model.partial_fit(train_X, train_y) if hasattr(model, "partial_fit") else None)
        if not hasattr(model, method):
            return model, None
        return model, (getattr(model, method)(X) if method != "score" else model.score(X, y))

    def check(result, X, y):
        model, value = result
        if method == "predict" and value is not None and not regression:
            assert set(np.unique(value).tolist()) <= set(model.classes_.tolist())
        if method == "predict_proba" and value is not None and finite_floats(np.asarray(X)):
            assert np.allclose(value.sum(axis=1), 1, atol=1e-4) and (value >= 0).all()
        if method == "fit":
            assert model.predict(np.asarray(X)[:3]).shape[0] == min(3, len(X))
    import warnings
    args = (X, y)
    mutated = rng.random() < 0.6
    if mutated:
        args, _ = mutate(rng, args, {})

    weights = {}
    if method == "fit" and cls not in (fastnn.Perceptron,) and rng.random() < 0.3:
        n = len(X)
        weights["sample_weight"] = rng.random(n) if rng.random() < 0.5 else hostile_array(rng, rng.random(n))

    def thunk():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return run(*args)
    return Call(f"{cls.__name__}.{method}{' hostile params' if hostile_params else ''}"
                f"{' mutated' if mutated else ''}", thunk, lambda result: check(result, *args) if not mutated else None,
                may_be_too_large=hostile_params)


# -- files

_VALID_FILES = {}


def valid_file_bytes(which):
    if which not in _VALID_FILES:
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "m.npz")
            if which == 0:
                fastnn.save(path, nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1)))
            else:
                X, y = make_xor(40, random_state=0)
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fastnn.save(path, fastnn.MLPClassifier((3,), max_iter=3, random_state=0).fit(X, y))
            with open(path, "rb") as file:
                _VALID_FILES[which] = file.read()
    return _VALID_FILES[which]


def load_target(rng):
    """fastnn.load on a valid file with bytes flipped, cut, or spliced."""
    data = bytearray(valid_file_bytes(int(rng.integers(2))))
    kind = rng.integers(4)
    if kind == 0:
        for _ in range(int(rng.integers(1, 8))):
            data[rng.integers(len(data))] = int(rng.integers(256))
    elif kind == 1:
        data = data[:rng.integers(len(data))]
    elif kind == 2:  # a run of bytes copied elsewhere: headers and sizes out of place
        start, length = int(rng.integers(len(data))), int(rng.integers(1, 64))
        at = int(rng.integers(len(data)))
        data[at:at + length] = data[start:start + length]
    else:  # one of the numbers in the manifest's text changed
        text = bytes(data)
        digits = [i for i in range(len(text)) if 48 <= text[i] <= 57]
        for _ in range(int(rng.integers(1, 4))):
            if digits:
                data[digits[rng.integers(len(digits))]] = int(rng.choice([48, 57, 49]))
    directory = tempfile.mkdtemp()
    path = os.path.join(directory, "fuzzed.npz")
    with open(path, "wb") as file:
        file.write(bytes(data))

    def load():
        try:
            return fastnn.load(path)
        finally:
            os.unlink(path)
            os.rmdir(directory)
    return Call(f"load byte edit {kind}", load)


TARGETS = [matmul_target, activation_target, activation_backward_target, softmax_target, linear_target,
           linear_out_target, loss_target, loss_module_target, init_target, module_target, sequential_target,
           state_target, flat_target, optimizer_target, dataset_target, threads_target, estimator_target, load_target,
           misc_target]


def draw_call(rng):
    return TARGETS[rng.integers(len(TARGETS))](rng)


del io, math
