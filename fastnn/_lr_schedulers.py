"""More learning-rate schedules with torch.optim.lr_scheduler's semantics: MultiStepLR,
CosineAnnealingLR, LambdaLR, OneCycleLR, ReduceLROnPlateau. Exported from fastnn.optim."""
import math
from collections import Counter

import numpy as np

from .optim import LRScheduler, Optimizer

__all__ = ["MultiStepLR", "CosineAnnealingLR", "LambdaLR", "OneCycleLR", "ReduceLROnPlateau"]


def _positive_int(value, name, caller):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{caller}: {name} must be a positive int, got {value!r}")
    return int(value)


def _current_lrs(optimizer):
    return [group["lr"] for group in optimizer.param_groups]


class MultiStepLR(LRScheduler):
    """Multiply each group's lr by `gamma` at each epoch listed in `milestones` (a milestone
    listed twice multiplies twice).

    >>> import numpy as np
    >>> from fastnn.nn import Parameter
    >>> from fastnn.optim import SGD
    >>> schedule = MultiStepLR(SGD([Parameter(np.zeros(1))], lr=1.0), milestones=[2, 4], gamma=0.5)
    >>> [round(schedule.get_last_lr()[0], 4) for _ in range(5) if schedule.step() is None]
    [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = Counter(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        times = self.milestones.get(self.last_epoch, 0)
        return [lr * self.gamma ** times for lr in _current_lrs(self.optimizer)]


class CosineAnnealingLR(LRScheduler):
    """Anneal each group's lr from its initial value to `eta_min` along half a cosine over
    `T_max` epochs (and back up after, as torch's recursive form does).

    >>> import numpy as np
    >>> from fastnn.nn import Parameter
    >>> from fastnn.optim import SGD
    >>> schedule = CosineAnnealingLR(SGD([Parameter(np.zeros(1))], lr=1.0), T_max=2)
    >>> schedule.step(); round(schedule.get_last_lr()[0], 4)
    0.5
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = _positive_int(T_max, "T_max", "CosineAnnealingLR")
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        epoch, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        lrs = _current_lrs(self.optimizer)
        if epoch == 0:
            return lrs
        if (epoch - 1 - t_max) % (2 * t_max) == 0:
            return [lr + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                    for lr, base in zip(lrs, self.base_lrs)]
        ratio = (1 + math.cos(math.pi * epoch / t_max)) / (1 + math.cos(math.pi * (epoch - 1) / t_max))
        return [ratio * (lr - eta_min) + eta_min for lr in lrs]


class LambdaLR(LRScheduler):
    """lr = initial_lr · lr_lambda(epoch), with one function or one per parameter group.

    >>> import numpy as np
    >>> from fastnn.nn import Parameter
    >>> from fastnn.optim import SGD
    >>> schedule = LambdaLR(SGD([Parameter(np.zeros(1))], lr=1.0), lambda epoch: 0.9 ** epoch)
    >>> schedule.step(); schedule.get_last_lr()
    [0.9]
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        n = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 0
        if callable(lr_lambda):
            self.lr_lambdas = [lr_lambda] * n
        else:
            self.lr_lambdas = list(lr_lambda)
            if len(self.lr_lambdas) != n or not all(map(callable, self.lr_lambdas)):
                raise ValueError(f"LambdaLR: expected one function or {n} functions (one per "
                                 f"parameter group), got {lr_lambda!r}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * f(self.last_epoch) for base, f in zip(self.base_lrs, self.lr_lambdas)]

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin), torch's OneCycleLR: lr rises from max_lr / div_factor
    to max_lr over the first pct_start of `total_steps` (or epochs · steps_per_epoch), then falls
    to that start / final_div_factor ("cos" or "linear" annealing; three_phase adds torch's
    symmetric descent first). With cycle_momentum the momentum (SGD, RMSprop) or beta1 (Adam)
    moves the opposite way between max_momentum and base_momentum. Step once per batch.

    >>> import numpy as np
    >>> from fastnn.nn import Parameter
    >>> from fastnn.optim import SGD
    >>> opt = SGD([Parameter(np.zeros(1))], lr=0.1, momentum=0.9)
    >>> schedule = OneCycleLR(opt, max_lr=1.0, total_steps=10)
    >>> round(schedule.get_last_lr()[0], 4), opt.param_groups[0]["momentum"]
    (0.04, 0.95)
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 last_epoch=-1):
        name = "OneCycleLR"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: expected an Optimizer, got {type(optimizer).__name__}")
        if total_steps is not None:
            self.total_steps = _positive_int(total_steps, "total_steps", name)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (_positive_int(epochs, "epochs", name)
                                * _positive_int(steps_per_epoch, "steps_per_epoch", name))
        else:
            raise ValueError(f"{name}: give total_steps, or epochs and steps_per_epoch")
        if not 0 <= pct_start <= 1 or isinstance(pct_start, bool):
            raise ValueError(f"{name}: pct_start must be in [0, 1], got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{name}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self._anneal = self._cos if anneal_strategy == "cos" else self._linear
        total = self.total_steps
        if three_phase:
            ends = [float(pct_start * total) - 1, float(2 * pct_start * total) - 2, total - 1]
            phases = [("initial_lr", "max_lr", "max_momentum", "base_momentum"),
                      ("max_lr", "initial_lr", "base_momentum", "max_momentum"),
                      ("initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            ends = [float(pct_start * total) - 1, total - 1]
            phases = [("initial_lr", "max_lr", "max_momentum", "base_momentum"),
                      ("max_lr", "min_lr", "base_momentum", "max_momentum")]
        self._phases = list(zip(ends, phases))
        groups = optimizer.param_groups
        max_lrs = list(max_lr) if isinstance(max_lr, (list, tuple)) else [max_lr] * len(groups)
        if len(max_lrs) != len(groups):
            raise ValueError(f"{name}: expected {len(groups)} max_lr values, got {len(max_lrs)}")
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"{name}: {type(optimizer).__name__} has no momentum or beta1 "
                                 f"to cycle; pass cycle_momentum=False")
            self._use_beta1 = "betas" in optimizer.defaults
        if last_epoch == -1:
            for group, top in zip(groups, max_lrs):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
                if cycle_momentum:
                    group["max_momentum"], group["base_momentum"] = max_momentum, base_momentum
                    self._set_momentum(group, max_momentum)
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _cos(start, end, pct):
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    @staticmethod
    def _linear(start, end, pct):
        return (end - start) * pct + start

    def _set_momentum(self, group, value):
        if self._use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {step} times, beyond total_steps="
                             f"{self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, (end, (lr_from, lr_to, m_from, m_to)) in enumerate(self._phases):
                if step <= end or i == len(self._phases) - 1:
                    pct = (step - start) / (end - start)
                    lr = self._anneal(group[lr_from], group[lr_to], pct)
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(group[m_from], group[m_to], pct))
                    break
                start = end
            lrs.append(lr)
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """Multiply each group's lr by `factor` (not below `min_lr`) when the metric passed to
    `step(metric)` has not improved for more than `patience` epochs, then wait `cooldown` epochs;
    "improved" is by `threshold`, relative ("rel") or absolute ("abs"), in `mode` "min" or "max".
    torch's semantics, including that a reduction smaller than `eps` is skipped. An LRScheduler
    (get_last_lr, state_dict) whose step takes the metric and which sets no lr at construction.

    >>> import numpy as np
    >>> from fastnn.nn import Parameter
    >>> from fastnn.optim import SGD
    >>> opt = SGD([Parameter(np.zeros(1))], lr=1.0)
    >>> schedule = ReduceLROnPlateau(opt, patience=1, factor=0.5)
    >>> for loss in [1.0, 1.0, 1.0, 1.0]:
    ...     schedule.step(loss)
    >>> schedule.get_last_lr()
    [0.5]
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        name = "ReduceLROnPlateau"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: expected an Optimizer, got {type(optimizer).__name__}")
        if not 0 <= factor < 1:
            raise ValueError(f"{name}: factor must be in [0, 1), got {factor!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        groups = optimizer.param_groups
        self.min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * len(groups)
        if len(self.min_lrs) != len(groups):
            raise ValueError(f"{name}: expected {len(groups)} min_lr values, got {len(self.min_lrs)}")
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = _current_lrs(optimizer)

    def _is_better(self, value):
        if self.mode == "min":
            bound = self.best * (1 - self.threshold) if self.threshold_mode == "rel" else self.best - self.threshold
            return value < bound
        bound = self.best * (1 + self.threshold) if self.threshold_mode == "rel" else self.best + self.threshold
        return value > bound

    def step(self, metrics):
        value = float(metrics)
        self.last_epoch += 1
        if self._is_better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                new_lr = max(group["lr"] * self.factor, min_lr)
                if group["lr"] - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = _current_lrs(self.optimizer)
