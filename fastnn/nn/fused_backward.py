"""The optimizer inside an eager backward: `model.backward(grad_output, optimizer=opt)`.

    >>> import numpy as np
    >>> from fastnn import nn, optim
    >>> model = nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Linear(8, 3, rng=1))
    >>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> loss_fn = nn.CrossEntropyLoss()
    >>> x, y = np.ones((2, 4), np.float32), np.array([0, 2])
    >>> losses = []
    >>> for _ in range(20):
    ...     opt.zero_grad()
    ...     losses.append(loss_fn(model(x), y))
    ...     model.backward(loss_fn.backward(), need_input_grad=False, optimizer=opt)  # no opt.step()
    >>> losses[-1] < losses[0]
    True

equals `model.backward(...)` followed by `opt.step()` to rounding, for SGD (momentum, Nesterov,
dampening, weight decay, L1), Adam and AdamW (amsgrad too). Each Linear weight the optimizer holds
is stepped as soon as its layer's input gradient is formed (from the weight before it changes),
by the same C path as the compiled step (csrc/fused_optim.h): its gradient dW is summed beside
the update for a few rows, updated from L2 block by block, or in the GEMM's write-back, so it is
never read back from memory. Every other parameter the optimizer holds (biases, other layers) is
stepped by `opt.step()`'s own rule once the backward is done.

What differs from backward() + step():
- each fused weight's `.grad` reads as zeros afterwards (the update consumed it; with few rows it
  is never stored at all), as after a compiled step;
- gradient accumulation works as usual: backward() without an optimizer adds into `.grad`, and
  the backward with one adds its batch and applies the sum;
- learning rates and every other hyper-parameter are read from the groups at each call
  (schedulers work as usual).
"""
import numpy as np

from .. import _core
from .plan import _rule_of


class OptimizerInBackward:
    """One backward's binding of `optimizer` to the weights it steps: the Linear layers ask
    `weight_step(weight)` for the update to run in place of their dW GEMM; `finish()` then steps
    the optimizer's other parameters."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.rule = _rule_of(optimizer, "backward(optimizer=)")
        self.group_of = {id(p): group for group in optimizer.param_groups for p in group["params"]}
        self.stepped = set()

    def _state(self, parameter, group):
        """The parameter's optimizer state, made the optimizer's own way where missing (flat
        arrays for a flattened model), so plain and fused steps share it."""
        opt = self.optimizer
        if parameter not in opt.state:
            zeroed = {p: p._grad_zeroed for p in group["params"]}
            for _ in opt._update_units(group["params"], *opt._state_layout(group)):
                pass
            for p, was_zeroed in zeroed.items():  # making the state read no gradient
                p._grad_zeroed = was_zeroed
        return opt.state[parameter]

    def weight_step(self, weight):
        """A function (delta, x, grad, accumulate) stepping `weight` from its batch's dS (n, out)
        and input x (n, in), or None when the optimizer does not hold it."""
        group = self.group_of.get(id(weight))
        if group is None:
            return None

        def step(delta, x, grad, accumulate):
            delta, x = np.ascontiguousarray(delta), np.ascontiguousarray(x)
            state = self._state(weight, group)
            lr = float(group["lr"])
            if self.rule == "sgd":
                buffer = state.get("momentum_buffer") if group["momentum"] != 0 else None
                first = buffer is not None and not state.get("momentum_started", True)
                _core.fused_sgd_weight_step(delta, x, grad, accumulate, weight.data, buffer, lr,
                                            float(group["momentum"]), float(group["dampening"]),
                                            bool(group["nesterov"]), float(group["weight_decay"]),
                                            float(group["l1"]), first)
                if buffer is not None:
                    state["momentum_started"] = True
            else:
                beta1, beta2 = map(float, group["betas"])
                _core.fused_adam_weight_step(
                    delta, x, grad, accumulate, weight.data, state["exp_avg"], state["exp_avg_sq"],
                    state.get("max_exp_avg_sq") if group["amsgrad"] else None, lr, beta1, beta2,
                    float(group["eps"]), float(group["weight_decay"]), self.rule == "adamw",
                    int(state["step"]))
                state["step"] += 1
            weight._grad_zeroed = True  # consumed by the update
            self.stepped.add(id(weight))
        return step

    def finish(self):
        """Steps every parameter of the optimizer that no layer stepped, by its plain rule."""
        groups = self.optimizer.param_groups
        held = [group["params"] for group in groups]
        try:
            for group in groups:
                group["params"] = [p for p in group["params"] if id(p) not in self.stepped]
            self.optimizer.step()
        finally:
            for group, params in zip(groups, held):
                group["params"] = params
