"""Module: the base of every layer and loss, and the protocol by which a layer declares itself.

A container (Sequential) never asks what type a layer is. It asks the layer:
- `fuse_next(following)`: a step that runs this layer and the one after it as one kernel (a
  Linear and the activation after it: one GEMM whose write-back applies the activation), or None;
- `epilogue_activation`: the activation this module applies, by name, when a producer before it
  may apply it in its own write-back instead (None: this module cannot be fused that way);
- `skips_input_grad`: whether `backward(grad_output, need_input_grad=False)` saves the work of
  the input gradient (a first layer fed with data never needs it); a module without it is called
  as `backward(grad_output)` and its result dropped;
- `plan_op()`: the C op a compiled plan runs this step as (fastnn/nn/plan.py), a dict or a list
  of them: {"op": "linear", "weight", "bias", "activation"} or {"op": "activation",
  "activation"}; None (the default) when it has none, and then the model cannot be compiled.
"""
import functools
from collections import OrderedDict

import numpy as np

from .parameter import Parameter

__all__ = ["Module"]


class Module:
    """The base of every layer and loss.

    Subclasses define `forward` and `backward`. Parameters and sub-modules are found among the
    instance's attributes (in the order they were set), so `self.fc = Linear(...)` registers it;
    hold lists of modules in a `Sequential`.

    >>> from fastnn.nn import Linear
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
    # The protocol a container reads (see the module docstring): defaults for a layer that
    # fuses nothing, is fused into nothing and always computes its input gradient.
    epilogue_activation = None
    skips_input_grad = False

    def fuse_next(self, following):
        """A step running this module and `following` as one, or None (the default)."""
        return None

    def plan_op(self):
        """The C op of this module in a compiled plan, or None (the default: not compilable)."""
        return None

    def compile_step(self, loss_fn, optimizer=None, **options):
        """This model's training step as one C call: forward, `loss_fn`, backward with
        `optimizer` fused in (see fastnn.nn.plan.CompiledStep)."""
        from .plan import CompiledStep
        return CompiledStep(self, loss_fn, optimizer, **options)

    def compile_forward(self):
        """This model's forward pass as one C call (see fastnn.nn.plan.CompiledForward)."""
        from .plan import CompiledForward
        return CompiledForward(self)

    def __init_subclass__(cls, **kwargs):
        # Parameters are labelled once, when the constructor returns, so that errors about them
        # name them ("Linear.weight"): a __setattr__ hook would cost every attribute set, the
        # forward's cache included (about 740 instructions of a 39,700-instruction Linear(64, 64)
        # forward at batch 1).
        super().__init_subclass__(**kwargs)
        constructor = cls.__dict__.get("__init__")
        if constructor is not None:
            @functools.wraps(constructor)
            def labelling_constructor(self, *args, **kwargs):
                constructor(self, *args, **kwargs)
                _label_parameters(self)
            cls.__init__ = labelling_constructor

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, grad_output, need_input_grad=True):
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
                if value._label is None:  # set after the constructor: labelled when first found
                    value._label = f"{type(self).__name__}.{name}"
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

    def flatten_parameters(self):
        """Move every parameter into one flat data buffer and one gradient buffer (values kept,
        `.data` and `.grad` become views): optimizers then update the whole model in one C call.
        Returns the `FlatParameters`; call again after adding parameters."""
        from .flat import FlatParameters
        return FlatParameters(self.parameters())

    def summary(self, input_shape, dtype=None):
        """This model's layers, output shapes and parameter counts (fastnn.nn.summary)."""
        from .model_summary import summary
        return summary(self, input_shape, dtype)

    def train(self, mode=True):
        """Set training mode here and below (no module here behaves differently yet; the flag is
        kept for those that will and for code that reads it)."""
        self.training = bool(mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def to_precision(self, precision):
        """Set `precision` ("fp32" or "bf16") on every layer here and below that has one (Linear),
        and return self: the model's products then run on bf16-rounded operands, its weights,
        gradients and optimizer staying float32 (see Linear). Layers without bf16 products
        (convolutions, normalisation) compute as before. Compile steps after calling it.

        A setting on the layers rather than a context like torch's autocast: fastnn has no
        tracer, so a compiled step, a saved file and an eager call all read the one value each
        layer holds, and one layer can differ (`model[-1].precision = "fp32"`).

        >>> from fastnn.nn import Linear, ReLU, Sequential
        >>> model = Sequential(Linear(4, 8, rng=0), ReLU(), Linear(8, 2, rng=1)).to_precision("bf16")
        >>> [layer.precision for layer in model if isinstance(layer, Linear)]
        ['bf16', 'bf16']
        """
        from .precision import set_precision
        set_precision(self, precision)
        return self

    # ------------------------------------------------------------ state

    # Array attributes that are state but not parameters (BatchNorm's running statistics): saved
    # and loaded with the parameters, never handed to an optimizer.
    _buffer_names = ()

    def _named_state(self, prefix=""):
        """(name, array) of every parameter's data and buffer, here and below, torch's order."""
        for name, p in vars(self).items():
            if isinstance(p, Parameter):
                yield prefix + name, p.data
        for name in self._buffer_names:
            value = getattr(self, name, None)
            if value is not None:
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child._named_state(f"{prefix}{name}.")

    def state_dict(self):
        """An OrderedDict of parameter (and buffer) name -> a copy of its data."""
        return OrderedDict((name, array.copy()) for name, array in self._named_state())

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays from `state_dict` into the parameters and buffers of the same names (cast to
        their dtype). Every name must match both ways when `strict`; shapes must always match.
        Returns (missing_keys, unexpected_keys)."""
        own = OrderedDict(self._named_state())
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        if strict and (missing or unexpected):
            raise ValueError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                             f"unexpected keys {unexpected}")
        for name, array in own.items():
            if name in state_dict:
                value = np.asarray(state_dict[name])
                if value.shape != array.shape:
                    raise ValueError(f"{type(self).__name__}.load_state_dict: size mismatch for "
                                     f"{name}: the checkpoint has shape {value.shape}, the model "
                                     f"{array.shape}")
        for name, array in own.items():
            if name in state_dict:
                np.copyto(array, state_dict[name], casting="same_kind")
        return missing, unexpected

    # ------------------------------------------------------------ display

    def extra_repr(self):
        return ""

    def __repr__(self):
        children = [f"({name}): " + repr(child).replace("\n", "\n  ")
                    for name, child in self.named_children()]
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(children) + "\n)"


def _label_parameters(module):
    """Name each parameter `module` holds after its class and attribute, for error messages,
    and any its constructor set on a sub-module after that one was built."""
    for name, value in vars(module).items():
        if isinstance(value, Parameter):
            value._label = f"{type(module).__name__}.{name}"
    for _ in module._named_parameters_with_duplicates():
        pass


def describe(module):
    """A one-line name for error messages (a container's repr spans lines)."""
    return f"{type(module).__name__}({module.extra_repr()})"


def backward_before_forward(module):
    return RuntimeError(f"{describe(module)}: backward called before forward (nothing cached to "
                        f"differentiate)")


def check_grad_output(module, grad_output, output):
    """grad_output must be an ndarray of the shape and dtype of the output it differentiates."""
    if (type(grad_output) is not np.ndarray or grad_output.shape != output.shape
            or grad_output.dtype != output.dtype):
        raise ValueError(f"{describe(module)}: grad_output must match the forward output, shape "
                         f"{output.shape} {output.dtype}; got "
                         f"{getattr(grad_output, 'shape', type(grad_output).__name__)} "
                         f"{getattr(grad_output, 'dtype', '')}".rstrip())
