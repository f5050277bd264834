"""Optimizers and learning-rate schedules, with torch.optim's update rules.

An optimizer holds `param_groups` (lists of `fastnn.nn.Parameter` with their hyper-parameters)
and per-parameter `state`; `step()` applies one update to every parameter in place, one C call
per parameter (csrc/optim.c), reading `.grad` — or one C call per flat buffer, for parameters
that `Module.flatten_parameters()` put in one (their state is then one flat array too, of which
each parameter's state entry is a view). Parameters may be passed as an iterable of
Parameters or, as in torch, of dicts {"params": [...], "lr": ...} overriding the defaults.
"""
from itertools import chain
from operator import attrgetter, is_, methodcaller

import numpy as np

from . import _aligned as aligned
from . import _core
from .nn import Parameter
from .nn.flat import flat_runs

_DATA, _GRAD, _GRAD_ZEROED = attrgetter("_data"), attrgetter("_grad"), attrgetter("_grad_zeroed")

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "LRScheduler", "StepLR",
           "ExponentialLR", "MultiStepLR", "CosineAnnealingLR", "LambdaLR", "OneCycleLR",
           "ReduceLROnPlateau"]


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

    def _check_arrays(self, group_index, params):
        """A TypeError naming the parameter whose .data or .grad is not an array (None, say),
        before any state is made for it or the C update reads it."""
        for position, p in enumerate(params):
            for attribute in ("data", "grad"):
                value = getattr(p, attribute)
                if not isinstance(value, np.ndarray):
                    raise TypeError(f"{type(self).__name__}.step: parameter {position} of group {group_index}: "
                                    f".{attribute} is {type(value).__name__}, not an array; a parameter's .data "
                                    f"and .grad are float32/float64 arrays of one shape")

    def _unit_error(self, group_index, data, grad, error):
        """`error` from the C update, saying which group and shapes it concerns."""
        return type(error)(f"{type(self).__name__}.step: a parameter of group {group_index} (shape "
                           f"{data.shape}, grad {grad.dtype} {grad.shape}): {error}")

    def _update_units(self, params, state_names, scalar_state=None):
        """What one step updates with one C call each: (data, grad, state arrays, state dicts)
        for every run of `params` that is one stretch of a flat buffer, and for every other
        parameter alone. A run's state arrays are flat, each parameter's state entries views of
        them; state made before the run existed (per parameter, or loaded) keeps the run apart.
        `scalar_state` are per-parameter values (as Adam's step) added to new state dicts."""
        state = self.state
        for flat, start, stop, members in flat_runs(params):
            for p in members:
                p.grad  # materialises a lazily zeroed gradient
            if flat is not None and len(members) > 1:
                arrays = self._flat_state(flat, start, stop, members, state_names, scalar_state)
                if arrays is not None:
                    yield (flat.data[start:stop], flat.grad[start:stop], arrays,
                           [state[p] for p in members])
                    continue
            for p in members:
                p_state = state.get(p)
                if p_state is None:
                    p_state = state[p] = {name: aligned.zeros_like(p.data) for name in state_names}
                    p_state.update(scalar_state or {})
                yield p.data, p.grad, [p_state[name] for name in state_names], [p_state]

    def _step_units(self, group_index, group, state_names, scalar_state=None):
        """`_update_units` of `group` as a list, its arrays checked (`_check_arrays`): made on
        the first step and handed out again while the group's list, every parameter in it, its
        data and grad arrays, its state dict and that dict's arrays are the same objects as
        when it was made, and no gradient waits to be lazily zeroed. Compared by identity in
        C-level maps, so that a step of a flattened model costs little Python per parameter
        (SGD(momentum).step on a flattened 60-tensor model, one Zen 5 core: 43.5 us when every
        step re-derived the units, 34 with this check as a Python loop, 14 with the maps). Every
        optimizer's step takes its units here."""
        params = group["params"]
        cache = self.__dict__.setdefault("_step_unit_cache", {})
        made = cache.get(group_index)
        if made is not None and made[0] == state_names and made[1] is params:
            dicts = list(map(self.state.get, params))
            if (None not in dicts and len(dicts) == made[2] and not any(map(_GRAD_ZEROED, params))
                    and all(map(is_, self._unit_objects(params, dicts, state_names), made[3]))):
                return made[4]
        self._check_arrays(group_index, params)
        units = list(self._update_units(params, state_names, scalar_state))
        dicts = list(map(self.state.get, params))
        cache[group_index] = (state_names, params, len(params),
                              list(self._unit_objects(params, dicts, state_names)), units)
        return units

    def _unit_objects(self, params, dicts, state_names):
        """The objects a step's units are made from, in order: the state dict, the parameters,
        their data arrays, grad arrays, state dicts and each named state array."""
        getters = [map(methodcaller("get", name), dicts) for name in state_names]
        return chain((self.state,), params, map(_DATA, params), map(_GRAD, params), dicts, *getters)

    def _flat_state(self, flat, start, stop, members, state_names, scalar_state):
        """The run's flat state arrays (made on first use), or None when its members' state is
        not views of such arrays.

        The arrays made are kept here, keyed by the run, with the views handed to each member,
        and recognised by those views still being its state: `.base` cannot tell, since the
        arrays start on a cache line (fastnn/_aligned.py) and numpy collapses a view's base to
        the raw byte buffer below; an identity check also costs far less than comparing the
        addresses of every member's arrays, each step."""
        state = self.state
        if not state_names:
            if all(p in state for p in members) or not any(p in state for p in members):
                for p in members:
                    state.setdefault(p, dict(scalar_state or {}))
                return []
            return None
        runs = self.__dict__.setdefault("_flat_runs", {})
        if not any(p in state for p in members):
            arrays = [aligned.zeros(stop - start, flat.data.dtype) for _ in state_names]
            views, offset = [], 0
            for p in members:
                size = p.data.size
                state[p] = {name: array[offset:offset + size].reshape(p.data.shape)
                            for name, array in zip(state_names, arrays)}
                views.append((p, [state[p][name] for name in state_names]))
                state[p].update(scalar_state or {})
                offset += size
            runs[(flat, start, stop)] = (list(state_names), arrays, views)
            return arrays
        made = runs.get((flat, start, stop))
        if made is None or made[0] != list(state_names) or len(made[2]) != len(members):
            return None
        names, arrays, views = made
        for p, (owner, entries) in zip(members, views):
            p_state = state.get(p)
            if owner is not p or p_state is None or any(
                    p_state.get(name) is not entry for name, entry in zip(names, entries)):
                return None
        return arrays

    def __getstate__(self):
        # a copy of the runs' flat arrays would share no memory with the copied state entries
        state = self.__dict__.copy()
        state.pop("_flat_runs", None)
        state.pop("_step_unit_cache", None)
        return state

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
                    value = aligned.full(value.shape, value, p.data.dtype)  # a copy, on a cache line
                state[p][key] = value
        updated = []
        for saved, group in zip(groups, self.param_groups):
            group = dict(group)
            group.update((k, v) for k, v in saved.items() if k != "params")
            unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
            if unknown:
                raise ValueError(f"{name}.load_state_dict: unknown hyper-parameters {sorted(unknown)}")
            self._check_group(group)
            updated.append(group)
        self.param_groups[:] = updated
        self.state = state
        self.__dict__.pop("_flat_runs", None)
        self.__dict__.pop("_step_unit_cache", None)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])


