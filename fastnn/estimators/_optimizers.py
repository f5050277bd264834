"""scikit-learn's stochastic solvers for the MLP estimators, run by fastnn.optim's C updates on
the network's one flat parameter buffer.

scikit-learn's rules (_stochastic_optimizers.py) and how they map onto torch's, which fastnn.optim
implements:
- SGD: v ← μ·v − η·g, then w ← w + v, or with Nesterov's momentum w ← w + μ·v − η·g. torch keeps
  b ← μ·b + g and steps w ← w − η·b (w ← w − η·(g + μ·b)); the two agree while v = −η·b, so when
  a schedule changes η we rescale b by η_old/η_new (scikit-learn's velocity keeps the old rate).
- Adam: w ← w − η·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε). torch divides √v by √(1−β₂ᵗ) before adding
  its eps, so passing eps = ε/√(1−β₂ᵗ) at step t gives scikit-learn's update exactly.
Learning-rate schedules (SGD only, as in scikit-learn): "constant"; "invscaling",
η = η₀ / (t + 1)^power_t with t the number of samples seen, set at the end of each epoch;
"adaptive", η divided by 5 each time the stopping rule fires, until it falls below 1e-6.
The state lives here, so partial_fit and warm_start continue where the last call stopped.
"""
import math

from .. import optim
from ..nn import Parameter


def _flat_parameter(network):
    """The whole network as one fastnn Parameter whose data and grad are the network's buffers."""
    parameter = Parameter(network.params)
    parameter.data, parameter.grad = network.params, network.grads
    return parameter


class SGD:
    def __init__(self, network, learning_rate_init, schedule, momentum, nesterov, power_t):
        self.learning_rate_init = float(learning_rate_init)
        self.schedule, self.power_t = schedule, power_t
        self.parameter = _flat_parameter(network)
        self.optimizer = optim.SGD([self.parameter], lr=self.learning_rate_init, momentum=momentum,
                                   nesterov=bool(nesterov and momentum > 0))
        self.group = self.optimizer.param_groups[0]

    @property
    def learning_rate(self):
        return self.group["lr"]

    def _set_learning_rate(self, learning_rate):
        buffer = self.optimizer.state.get(self.parameter, {}).get("momentum_buffer")
        if buffer is not None:
            buffer *= self.group["lr"] / learning_rate
        self.group["lr"] = learning_rate

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


class Adam:
    def __init__(self, network, learning_rate_init, beta_1, beta_2, epsilon):
        self.learning_rate = float(learning_rate_init)
        self.beta_2, self.epsilon = beta_2, epsilon
        self.t = 0
        self.parameter = _flat_parameter(network)
        self.optimizer = optim.Adam([self.parameter], lr=self.learning_rate, betas=(beta_1, beta_2), eps=epsilon)
        self.group = self.optimizer.param_groups[0]

    def step(self):
        self.t += 1
        self.group["eps"] = self.epsilon / math.sqrt(1 - self.beta_2 ** self.t)
        self.optimizer.step()

    def epoch_ends(self, samples_seen):
        pass

    def should_stop(self):
        return True
