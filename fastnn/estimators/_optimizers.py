"""scikit-learn's stochastic solvers for the MLP estimators, run by fastnn.optim's C updates on
the network's layers' parameters in two groups, weights and intercepts, each one stretch of the
network's flat buffer (so each is stepped in one pass, and a compiled step can bind them, the
weights' group carrying scikit-learn's L2 term as weight_decay while it runs).

scikit-learn's rules (_stochastic_optimizers.py) and how they map onto torch's, which fastnn.optim
implements:
- SGD: v ← μ·v − η·g, then w ← w + v, or with Nesterov's momentum w ← w + μ·v − η·g. torch keeps
  b ← μ·b + g and steps w ← w − η·b (w ← w − η·(g + μ·b)); the two agree while v = −η·b, so when
  a schedule changes η we rescale b by η_old/η_new (scikit-learn's velocity keeps the old rate).
- Adam: w ← w − η·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε). torch divides √v by √(1−β₂ᵗ) before adding
  its eps, so passing eps = ε/√(1−β₂ᵗ) at step t gives scikit-learn's update exactly (a compiled
  step adds ε scikit-learn's way itself: `sklearn_adam_eps`).
Learning-rate schedules (SGD only, as in scikit-learn): "constant"; "invscaling",
η = η₀ / (t + 1)^power_t with t the number of samples seen, set at the end of each epoch;
"adaptive", η divided by 5 each time the stopping rule fires, until it falls below 1e-6.
The state lives here, so partial_fit and warm_start continue where the last call stopped;
`get_state()` and `from_state()` carry it through fastnn.save / fastnn.load.
"""
import math

import numpy as np

from .. import optim


def _groups(network):
    """The layers' own parameters (views of the network's flat buffer, so each group is stepped
    in one pass), weights and intercepts apart: a compiled step penalises only the weights."""
    return [{"params": network.weight_parameters}, {"params": network.intercept_parameters}]


def _parameters(optimizer):
    return [p for group in optimizer.param_groups for p in group["params"]]


def _flat_state(optimizer, name):
    """A state array of every parameter, in the flat buffer's order, or None before it exists."""
    states = [optimizer.state.get(p, {}).get(name) for p in _parameters(optimizer)]
    if any(state is None for state in states):
        return None
    return np.concatenate([state.ravel() for state in states])


def _load_flat_state(optimizer, names, scalars, arrays):
    """Fill each parameter's state from flat arrays (the layout _flat_state returns)."""
    for group in optimizer.param_groups:
        for _ in optimizer._update_units(group["params"], names, scalars):
            pass
    offset = 0
    for p in _parameters(optimizer):
        size = p.data.size
        for name, array in zip(names, arrays):
            optimizer.state[p][name][...] = array[offset:offset + size].reshape(p.data.shape)
        offset += size


class _Compiled:
    """The network's compiled step under this rule (made on first use), for train_epoch."""

    compiled = None

    def compiled_step(self, network, loss, loss_weights=(1.0, 1.0)):
        if self.compiled is None or self.compiled[0] is not loss or self.compiled[1] != loss_weights:
            step = network.model.compile_step(loss, self.optimizer, sklearn_adam_eps=isinstance(self, Adam),
                                              loss_weights=loss_weights)
            self.compiled = (loss, loss_weights, step)
        return self.compiled[2]

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("compiled", None)
        return state


