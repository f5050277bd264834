"""Optimizers and learning-rate schedules, with torch.optim's update rules.

An optimizer holds `param_groups` (lists of `fastnn.nn.Parameter` with their hyper-parameters)
and per-parameter `state`; `step()` applies one update to every parameter in place, one C call
per parameter (csrc/optim.c), reading `.grad`. Parameters may be passed as an iterable of
Parameters or, as in torch, of dicts {"params": [...], "lr": ...} overriding the defaults.
"""
import numpy as np

from . import _core
from .nn import Parameter

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "LRScheduler", "StepLR", "ExponentialLR"]


def _check_nonnegative(caller, **values):
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
            raise TypeError(f"{caller}: {name} must be a number, got {type(value).__name__}")
        if not value >= 0:
            raise ValueError(f"{caller}: {name} must be >= 0, got {value}")


class Optimizer:
    """What every optimizer shares: parameter groups, `zero_grad()`, `state_dict()` and
    `load_state_dict()`. Subclasses define `step()`."""

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}
        if isinstance(params, dict) or _is_parameter(params):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Parameters or of "
                            f"dicts, got {type(params).__name__}")
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a dict {"params": [...], hyper-parameter: value, ...}; missing ones take the defaults."""
        name = type(self).__name__
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' entry")
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if _is_parameter(params) else list(params)
        for p in group["params"]:
            if not _is_parameter(p):
                raise TypeError(f"{name}: can only optimize fastnn.nn.Parameter objects, got {type(p).__name__}")
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise ValueError(f"{name}: unknown hyper-parameters {sorted(unknown)}")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in group["params"]}) != len(group["params"]) or any(
                id(p) in seen for p in group["params"]):
            raise ValueError(f"{name}: a parameter appears more than once among the groups")
        self.param_groups.append(group)

    def _check_group(self, group):
        """Raise on hyper-parameters out of range (each optimizer knows its own)."""

    def zero_grad(self):
        """Zero the `.grad` of every parameter (they are then accumulated into again); see
        `Parameter.zero_grad` for why this costs nothing until a gradient is read."""
        for group in self.param_groups:
            for p in group["params"]:
                p.zero_grad()

    def step(self, closure=None):
        raise NotImplementedError

    def state_dict(self):
        """{"state": {index: {name: copy}}, "param_groups": [{hyper-parameters, "params": [index]}]}
        with parameters numbered in order over the groups, as torch does."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: v.copy() if isinstance(v, np.ndarray) else v
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyper-parameters and state saved by `state_dict()` of an optimizer over
        parameters of the same shapes, in the same groups."""
        name = type(self).__name__
        if (not isinstance(state_dict, dict) or not isinstance(state_dict.get("state"), dict)
                or not isinstance(state_dict.get("param_groups"), list)
                or not all(isinstance(g, dict) and isinstance(g.get("params"), list)
                           for g in state_dict["param_groups"])):
            raise TypeError(f"{name}.load_state_dict: expected what state_dict() returns, a dict with "
                            f"'state' (a dict) and 'param_groups' (a list of dicts with 'params'), got "
                            f"{type(state_dict).__name__}")
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: {len(groups)} parameter groups saved, "
                             f"this optimizer has {len(self.param_groups)}")
        by_index = {}
        for i, (saved, group) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} saved {len(saved['params'])} "
                                 f"parameters, this optimizer has {len(group['params'])}")
            by_index.update(zip(saved["params"], group["params"]))
        state = {}
        for index, saved in state_dict["state"].items():
            if index not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for parameter {index}, which no group holds")
            p = by_index[index]
            state[p] = {}
            if not isinstance(saved, dict):
                raise TypeError(f"{name}.load_state_dict: the state of parameter {index} must be a dict, "
                                f"got {type(saved).__name__}")
            for key, value in saved.items():
                if isinstance(value, np.ndarray):
                    if value.shape != p.data.shape:
                        raise ValueError(f"{name}.load_state_dict: {key} of parameter {index} has shape "
                                         f"{value.shape}, the parameter {p.data.shape}")
                    value = np.array(value, dtype=p.data.dtype, order="C")
                state[p][key] = value
        updated = []
        for saved, group in zip(groups, self.param_groups):
            group = dict(group, **{k: v for k, v in saved.items() if k != "params"})
            unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
            if unknown:
                raise ValueError(f"{name}.load_state_dict: unknown hyper-parameters {sorted(unknown)}")
            self._check_group(group)
            updated.append(group)
        self.param_groups[:] = updated
        self.state = state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])


def _is_parameter(p):
    return isinstance(p, Parameter)


def _parameter_error(optimizer, group_index, position, p, error=None):
    """The error a step raises for a parameter whose .data or .grad the kernel cannot take (None,
    another dtype or size, read-only), naming the parameter by its place among the groups."""
    where = f"{type(optimizer).__name__}.step: parameter {position} of group {group_index}"
    for attribute in ("data", "grad"):
        value = getattr(p, attribute)
        if not isinstance(value, np.ndarray):
            return TypeError(f"{where}: .{attribute} is {type(value).__name__}, not an array; a "
                             f"parameter's .data and .grad are float32/float64 arrays of one shape")
    return type(error)(f"{where} (shape {p.data.shape}, grad {p.grad.dtype} {p.grad.shape}): {error}")


class SGD(Optimizer):
    """Stochastic gradient descent, torch.optim.SGD's rule plus an L1 penalty:

        g = ∇w + weight_decay · w + l1 · sign(w)
        b = g on the first step, then b = momentum · b + (1 − dampening) · g
        g = g + momentum · b (nesterov) or b (momentum > 0)
        w = w − lr · g

    The positional order is torch's (lr, momentum, dampening, weight_decay, nesterov); l1, which
    torch lacks, is keyword-only.

    >>> import numpy as np
    >>> from fastnn.nn import Parameter
    >>> w = Parameter(np.array([1.0, -2.0]))
    >>> w.grad[:] = [0.5, 0.5]
    >>> SGD([w], lr=0.1).step()
    >>> w.data
    array([ 0.95, -2.05])
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, l1=0):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay, l1=l1))

    def _check_group(self, group):
        _check_nonnegative("SGD", lr=group["lr"], momentum=group["momentum"],
                           dampening=group["dampening"], weight_decay=group["weight_decay"], l1=group["l1"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov momentum requires a momentum and zero dampening")

    def step(self, closure=None):
        """Update every parameter once from its `.grad`; returns closure() when given."""
        loss = closure() if closure is not None else None
        sgd_step = _core.sgd_step
        state = self.state
        for group_index, group in enumerate(self.param_groups):
            lr, momentum, dampening = float(group["lr"]), float(group["momentum"]), float(group["dampening"])
            nesterov, weight_decay, l1 = group["nesterov"], float(group["weight_decay"]), float(group["l1"])
            for position, p in enumerate(group["params"]):
                data, grad = p.data, p.grad
                if not isinstance(data, np.ndarray) or not isinstance(grad, np.ndarray):
                    raise _parameter_error(self, group_index, position, p)
                buffer, first_step = None, False
                if momentum != 0:
                    p_state = state.get(p)
                    if p_state is None:
                        p_state = state[p] = {"momentum_buffer": np.empty_like(data)}
                        first_step = True
                    buffer = p_state["momentum_buffer"]
                try:
                    sgd_step(data, grad, buffer, lr, momentum, dampening, nesterov, weight_decay,
                             l1, first_step)
                except (TypeError, ValueError) as exc:
                    raise _parameter_error(self, group_index, position, p, exc) from None
        return loss


class Adam(Optimizer):
    """Adam (Kingma & Ba), torch.optim.Adam's rule with bias correction; weight_decay is an L2
    term added to the gradient (see AdamW for the decoupled form):

        g = ∇w + weight_decay · w;  m = β₁m + (1 − β₁)g;  v = β₂v + (1 − β₂)g²
        w = w − lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + eps)      (amsgrad: v → running max of v)

    >>> import numpy as np
    >>> from fastnn.nn import Parameter
    >>> w = Parameter(np.array([1.0]))
    >>> w.grad[:] = 3.0
    >>> Adam([w], lr=0.1).step()
    >>> w.data.round(6)                  # the first step moves by lr · sign(grad)
    array([0.9])
    """

    _decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))

    def _check_group(self, group):
        name = type(self).__name__
        _check_nonnegative(name, lr=group["lr"], eps=group["eps"], weight_decay=group["weight_decay"])
        betas = group["betas"]
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"{name}: betas must be two numbers in [0, 1), got {betas}")

    def step(self, closure=None):
        """Update every parameter once from its `.grad`; returns closure() when given."""
        loss = closure() if closure is not None else None
        adam_step = _core.adam_step
        decoupled = self._decoupled_weight_decay
        for group_index, group in enumerate(self.param_groups):
            lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = map(float, group["betas"])
            amsgrad = group["amsgrad"]
            for position, p in enumerate(group["params"]):
                data, grad = p.data, p.grad
                if not isinstance(data, np.ndarray) or not isinstance(grad, np.ndarray):
                    raise _parameter_error(self, group_index, position, p)
                p_state = self.state.get(p)
                if p_state is None:
                    p_state = self.state[p] = {"step": 0, "exp_avg": np.zeros_like(data),
                                               "exp_avg_sq": np.zeros_like(data)}
                    if amsgrad:
                        p_state["max_exp_avg_sq"] = np.zeros_like(data)
                try:
                    adam_step(data, grad, p_state["exp_avg"], p_state["exp_avg_sq"],
                              p_state.get("max_exp_avg_sq"), lr, beta1, beta2, eps, weight_decay,
                              decoupled, p_state["step"] + 1)
                except (TypeError, ValueError) as exc:
                    raise _parameter_error(self, group_index, position, p, exc) from None
                p_state["step"] += 1
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), torch.optim.AdamW's rule: each step
    first shrinks w by (1 − lr · weight_decay), then applies Adam without the L2 term.

    >>> import numpy as np
    >>> from fastnn.nn import Parameter
    >>> w = Parameter(np.array([1.0]))
    >>> AdamW([w], lr=0.1, weight_decay=0.5).step()   # zero gradient: only the decay acts
    >>> w.data
    array([0.95])
    """

    _decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class MissingInitialLR(KeyError, ValueError):
    """Resuming a schedule (last_epoch >= 0) over groups without "initial_lr": a KeyError as in
    torch, and a ValueError as every other bad argument here."""


class LRScheduler:
    """Sets each group's "lr" once per `step()` (call it after `optimizer.step()`, once per epoch
    or per iteration as you choose); `get_last_lr()` returns what it set last."""

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, (int, np.integer)):
            raise TypeError(f"{type(self).__name__}: last_epoch must be an int, got {type(last_epoch).__name__}")
        if last_epoch < -1:
            raise ValueError(f"{type(self).__name__}: last_epoch must be >= -1, got {last_epoch}")
        gamma = getattr(self, "gamma", 1.0)
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.integer, np.floating)) \
                or not np.isfinite(gamma):
            raise TypeError(f"{type(self).__name__}: gamma must be a finite number, got {gamma!r}")
        self.optimizer = optimizer
        last_epoch = int(last_epoch)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        elif any("initial_lr" not in group for group in optimizer.param_groups):
            raise MissingInitialLR(f"{type(self).__name__}: resuming at last_epoch={last_epoch} needs "
                           f"'initial_lr' in every parameter group")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self):
        """The learning rates for epoch `last_epoch`, from the current ones (chainable, as torch)."""
        raise NotImplementedError

    def step(self):
        self.last_epoch += 1
        lrs = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def get_last_lr(self):
        return list(self._last_lr)

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """Multiply each group's lr by `gamma` every `step_size` epochs:
    lr = initial_lr · gamma^(epoch // step_size).

    >>> import numpy as np
    >>> from fastnn.nn import Parameter
    >>> opt = SGD([Parameter(np.zeros(1))], lr=1.0)
    >>> schedule = StepLR(opt, step_size=2, gamma=0.5)
    >>> for _ in range(4):
    ...     schedule.step()
    >>> schedule.get_last_lr()
    [0.25]
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if isinstance(step_size, bool) or not isinstance(step_size, (int, np.integer)) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        self.step_size = int(step_size)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0 or self.last_epoch % self.step_size:
            return lrs
        return [lr * self.gamma for lr in lrs]


class ExponentialLR(LRScheduler):
    """Multiply each group's lr by `gamma` every epoch: lr = initial_lr · gamma^epoch.

    >>> import numpy as np
    >>> from fastnn.nn import Parameter
    >>> opt = SGD([Parameter(np.zeros(1))], lr=1.0)
    >>> schedule = ExponentialLR(opt, gamma=0.5)
    >>> schedule.step(); schedule.get_last_lr()
    [0.5]
    """

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0:
            return lrs
        return [lr * self.gamma for lr in lrs]