def _is_parameter(p):
    return isinstance(p, Parameter)


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

    def _state_layout(self, group):
        """The state arrays and scalars each parameter of `group` carries (made by _update_units;
        the compiled step and the optimizer in backward make them the same way)."""
        return (("momentum_buffer",) if group["momentum"] != 0 else ()), {"momentum_started": False}

    def step(self, closure=None):
        """Update every parameter once from its `.grad`; returns closure() when given."""
        loss = closure() if closure is not None else None
        sgd_step = _core.sgd_step
        for group_index, group in enumerate(self.param_groups):
            lr, momentum, dampening = float(group["lr"]), float(group["momentum"]), float(group["dampening"])
            nesterov, weight_decay, l1 = group["nesterov"], float(group["weight_decay"]), float(group["l1"])
            for data, grad, arrays, states in self._step_units(group_index, group,
                                                               *self._state_layout(group)):
                buffer = arrays[0] if arrays else None
                first_step = buffer is not None and not states[0].get("momentum_started", True)
                try:
                    sgd_step(data, grad, buffer, lr, momentum, dampening, nesterov, weight_decay,
                             l1, first_step)
                except (TypeError, ValueError) as exc:
                    raise self._unit_error(group_index, data, grad, exc) from None
                if first_step:
                    for p_state in states:
                        p_state["momentum_started"] = True
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

    def _state_layout(self, group):
        """The state arrays and scalars each parameter of `group` carries (as SGD's)."""
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ()), {"step": 0}

    def step(self, closure=None):
        """Update every parameter once from its `.grad`; returns closure() when given."""
        loss = closure() if closure is not None else None
        adam_step = _core.adam_step
        decoupled = self._decoupled_weight_decay
        for group_index, group in enumerate(self.param_groups):
            lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = map(float, group["betas"])
            for data, grad, arrays, states in self._step_units(group_index, group,
                                                               *self._state_layout(group)):
                steps = {p_state["step"] for p_state in states}
                if len(steps) != 1:
                    raise ValueError(f"{type(self).__name__}: parameters sharing a flat state buffer "
                                     f"are at different step counts {sorted(steps)}")
                step = steps.pop() + 1
                try:
                    adam_step(data, grad, arrays[0], arrays[1], arrays[2] if len(arrays) > 2 else None,
                              lr, beta1, beta2, eps, weight_decay, decoupled, step)
                except (TypeError, ValueError) as exc:
                    raise self._unit_error(group_index, data, grad, exc) from None
                for p_state in states:
                    p_state["step"] = step
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


# RMSprop and Adagrad, and the further schedules, live in their own files (one concern a file);
# they build on the classes above, so they are imported last.
from ._optim_adaptive import Adagrad, RMSprop  # noqa: E402
from ._lr_schedulers import (CosineAnnealingLR, LambdaLR, MultiStepLR, OneCycleLR,  # noqa: E402
                             ReduceLROnPlateau)
