"""The fully-connected network behind the MLP estimators, its parameters in one flat buffer.

coefs_[i] (fan_in, fan_out) and intercepts_[i] (fan_out,) are views into one contiguous array
(all coefficients first, then all intercepts, scikit-learn's order), and so are their gradients:
the optimiser updates every parameter with a handful of whole-buffer operations per step, and
the best weights of early stopping are one copy.

Forward runs each layer as one GEMM with bias and activation fused into its write-back; backward
forms dS = dA ⊙ σ'(S) from the stored output (from the stored pre-activation for GELU), then
dW = Aᵀ·dS and dA_prev = dS·Wᵀ on the same GEMM with swapped strides, no transposed copies.
"""
import numpy as np

from .. import _core

HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "gelu")
_GEMM_ACTIVATION = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
                    "gelu": "gelu"}
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _multiply_by_derivative(grad, output, pre_activation, activation):
    """grad *= σ'(s), in place, written in terms of the layer's output where σ allows it."""
    if activation == "relu":
        np.multiply(grad, output > 0, out=grad)
    elif activation == "tanh":
        grad *= 1 - output * output
    elif activation == "logistic":
        grad *= output * (1 - output)
    elif activation == "gelu":
        # gelu(s) = s·Φ(s), so Φ(s) = gelu(s)/s (1/2 at s = 0) and gelu'(s) = Φ(s) + s·φ(s):
        # the exact (erf) derivative from the stored output, with no second erf pass.
        s = pre_activation
        nonzero = s != 0
        cdf = np.divide(output, s, out=np.full_like(s, 0.5), where=nonzero)
        grad *= cdf + s * np.exp(-0.5 * s * s) * _INV_SQRT_2PI


class DenseNetwork:
    """Layers of `layer_units` (input, hidden..., output) with `activation` between them and a
    linear output (the estimator applies its output function inside its loss)."""

    def __init__(self, layer_units, activation, dtype, rng):
        self.layer_units = list(layer_units)
        self.activation = activation
        self.dtype = np.dtype(dtype)
        shapes = list(zip(self.layer_units[:-1], self.layer_units[1:]))
        self.n_coef = sum(fan_in * fan_out for fan_in, fan_out in shapes)
        self.params = np.empty(self.n_coef + sum(self.layer_units[1:]), dtype=self.dtype)
        self.grads = np.zeros_like(self.params)
        self.coefs, self.intercepts = self._views(self.params, shapes)
        self.coef_grads, self.intercept_grads = self._views(self.grads, shapes)
        # Glorot-uniform as scikit-learn draws it, layer by layer: coefficients, then intercepts.
        factor = 2.0 if activation == "logistic" else 6.0
        for coef, intercept, (fan_in, fan_out) in zip(self.coefs, self.intercepts, shapes):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef[...] = rng.uniform(-bound, bound, (fan_in, fan_out))
            intercept[...] = rng.uniform(-bound, bound, fan_out)

    def _views(self, flat, shapes):
        coefs, intercepts, start = [], [], 0
        for fan_in, fan_out in shapes:
            coefs.append(flat[start:start + fan_in * fan_out].reshape(fan_in, fan_out))
            start += fan_in * fan_out
        for _, fan_out in shapes:
            intercepts.append(flat[start:start + fan_out])
            start += fan_out
        return coefs, intercepts

    def owns(self, coefs, intercepts):
        """True if `coefs` and `intercepts` are still this network's views (not replaced by the user)."""
        return (len(coefs) == len(self.coefs) and len(intercepts) == len(self.intercepts)
                and all(a is b for a, b in zip(coefs, self.coefs))
                and all(a is b for a, b in zip(intercepts, self.intercepts)))

    def load(self, coefs, intercepts):
        """Copy parameters given as lists of arrays (after a user replaced coefs_ or intercepts_)."""
        for mine, theirs in zip(self.coefs + self.intercepts, list(coefs) + list(intercepts)):
            theirs = np.asarray(theirs)
            if theirs.shape != mine.shape:
                raise ValueError(f"coefs_/intercepts_: expected shape {mine.shape}, got {theirs.shape}")
            mine[...] = theirs

    def forward(self, X, keep=False):
        """The output layer's values (before the output function) for X (n, n_in) of self.dtype;
        with keep=True also every layer's output (and pre-activation, for GELU) for backward."""
        code = _core.ACTIVATIONS[_GEMM_ACTIVATION[self.activation]]
        keep_pre = keep and self.activation == "gelu"
        outputs, pre_activations = [X], [None]
        A = X
        last = len(self.coefs) - 1
        for i, (W, b) in enumerate(zip(self.coefs, self.intercepts)):
            out = np.empty((A.shape[0], W.shape[1]), dtype=self.dtype)
            pre = np.empty_like(out) if keep_pre and i < last else None
            A = _core.gemm(A, W, out, bias=b, activation=code if i < last else 0, pre_activation=pre)
            outputs.append(A)
            pre_activations.append(pre)
        if keep:
            self._outputs, self._pre_activations = outputs, pre_activations
        return A

    def backward(self, output_grad):
        """Fill self.grads (the data part) from dLoss/d(output layer), after forward(keep=True)."""
        outputs, pre = self._outputs, self._pre_activations
        grad = output_grad
        for i in range(len(self.coefs) - 1, -1, -1):
            _core.gemm(outputs[i].T, grad, self.coef_grads[i])
            np.sum(grad, axis=0, out=self.intercept_grads[i])
            if i == 0:
                break  # the input's gradient is not needed
            upstream = np.empty_like(outputs[i])
            _core.gemm(grad, self.coefs[i].T, upstream)
            _multiply_by_derivative(upstream, outputs[i], pre[i], self.activation)
            grad = upstream
        del self._outputs, self._pre_activations

    def add_l2_gradient(self, strength):
        """grads of the coefficients += strength · coefficients (intercepts are not penalised)."""
        if strength:
            self.grads[:self.n_coef] += strength * self.params[:self.n_coef]

    def squared_norm(self):
        """‖W‖² over all coefficients. numpy's pairwise summation keeps it accurate, and unlike a
        BLAS dot it does not wake a thread pool for a 100k-element reduction."""
        coefs = self.params[:self.n_coef]
        return float(np.sum(np.square(coefs), dtype=np.float64))