class SGD(_Compiled):
    def __init__(self, network, learning_rate_init, schedule, momentum, nesterov, power_t):
        self.learning_rate_init = float(learning_rate_init)
        self.schedule, self.power_t = schedule, power_t
        self.optimizer = optim.SGD(_groups(network), lr=self.learning_rate_init, momentum=momentum,
                                   nesterov=bool(nesterov and momentum > 0))
        self.group = self.optimizer.param_groups[0]

    @property
    def learning_rate(self):
        return self.group["lr"]

    def _set_learning_rate(self, learning_rate):
        for p in _parameters(self.optimizer):
            buffer = self.optimizer.state.get(p, {}).get("momentum_buffer")
            if buffer is not None:
                buffer *= self.group["lr"] / learning_rate
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate

    def set_weight_decay(self, weight_decay):
        """The weights' L2 strength for the compiled step (the plain step adds it itself)."""
        self.group["weight_decay"] = weight_decay

    def compiled_steps_ran(self, steps):
        pass

    def step(self):
        self.optimizer.step()

    def epoch_ends(self, samples_seen):
        if self.schedule == "invscaling":
            self._set_learning_rate(self.learning_rate_init / (samples_seen + 1) ** self.power_t)

    def should_stop(self):
        """Called when the loss (or validation score) stopped improving: stop, or for the
        adaptive schedule divide the rate by 5 and go on while it stays above 1e-6."""
        if self.schedule != "adaptive" or self.learning_rate <= 1e-6:
            return True
        self._set_learning_rate(self.learning_rate / 5.0)
        return False

    def get_state(self):
        """The rule's settings and current rate as JSON scalars, the momentum buffer as an array
        (None until the first step makes it)."""
        buffer = _flat_state(self.optimizer, "momentum_buffer") if self.group["momentum"] else None
        return {"optimizer": "sgd", "optimizer.learning_rate_init": self.learning_rate_init,
                "optimizer.schedule": self.schedule, "optimizer.power_t": self.power_t,
                "optimizer.momentum": self.group["momentum"], "optimizer.nesterov": self.group["nesterov"],
                "optimizer.learning_rate": self.group["lr"],
                "optimizer.momentum_buffer": buffer}

    @classmethod
    def from_state(cls, network, reader):
        """The SGD that get_state described, over `network`, its entries taken from `reader`."""
        sgd = cls(network, reader.number("optimizer.learning_rate_init"),
                  reader.choice("optimizer.schedule", ("constant", "invscaling", "adaptive")),
                  reader.number("optimizer.momentum"), reader.boolean("optimizer.nesterov"),
                  reader.number("optimizer.power_t"))
        learning_rate = reader.number("optimizer.learning_rate")
        for group in sgd.optimizer.param_groups:
            group["lr"] = learning_rate
        buffer = reader.array("optimizer.momentum_buffer", [network.dtype], network.params.shape, nullable=True)
        if buffer is not None:
            _load_flat_state(sgd.optimizer, ("momentum_buffer",), {"momentum_started": True}, [buffer])
        return sgd


class Adam(_Compiled):
    def __init__(self, network, learning_rate_init, beta_1, beta_2, epsilon):
        self.learning_rate = float(learning_rate_init)
        self.beta_2, self.epsilon = beta_2, epsilon
        self.t = 0
        self.optimizer = optim.Adam(_groups(network), lr=self.learning_rate, betas=(beta_1, beta_2), eps=epsilon)
        self.group = self.optimizer.param_groups[0]

    def step(self):
        self.t += 1
        for group in self.optimizer.param_groups:
            group["eps"] = self.epsilon / math.sqrt(1 - self.beta_2 ** self.t)
        self.optimizer.step()

    def set_weight_decay(self, weight_decay):
        """The weights' L2 strength for the compiled step, whose eps is scikit-learn's own."""
        self.group["weight_decay"] = weight_decay
        for group in self.optimizer.param_groups:
            group["eps"] = self.epsilon

    def compiled_steps_ran(self, steps):
        self.t += steps

    def epoch_ends(self, samples_seen):
        pass

    def should_stop(self):
        return True

    def get_state(self):
        """The rule's settings and step count as JSON scalars, the moment estimates as arrays
        (None before the first step)."""
        moments = [_flat_state(self.optimizer, name) for name in ("exp_avg", "exp_avg_sq")]
        return {"optimizer": "adam", "optimizer.learning_rate": self.learning_rate,
                "optimizer.beta_1": self.group["betas"][0], "optimizer.beta_2": self.beta_2,
                "optimizer.epsilon": self.epsilon, "optimizer.t": self.t,
                "optimizer.exp_avg": moments[0] if self.t else None,
                "optimizer.exp_avg_sq": moments[1] if self.t else None}

    @classmethod
    def from_state(cls, network, reader):
        """The Adam that get_state described, over `network`, its entries taken from `reader`."""
        adam = cls(network, reader.number("optimizer.learning_rate"), reader.number("optimizer.beta_1"),
                   reader.number("optimizer.beta_2"), reader.number("optimizer.epsilon"))
        adam.t = reader.integer("optimizer.t")
        moments = [reader.array(f"optimizer.{name}", [network.dtype], network.params.shape, nullable=True)
                   for name in ("exp_avg", "exp_avg_sq")]
        if any(m is None for m in moments) != (adam.t == 0) or any(m is None for m in moments) != all(
                m is None for m in moments):
            reader.fail("optimizer.t", f"is {adam.t}: the moment estimates must be stored exactly when t > 0")
        if adam.t:
            _load_flat_state(adam.optimizer, ("exp_avg", "exp_avg_sq"), {"step": adam.t}, moments)
        return adam
