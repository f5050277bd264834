"""Gradient clipping, in place, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_."""
import math

import numpy as np

from .parameter import Parameter

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _gradients(parameters, caller):
    if isinstance(parameters, Parameter):
        parameters = [parameters]
    parameters = list(parameters)
    for p in parameters:
        if not isinstance(p, Parameter):
            raise TypeError(f"{caller}: expected Parameters, got {type(p).__name__}")
    return [p.grad for p in parameters]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the gradients in place so that their total `norm_type`-norm (over all parameters as
    one vector) is at most `max_norm`; returns the total norm before clipping. As torch: the
    scale is max_norm / (norm + 1e-6), capped at 1; norm_type may be float("inf").

    >>> import numpy as np
    >>> from fastnn.nn import Parameter
    >>> p = Parameter(np.zeros(2)); p.grad[:] = [3.0, 4.0]
    >>> clip_grad_norm_([p], max_norm=1.0)
    5.0
    >>> p.grad.round(4)
    array([0.6, 0.8])
    """
    grads = _gradients(parameters, "clip_grad_norm_")
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type}")
    if not grads:
        return 0.0
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(g), initial=0.0)) for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g, dtype=np.float64) ** norm_type)) for g in grads) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients "
                           f"is {total}; set error_if_nonfinite=False to clip anyway")
    scale = min(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g *= g.dtype.type(scale)
    return total


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient element in place to [−clip_value, clip_value].

    >>> import numpy as np
    >>> from fastnn.nn import Parameter
    >>> p = Parameter(np.zeros(3)); p.grad[:] = [-5.0, 0.5, 5.0]
    >>> clip_grad_value_(p, 1.0); p.grad
    array([-1. ,  0.5,  1. ])
    """
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for g in _gradients(parameters, "clip_grad_value_"):
        np.clip(g, -clip_value, clip_value, out=g)
