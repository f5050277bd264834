"""Layers, activations and losses as modules with an explicit backward, PyTorch's names and
semantics, over the fused kernels of `fastnn.functional`.

There is no autograd tape: each module caches in `forward` what its `backward` needs, and
`backward(grad_output)` returns the gradient with respect to the module's input while adding the
gradients of its parameters into their `.grad` (accumulating, as torch does, until `zero_grad()`).
A training step reads:

    >>> import numpy as np
    >>> from fastnn import nn, optim
    >>> model = nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Linear(8, 3, rng=1))
    >>> loss_fn = nn.CrossEntropyLoss()
    >>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> x = np.ones((2, 4), np.float32); y = np.array([0, 2])
    >>> opt.zero_grad()
    >>> loss = loss_fn(model(x), y)
    >>> _ = model.backward(loss_fn.backward(), need_input_grad=False)
    >>> opt.step()

A forward keeps a reference to its input for backward: modify it in place only after backward.
NaN and Inf propagate through every layer and loss, as in torch; nothing raises on them.
"""
import math
from collections import OrderedDict

import numpy as np

from . import functional as F
from . import init

__all__ = ["Parameter", "Module", "Linear", "Identity", "ReLU", "Tanh", "Sigmoid", "GELU",
           "Softmax", "Sequential", "MSELoss", "CrossEntropyLoss", "BCEWithLogitsLoss", "HingeLoss"]

_FLOAT_DTYPES = (np.float32, np.float64)


class Parameter:
    """A trainable array: `.data` (C-contiguous float32/float64) and `.grad` of the same shape,
    zeros until a backward adds into it.

    `zero_grad()` costs nothing at once: the zeros are written only if `.grad` is read before the
    next backward, and otherwise that backward writes its gradient instead of adding it to zeros,
    which saves two passes over every gradient per training step.

    >>> import numpy as np
    >>> p = Parameter(np.ones((2, 3), np.float32))
    >>> p.grad.shape, float(p.grad.sum())
    ((2, 3), 0.0)
    """

    __slots__ = ("data", "_grad", "_grad_zeroed")

    def __init__(self, data):
        data = np.asarray(data)
        if data.dtype.type not in _FLOAT_DTYPES:
            if data.dtype.kind not in "iub":
                raise TypeError(f"Parameter: data must be float32 or float64, got {data.dtype}")
            data = data.astype(np.float64)
        self.data = np.require(data, requirements=("C_CONTIGUOUS", "ALIGNED"))
        self._grad = np.zeros_like(self.data)
        self._grad_zeroed = False

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    @property
    def grad(self):
        if self._grad_zeroed:
            self._grad.fill(0)
            self._grad_zeroed = False
        return self._grad

    @grad.setter
    def grad(self, value):  # checked where it is used: by the kernels that read or write it
        self._grad = value
        self._grad_zeroed = False

    def zero_grad(self):
        self._grad_zeroed = True

    def grad_for_backward(self):
        """(array, accumulate): where a backward puts this parameter's gradient, and whether it
        adds to what is there (False right after zero_grad: it may overwrite)."""
        accumulate = not self._grad_zeroed
        self._grad_zeroed = False
        return self._grad, accumulate

    def __repr__(self):
        return f"Parameter containing:\n{self.data!r}"


