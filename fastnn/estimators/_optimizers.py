"""scikit-learn's stochastic solvers for the MLP estimators, on one flat parameter buffer.

SGD: v ← μ·v − η·g, then w ← w + v, or with Nesterov's momentum w ← w + μ·v − η·g.
Adam: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − η·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε).
Learning-rate schedules (SGD only, as in scikit-learn): "constant"; "invscaling",
η = η₀ / (t + 1)^power_t with t the number of samples seen, set at the end of each epoch;
"adaptive", η divided by 5 each time the stopping rule fires, until it falls below 1e-6.
The state (velocities, moments, step count, current rate) lives here, so partial_fit and
warm_start continue where the last call stopped.
"""
import numpy as np


class SGD:
    def __init__(self, n_params, dtype, learning_rate_init, schedule, momentum, nesterov, power_t):
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.schedule, self.momentum, self.nesterov, self.power_t = schedule, momentum, nesterov, power_t
        self.velocity = np.zeros(n_params, dtype=dtype)

    def step(self, params, grads):
        velocity, mu = self.velocity, self.momentum
        scaled_grad = grads * self.learning_rate
        velocity *= mu
        velocity -= scaled_grad
        if self.nesterov:
            params += mu * velocity - scaled_grad
        else:
            params += velocity

    def epoch_ends(self, samples_seen):
        if self.schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (samples_seen + 1) ** self.power_t

    def should_stop(self):
        """Called when the loss (or validation score) stopped improving: stop, or for the
        adaptive schedule divide the rate by 5 and go on while it stays above 1e-6."""
        if self.schedule != "adaptive" or self.learning_rate <= 1e-6:
            return True
        self.learning_rate /= 5.0
        return False


class Adam:
    def __init__(self, n_params, dtype, learning_rate_init, beta_1, beta_2, epsilon):
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.t = 0
        self.first_moment = np.zeros(n_params, dtype=dtype)
        self.second_moment = np.zeros(n_params, dtype=dtype)

    def step(self, params, grads):
        self.t += 1
        m, v = self.first_moment, self.second_moment
        m *= self.beta_1
        m += (1 - self.beta_1) * grads
        v *= self.beta_2
        v += (1 - self.beta_2) * (grads * grads)
        self.learning_rate = (self.learning_rate_init * np.sqrt(1 - self.beta_2 ** self.t)
                              / (1 - self.beta_1 ** self.t))
        denominator = np.sqrt(v)
        denominator += self.epsilon
        params -= self.learning_rate * m / denominator

    def epoch_ends(self, samples_seen):
        pass

    def should_stop(self):
        return True
