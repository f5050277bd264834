"""The fully-connected network behind the MLP estimators, its parameters in one flat buffer.

The weights are stored as fastnn's layers store them, (out, in), and scikit-learn's coefs_[i]
(fan_in, fan_out) are their transposed views; all weights come first in the buffer, then all
intercepts, and the gradients have the same layout. So the optimiser updates every parameter
with one kernel call per step, the L2 penalty seeds the gradient buffer in one pass, and the best
weights of early stopping are one copy.

Each layer runs through fastnn.functional: forward is one GEMM with bias and activation fused
into its write-back; backward forms dS = dA ⊙ σ'(S) and the bias gradient in one pass and
accumulates dW = dSᵀ·A into the buffer on the GEMM, skipping the input's gradient.
"""
import numpy as np

from .. import functional as F

HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "gelu")
_FUNCTIONAL_NAME = {"identity": None, "logistic": "sigmoid", "tanh": "tanh", "relu": "relu", "gelu": "gelu"}


class DenseNetwork:
    """Layers of `layer_units` (input, hidden..., output) with `activation` between them and a
    linear output (the estimator applies its output function inside its loss). With rng=None
    the parameters are not drawn: the caller fills them (with `load`)."""

    def __init__(self, layer_units, activation, dtype, rng):
        self.layer_units = list(layer_units)
        self.activation = activation
        self.dtype = np.dtype(dtype)
        self.n_coef = sum(a * b for a, b in zip(self.layer_units[:-1], self.layer_units[1:]))
        self.params = np.empty(self.n_coef + sum(self.layer_units[1:]), dtype=self.dtype)
        self.grads = np.zeros_like(self.params)
        self._make_views()
        if rng is None:
            return
        # Glorot-uniform as scikit-learn draws it, layer by layer: coefficients, then intercepts.
        factor = 2.0 if activation == "logistic" else 6.0
        for coef, intercept in zip(self.coefs, self.intercepts):
            fan_in, fan_out = coef.shape
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef[...] = rng.uniform(-bound, bound, (fan_in, fan_out))
            intercept[...] = rng.uniform(-bound, bound, fan_out)

    def _make_views(self):
        self.weights, self.intercepts = self._views(self.params)
        self.weight_grads, self.intercept_grads = self._views(self.grads)
        self.coefs = [w.T for w in self.weights]

    def _views(self, flat):
        shapes = list(zip(self.layer_units[1:], self.layer_units[:-1]))  # (out, in)
        weights, intercepts, start = [], [], 0
        for fan_out, fan_in in shapes:
            weights.append(flat[start:start + fan_out * fan_in].reshape(fan_out, fan_in))
            start += fan_out * fan_in
        for fan_out, _ in shapes:
            intercepts.append(flat[start:start + fan_out])
            start += fan_out
        return weights, intercepts

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items()
                if k not in ("weights", "intercepts", "weight_grads", "intercept_grads", "coefs")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._make_views()  # unpickled views would be copies: make them views of the buffer again

    def owns(self, coefs, intercepts):
        """True if `coefs` and `intercepts` are still this network's views (not replaced by the user)."""
        return (len(coefs) == len(self.coefs) and len(intercepts) == len(self.intercepts)
                and all(a is b for a, b in zip(coefs, self.coefs))
                and all(a is b for a, b in zip(intercepts, self.intercepts)))

    def load(self, coefs, intercepts):
        """Copy parameters given as lists of arrays (after a user replaced coefs_ or intercepts_)."""
        if len(coefs) != len(self.coefs) or len(intercepts) != len(self.intercepts):
            raise ValueError(f"coefs_/intercepts_: expected {len(self.coefs)} layers, got {len(coefs)}"
                             f" and {len(intercepts)}")
        for mine, theirs in zip(self.coefs + self.intercepts, list(coefs) + list(intercepts)):
            theirs = np.asarray(theirs)
            if theirs.shape != mine.shape:
                raise ValueError(f"coefs_/intercepts_: expected shape {mine.shape}, got {theirs.shape}")
            mine[...] = theirs

    def forward(self, X, keep=False):
        """The output layer's values (before the output function) for X (n, n_in) of self.dtype;
        with keep=True also every layer's output (and pre-activation, for GELU) for backward."""
        code = F.ACTIVATIONS[_FUNCTIONAL_NAME[self.activation] or "identity"]
        keep_pre = keep and self.activation == "gelu"
        outputs, pre_activations = [X], [None]
        A = X
        last = len(self.weights) - 1
        for i, (W, b) in enumerate(zip(self.weights, self.intercepts)):
            pre = np.empty((A.shape[0], W.shape[0]), dtype=self.dtype) if keep_pre and i < last else None
            # the network owns W, b and every activation; only X came from outside, checked by fit
            A = F.linear_unchecked(A, W, b, code if i < last else F.ACTIVATIONS["identity"],
                                   pre_activation_out=pre)
            outputs.append(A)
            pre_activations.append(pre)
        if keep:
            self._outputs, self._pre_activations = outputs, pre_activations
        return A

    def backward(self, output_grad, l2_strength=0.0):
        """Set self.grads to the gradient, from dLoss/d(output layer) after forward(keep=True),
        plus l2_strength · W for the weights (the intercepts are not penalised)."""
        np.multiply(self.params[:self.n_coef], l2_strength, out=self.grads[:self.n_coef])
        self.grads[self.n_coef:] = 0
        outputs, pre = self._outputs, self._pre_activations
        grad = output_grad
        hidden = F.ACTIVATIONS[_FUNCTIONAL_NAME[self.activation] or "identity"]
        for i in range(len(self.weights) - 1, -1, -1):
            code = hidden if i < len(self.weights) - 1 else F.ACTIVATIONS["identity"]
            saved = pre[i + 1] if self.activation == "gelu" else outputs[i + 1]
            grad, _, _ = F.linear_backward_unchecked(
                grad, outputs[i], self.weights[i], code, saved, i > 0, True,
                self.weight_grads[i], self.intercept_grads[i])
        del self._outputs, self._pre_activations

    def squared_norm(self):
        """‖W‖² over all weights, for the reported loss only (the gradient never uses it). einsum
        reads the buffer once and, unlike a BLAS dot, wakes no thread pool for a 100k-element
        reduction (under load that costs milliseconds a step)."""
        weights = self.params[:self.n_coef]
        return float(np.einsum("i,i->", weights, weights))