class Module:
    """The base of every layer and loss.

    Subclasses define `forward` and `backward`. Parameters and sub-modules are found among the
    instance's attributes (in the order they were set), so `self.fc = Linear(...)` registers it;
    hold lists of modules in a `Sequential`.

    >>> class TwoLayer(Module):
    ...     def __init__(self):
    ...         self.hidden = Linear(3, 4, activation="tanh", rng=0)
    ...         self.out = Linear(4, 1, rng=1)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x))
    ...     def backward(self, grad_output):
    ...         return self.hidden.backward(self.out.backward(grad_output))
    >>> [name for name, _ in TwoLayer().named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    """

    training = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    # ------------------------------------------------------------ structure

    def named_children(self):
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self):
        return (module for _, module in self.named_children())

    def _named_parameters_with_duplicates(self, prefix=""):
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child._named_parameters_with_duplicates(f"{prefix}{name}.")

    def named_parameters(self):
        """(name, Parameter) pairs, torch's dotted names ("0.weight"), each parameter once."""
        seen = set()
        for name, p in self._named_parameters_with_duplicates():
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def zero_grad(self):
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode=True):
        """Set training mode here and below (no module here behaves differently yet; the flag is
        kept for those that will and for code that reads it)."""
        self.training = bool(mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    # ------------------------------------------------------------ state

    def state_dict(self):
        """An OrderedDict of parameter name -> a copy of its data."""
        return OrderedDict((name, p.data.copy()) for name, p in self._named_parameters_with_duplicates())

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays from `state_dict` into the parameters of the same names (cast to their
        dtype). Every name must match both ways when `strict`; shapes must always match.
        Returns (missing_keys, unexpected_keys)."""
        own = OrderedDict(self._named_parameters_with_duplicates())
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        if strict and (missing or unexpected):
            raise ValueError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                             f"unexpected keys {unexpected}")
        for name, p in own.items():
            if name in state_dict:
                value = np.asarray(state_dict[name])
                if value.shape != p.data.shape:
                    raise ValueError(f"{type(self).__name__}.load_state_dict: size mismatch for {name}: "
                                     f"the checkpoint has shape {value.shape}, the model {p.data.shape}")
        for name, p in own.items():
            if name in state_dict:
                np.copyto(p.data, state_dict[name], casting="same_kind")
        return missing, unexpected

    # ------------------------------------------------------------ display

    def extra_repr(self):
        return ""

    def __repr__(self):
        children = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self.named_children()]
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(children) + "\n)"


def _describe(module):
    """A one-line name for error messages (a container's repr spans lines)."""
    return f"{type(module).__name__}({module.extra_repr()})"


def _backward_before_forward(module):
    return RuntimeError(f"{_describe(module)}: backward called before forward (nothing cached to differentiate)")


def _check_grad_output(module, grad_output, output):
    """grad_output must be an ndarray of the shape and dtype of the output it differentiates."""
    if type(grad_output) is not np.ndarray or grad_output.shape != output.shape or grad_output.dtype != output.dtype:
        raise ValueError(f"{_describe(module)}: grad_output must match the forward output, shape {output.shape} "
                         f"{output.dtype}; got {getattr(grad_output, 'shape', type(grad_output).__name__)} "
                         f"{getattr(grad_output, 'dtype', '')}".rstrip())


# ---------------------------------------------------------------- Linear

_GELU_ACTIVATIONS = ("gelu", "gelu_tanh")


class Linear(Module):
    """y = act(x · weightᵀ + bias) for x of shape (N, in_features); one GEMM with the bias and the
    activation fused into its write-back.

    weight is (out_features, in_features) and bias (out_features,), both initialised as torch
    does: U(−1/√in_features, 1/√in_features) (kaiming_uniform with a = √5 for the weight). `rng`
    is a numpy Generator or an int seed. `activation` is None or one of "identity", "relu",
    "tanh", "sigmoid", "gelu", "gelu_tanh" (GELU(approximate="tanh")).

    backward(grad_output, need_input_grad=True) adds into weight.grad and bias.grad and returns
    the gradient with respect to x; with need_input_grad=False (a first layer, whose input is data)
    it skips that product and returns None.

    >>> import numpy as np
    >>> layer = Linear(3, 2, activation="relu", rng=0)
    >>> y = layer(np.ones((4, 3), np.float32))
    >>> y.shape, bool((y >= 0).all())
    ((4, 2), True)
    >>> layer.backward(np.ones_like(y)).shape
    (4, 3)
    """

    def __init__(self, in_features, out_features, bias=True, *, activation=None, dtype=np.float32,
                 rng=None):
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Linear: {name} must be a positive int, got {value!r}")
        dtype = np.dtype(dtype)
        if dtype.type not in _FLOAT_DTYPES:
            raise TypeError(f"Linear: dtype must be float32 or float64, got {dtype}")
        if activation is not None and activation not in F.ACTIVATIONS:
            raise ValueError(f"Linear: unknown activation {activation!r}; expected None or one of "
                             f"{sorted(F.ACTIVATIONS)}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self._activation = None if activation == "identity" else activation
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype))
        self.bias = Parameter(np.empty(self.out_features, dtype)) if bias else None
        self.reset_parameters(rng)
        self._cache = None

    @property
    def activation(self):
        """The fused activation's name, or None (fixed at construction: a Sequential plans on it)."""
        return self._activation

    def reset_parameters(self, rng=None):
        """Draw weight and bias again from U(−1/√in_features, 1/√in_features)."""
        rng = init._generator(rng, "Linear")
        init.kaiming_uniform(self.weight, a=math.sqrt(5), rng=rng)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform(self.bias, -bound, bound, rng=rng)

    def _checked_input(self, x):
        if type(x) is not np.ndarray:
            raise TypeError(f"{_describe(self)}: input must be a numpy.ndarray, got {type(x).__name__}")
        if x.ndim != 2 or x.shape[1] != self.in_features or x.shape[0] == 0 or x.dtype != self.weight.data.dtype:
            raise ValueError(f"{_describe(self)}: expected input (N >= 1, {self.in_features}) of dtype "
                             f"{self.weight.data.dtype}, got {x.shape} of dtype {x.dtype}")
        return x if x.flags.aligned else x.copy()

    def _forward(self, x, activation):
        """(output, pre-activation or None) for a checked x; the pre-activation is kept only where
        the derivative needs it (the GELU forms)."""
        pre = np.empty((x.shape[0], self.out_features), x.dtype) if activation in _GELU_ACTIVATIONS else None
        bias = self.bias.data if self.bias is not None else None
        code = F.ACTIVATIONS[activation or "identity"]
        return F.linear_unchecked(x, self.weight.data, bias, code, pre_activation_out=pre), pre

    def _backward(self, grad_output, cache, activation, need_input_grad):
        x, output, pre = cache
        weight_grad, accumulate = self.weight.grad_for_backward()
        bias_grad = None
        if self.bias is not None:
            bias_grad, bias_accumulate = self.bias.grad_for_backward()
            if bias_accumulate != accumulate:  # only one was zeroed: write its zeros, add to both
                (bias_grad if accumulate else weight_grad).fill(0)
                accumulate = True
        dx, _, _ = F.linear_backward_unchecked(
            grad_output, x, self.weight.data, F.ACTIVATIONS[activation or "identity"],
            pre if activation in _GELU_ACTIVATIONS else output, need_input_grad,
            self.bias is not None, weight_grad, bias_grad, accumulate)
        return dx

    def forward(self, x):
        x = self._checked_input(x)
        y, pre = self._forward(x, self._activation)
        self._cache = (x, y, pre)
        return y

    def backward(self, grad_output, need_input_grad=True):
        if self._cache is None:
            raise _backward_before_forward(self)
        _check_grad_output(self, grad_output, self._cache[1])
        return self._backward(grad_output, self._cache, self._activation, need_input_grad)

    def extra_repr(self):
        text = f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
        if self._activation is not None:
            text += f", activation={self._activation!r}"
        if self.weight.data.dtype != np.float32:
            text += f", dtype={self.weight.data.dtype}"
        return text


# ---------------------------------------------------------------- activations

class _Activation(Module):
    """An elementwise activation: forward caches what its derivative reads (output, or input for
    the GELU forms); backward returns grad_output ⊙ act'."""

    _function_name = None  # the name in fastnn.functional.ACTIVATIONS

    def forward(self, x):
        y = F.activation(x, self._function_name)
        self._cache = (x, y)
        return y

    def backward(self, grad_output):
        cache = getattr(self, "_cache", None)
        if cache is None:
            raise _backward_before_forward(self)
        x, y = cache
        _check_grad_output(self, grad_output, y)
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

    def forward(self, x):
        return x

    def backward(self, grad_output):
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

    def backward(self, grad_output):
        y = getattr(self, "_output", None)
        if y is None:
            raise _backward_before_forward(self)
        _check_grad_output(self, grad_output, y)
        return F.softmax_backward(grad_output, y, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


# Activations a Sequential fuses into the Linear before them (exact types: a subclass may differ).
_FUSIBLE_ACTIVATIONS = (Identity, ReLU, Tanh, Sigmoid, GELU)


# ---------------------------------------------------------------- Sequential

class _LinearActivation:
    """A Linear and the activation module after it, run by a Sequential as one fused Linear: the
    forward writes the activated output directly, the backward forms dS once from it (or from
    the pre-activation for GELU). The cache lives here, so the two modules' own caches stay empty."""

    __slots__ = ("linear", "activation", "cache")

    def __init__(self, linear, activation):
        self.linear, self.activation, self.cache = linear, activation, None

    def forward(self, x):
        linear = self.linear
        x = linear._checked_input(x)
        y, pre = linear._forward(x, self.activation)
        self.cache = (x, y, pre)
        return y

    def backward(self, grad_output, need_input_grad=True):
        return self.linear._backward(grad_output, self.cache, self.activation, need_input_grad)


class Sequential(Module):
    """Modules applied in order; `backward` runs them in reverse.

    A Linear (without its own activation) followed by ReLU, Tanh, Sigmoid, GELU or Identity runs
    as one fused Linear. `backward(grad_output, need_input_grad=False)` skips the gradient with
    respect to the input, which a first layer fed with data never needs (saves a GEMM), and
    returns None. Built from modules or from an OrderedDict of name -> module.

    >>> import numpy as np
    >>> model = Sequential(Linear(2, 4, rng=0), ReLU(), Linear(4, 1, rng=1))
    >>> y = model(np.ones((3, 2), np.float32))
    >>> model.backward(np.ones_like(y)).shape
    (3, 2)
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *modules):
        if len(modules) == 1 and isinstance(modules[0], dict):
            named = [(str(name), module) for name, module in modules[0].items()]
        else:
            named = [(str(i), module) for i, module in enumerate(modules)]
        for name, module in named:
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: {name} is a {type(module).__name__}, not a Module")
        self._named = named
        self._plan = None
        self._output = None

    def named_children(self):
        return iter(self._named)

    def __len__(self):
        return len(self._named)

    def __iter__(self):
        return (module for _, module in self._named)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(OrderedDict(self._named[index]))
        return self._named[index][1]

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(module).__name__}")
        self._named.append((str(len(self._named)), module))
        self._plan = self._output = None
        return self

    def _steps(self):
        """The modules, with each fusible Linear → activation pair made one step."""
        modules = [module for _, module in self._named]
        steps, i = [], 0
        while i < len(modules):
            module = modules[i]
            following = modules[i + 1] if i + 1 < len(modules) else None
            if (type(module) is Linear and module.activation is None
                    and type(following) in _FUSIBLE_ACTIVATIONS):
                name = following._function_name
                steps.append(_LinearActivation(module, None if name == "identity" else name))
                i += 2
            else:
                steps.append(module)
                i += 1
        return steps

    def forward(self, x):
        steps = self._plan
        if steps is None:
            steps = self._plan = self._steps()
        self._output = None  # a forward that fails midway leaves nothing to differentiate
        for step in steps:
            x = step.forward(x)
        self._output = x
        return x

    def backward(self, grad_output, need_input_grad=True):
        if self._output is None:
            raise _backward_before_forward(self)
        _check_grad_output(self, grad_output, self._output)
        steps = self._plan
        first = 0
        if not need_input_grad:
            # steps before the first with parameters only carry a gradient nobody asked for
            while first < len(steps) - 1 and not _has_parameters(steps[first]):
                first += 1
        for step in steps[:first:-1]:
            grad_output = step.backward(grad_output)
        if not steps:
            return grad_output if need_input_grad else None
        if need_input_grad:
            return steps[first].backward(grad_output)
        if isinstance(steps[first], (Linear, _LinearActivation, Sequential)):
            return steps[first].backward(grad_output, need_input_grad=False)
        steps[first].backward(grad_output)
        return None

    def extra_repr(self):
        return ""


def _has_parameters(step):
    if isinstance(step, _LinearActivation):
        return True
    return next(iter(step.parameters()), None) is not None


# ---------------------------------------------------------------- losses

class _Loss(Module):
    """forward(prediction, target) -> float; backward() -> d loss / d prediction, computed in the
    same fused pass as the loss. Each forward makes a new gradient array, handed to the caller."""

    def __init__(self, *, reduction="mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction
        self._grad = None

    def _loss_and_grad(self, prediction, target):
        raise NotImplementedError

    def forward(self, prediction, target):
        loss, self._grad = self._loss_and_grad(prediction, target)
        return loss

    def backward(self):
        if self._grad is None:
            raise _backward_before_forward(self)
        return self._grad

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean (or sum) of (prediction − target)² over all elements.

    >>> import numpy as np
    >>> loss = MSELoss()
    >>> loss(np.array([1.0, 3.0]), np.array([0.0, 0.0]))
    5.0
    >>> loss.backward()
    array([1., 3.])
    """

    def _loss_and_grad(self, prediction, target):
        return F.mse_loss(prediction, target, self.reduction, return_grad=True)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from logits (N, C), the log-sum-exp fused and max-shifted; targets
    are class indices (N,) in [0, C) or class probabilities (N, C).

    >>> import numpy as np
    >>> loss = CrossEntropyLoss()
    >>> round(loss(np.zeros((2, 4)), np.array([1, 3])), 4)   # log 4
    1.3863
    >>> loss.backward().shape
    (2, 4)
    """

    def _loss_and_grad(self, prediction, target):
        return F.cross_entropy(prediction, target, self.reduction, return_grad=True)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of sigmoid(prediction) against targets in [0, 1], in the stable form
    max(x, 0) − x·t + log(1 + exp(−|x|)).

    >>> import numpy as np
    >>> round(BCEWithLogitsLoss()(np.array([0.0]), np.array([1.0])), 4)
    0.6931
    """

    def _loss_and_grad(self, prediction, target):
        return F.binary_cross_entropy_with_logits(prediction, target, self.reduction, return_grad=True)


class HingeLoss(_Loss):
    """The SVM hinge loss. Binary when prediction is (N,) or (N, 1): max(0, margin − y·f(x)) with
    y ∈ {−1, 1}. Multi-class when prediction is (N, C) and target class indices (N,):
    Σ_{j≠y} max(0, margin − f_y + f_j) / C per sample, as torch.nn.MultiMarginLoss.

    >>> import numpy as np
    >>> HingeLoss()(np.array([2.0, 0.5]), np.array([1, 1]))
    0.25
    """

    def __init__(self, margin=1.0, *, reduction="mean"):
        super().__init__(reduction=reduction)
        if isinstance(margin, bool) or not isinstance(margin, (int, float, np.integer, np.floating)) \
                or not np.isfinite(margin):
            raise ValueError(f"HingeLoss: margin must be a finite number, got {margin!r}")
        self.margin = float(margin)

    def _loss_and_grad(self, prediction, target):
        return F.hinge_loss(prediction, target, self.reduction, margin=self.margin, return_grad=True)

    def extra_repr(self):
        return f"margin={self.margin}, reduction={self.reduction!r}"
