"""Module.to_precision: one precision set on every layer of a model that has the setting."""
import numpy as np

from .. import _core
from .module import describe


def _modules(module):
    yield module
    for child in module.children():
        yield from _modules(child)


def set_precision(model, precision):
    """Set `precision` on each module below `model` (itself included) whose class has a
    `precision` setting; every such layer is checked before any is changed, so a refused value
    (a float64 layer asked for "bf16") leaves the model as it was."""
    layers = [m for m in _modules(model) if isinstance(getattr(type(m), "precision", None), property)]
    if not layers:
        _core.precision_is_bf16(precision, np.dtype(np.float32), "to_precision")  # a bad name still says so
        if precision != "fp32":
            raise ValueError(f"to_precision: {describe(model)} has no layer with a precision "
                             f"setting (Linear has one)")
        return
    for layer in layers:
        _core.precision_is_bf16(precision, layer.weight.data.dtype, f"to_precision: {describe(layer)}")
    for layer in layers:
        layer.precision = precision
