"""RMSprop and Adagrad: torch.optim's adaptive-rate optimizers, their updates in C
(csrc/optim_adaptive.c). Exported from fastnn.optim."""
from . import _core
from .optim import Optimizer, _check_nonnegative

__all__ = ["RMSprop", "Adagrad"]


class RMSprop(Optimizer):
    """RMSprop, torch.optim.RMSprop's rule and defaults:

        g = ∇w + weight_decay · w;  s = α·s + (1 − α)·g²
        centered: a = α·a + (1 − α)·g,  d = √(s − a²) + eps;  else d = √s + eps
        momentum > 0: b = momentum · b + g / d,  w = w − lr · b;  else w = w − lr · g / d

    >>> import numpy as np
    >>> from fastnn.nn import Parameter
    >>> w = Parameter(np.array([1.0]))
    >>> w.grad[:] = [2.0]
    >>> RMSprop([w], lr=0.01).step()
    >>> w.data.round(4)
    array([0.9])
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _check_group(self, group):
        _check_nonnegative("RMSprop", lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                           weight_decay=group["weight_decay"], momentum=group["momentum"])

    def step(self, closure=None):
        """Update every parameter once from its `.grad`; returns closure() when given."""
        loss = closure() if closure is not None else None
        for group_index, group in enumerate(self.param_groups):
            centered, momentum = bool(group["centered"]), float(group["momentum"])
            names = ("square_avg",) + (("grad_avg",) if centered else ()) + (
                ("momentum_buffer",) if momentum > 0 else ())
            for data, grad, arrays, states in self._step_units(group_index, group, names,
                                                               {"step": 0}):
                for p_state in states:
                    p_state["step"] += 1
                named = dict(zip(names, arrays))
                _core.rmsprop_step(data, grad, named["square_avg"], named.get("grad_avg"),
                                   named.get("momentum_buffer"), float(group["lr"]),
                                   float(group["alpha"]), float(group["eps"]),
                                   float(group["weight_decay"]), momentum)
        return loss


class Adagrad(Optimizer):
    """Adagrad, torch.optim.Adagrad's rule and defaults (the sum starts at
    initial_accumulator_value):

        g = ∇w + weight_decay · w;  sum = sum + g²
        w = w − lr / (1 + (t − 1)·lr_decay) · g / (√sum + eps)

    >>> import numpy as np
    >>> from fastnn.nn import Parameter
    >>> w = Parameter(np.array([1.0]))
    >>> w.grad[:] = [2.0]
    >>> Adagrad([w], lr=0.1).step()
    >>> w.data.round(4)
    array([0.9])
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _check_group(self, group):
        _check_nonnegative("Adagrad", lr=group["lr"], lr_decay=group["lr_decay"], eps=group["eps"],
                           weight_decay=group["weight_decay"],
                           initial_accumulator_value=group["initial_accumulator_value"])

    def step(self, closure=None):
        """Update every parameter once from its `.grad`; returns closure() when given."""
        loss = closure() if closure is not None else None
        for group_index, group in enumerate(self.param_groups):
            for data, grad, arrays, states in self._step_units(group_index, group, ("sum",),
                                                               {"step": 0}):
                steps = {p_state["step"] for p_state in states}
                if len(steps) != 1:
                    raise ValueError(f"Adagrad: parameters sharing a flat state buffer are at "
                                     f"different step counts {sorted(steps)}")
                step = steps.pop() + 1
                if step == 1:
                    arrays[0].fill(group["initial_accumulator_value"])
                for p_state in states:
                    p_state["step"] = step
                _core.adagrad_step(data, grad, arrays[0], float(group["lr"]),
                                   float(group["lr_decay"]), float(group["eps"]),
                                   float(group["weight_decay"]), step)
        return loss
