"""A model summary: each layer's output shape and parameter count, from one forward pass."""
import numpy as np

from .container import Sequential
from .module import Module

__all__ = ["summary"]


def _walk(module, name, depth):
    yield name, module, depth
    for child_name, child in module.named_children():
        yield from _walk(child, f"{name}.{child_name}" if name else child_name, depth + 1)


def summary(model, input_shape, dtype=None):
    """A table of `model`'s layers (nested ones indented), the shape each outputs for an input of
    `input_shape` (the batch dimension included: (1, 784) for one sample), and its parameter
    count (a container's: its layers' together), with the total; returned as a string (print it). One forward pass on zeros
    of the model's dtype (its first parameter's, float32 without parameters, or `dtype`) is run,
    with Sequential's fused steps unfused so that every layer is seen.

    >>> from fastnn import nn
    >>> model = nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Linear(8, 2, rng=1))
    >>> print(nn.summary(model, (1, 4)))
    Layer                                  Output shape         Parameters
    ----------------------------------------------------------------------
    Sequential                             (1, 2)                       58
      0: Linear                            (1, 8)                       40
      1: ReLU                              (1, 8)                        0
      2: Linear                            (1, 2)                       18
    ----------------------------------------------------------------------
    Total parameters: 58
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected a fastnn Module, got {type(model).__name__}")
    try:
        input_shape = tuple(int(d) for d in input_shape)
    except TypeError:
        raise TypeError(f"summary: input_shape must be a tuple of ints, got {input_shape!r}") from None
    if dtype is None:
        first = next(iter(model.parameters()), None)
        dtype = first.data.dtype if first is not None else np.float32
    modules = list(_walk(model, "", 0))
    shapes, patched = {}, []

    def recording(module, forward):
        def forward_and_record(*args, **kwargs):
            out = forward(*args, **kwargs)
            shapes[id(module)] = getattr(out, "shape", None)
            return out
        return forward_and_record

    for _, module, _ in modules:
        forward = module.forward
        if isinstance(module, Sequential):  # each layer on its own, not the fused plan
            def forward(x, _seq=module):
                for layer in _seq:
                    x = layer(x)
                return x
        module.forward = recording(module, forward)
        patched.append(module)
    try:
        model(np.zeros(input_shape, dtype=dtype))
    finally:
        for module in patched:
            del module.forward
    width = 70
    lines = [f"{'Layer':<38} {'Output shape':<20} {'Parameters':>10}", "-" * width]
    for name, module, depth in modules:
        shown = sum(p.size for p in module.parameters())  # a container's: its layers' together
        label = "  " * depth + (f"{name.rsplit('.', 1)[-1]}: " if name else "") + type(module).__name__
        shape = shapes.get(id(module))
        lines.append(f"{label:<38} {str(shape) if shape is not None else '-':<20} {shown:>10}")
    total = sum(p.size for p in model.parameters())
    lines += ["-" * width, f"Total parameters: {total}"]
    return "\n".join(lines)
