"""The fully-connected network behind the MLP estimators: an nn.Sequential of Linear layers
(fastnn's one engine), its parameters views into one flat buffer.

Each hidden Linear carries its activation, so forward is one GEMM a layer with bias and
activation fused into the write-back, and backward forms dS = dA ⊙ σ'(S) with the bias gradient
in one pass, then dW = dSᵀ·A on the GEMM, skipping the first layer's input gradient. The first
layer also takes scipy CSR rows (see _sparse_input). The output layer is linear: the estimator
applies its output function inside its loss.

The flat buffer holds all weights first, then all intercepts (`Module.flatten_parameters`'s
FlatParameters, in that order), and the gradients have the same layout: the optimiser updates
every parameter with one kernel call per step, the L2 penalty seeds the weights' gradient in
one pass, and the best weights of early stopping are one copy. The weights are stored (out, in)
as fastnn's layers store them; scikit-learn's coefs_[i] (fan_in, fan_out) are transposed views.
"""
import numpy as np

from .. import functional as F
from ..nn import Linear, Sequential
from ..nn.flat import FlatParameters
from ._sparse_input import InputLinear

# scikit-learn's name for an activation of the table where it has its own
_SKLEARN_NAMES = {"sigmoid": "logistic"}
# The hidden activations: the table's without parameters (an estimator's activation is a name),
# by scikit-learn's names -> the Linear layer's (None: no activation).
_LAYER_ACTIVATION = {_SKLEARN_NAMES.get(name, name): None if name == "identity" else name
                     for name, row in F.ACTIVATION_TABLE.items() if not row["params"]}
HIDDEN_ACTIVATIONS = tuple(_LAYER_ACTIVATION)


class DenseNetwork:
    """Layers of `layer_units` (input, hidden..., output) with `activation` between them and a
    linear output, their products in `precision` ("fp32" or "bf16", see Linear). With rng=None
    the parameters are not drawn: the caller fills them (`load`)."""

    def __init__(self, layer_units, activation, dtype, rng, precision="fp32"):
        self.layer_units = [int(u) for u in layer_units]
        self.activation = activation
        self.dtype = np.dtype(dtype)
        pairs = list(zip(self.layer_units[:-1], self.layer_units[1:]))
        last = len(pairs) - 1
        layers = [(InputLinear if i == 0 else Linear)(
            fan_in, fan_out, activation=_LAYER_ACTIVATION[activation] if i < last else None,
            dtype=self.dtype, rng=0, precision=precision) for i, (fan_in, fan_out) in enumerate(pairs)]
        self.model = Sequential(*layers)
        # the optimizers' two groups: weights (L2-penalised) and intercepts (not)
        self.weight_parameters = [layer.weight for layer in layers]
        self.intercept_parameters = [layer.bias for layer in layers]
        flat = FlatParameters([layer.weight for layer in layers] + [layer.bias for layer in layers])
        self.params, self.grads = flat.data, flat.grad
        self.n_coef = sum(fan_in * fan_out for fan_in, fan_out in pairs)
        self.weights = [layer.weight.data for layer in layers]
        self.intercepts = [layer.bias.data for layer in layers]
        self.coefs = [w.T for w in self.weights]
        self.weight_grads = [layer.weight.grad for layer in layers]
        self.intercept_grads = [layer.bias.grad for layer in layers]
        if rng is None:
            return
        # Glorot-uniform as scikit-learn draws it, layer by layer: coefficients, then intercepts.
        factor = 2.0 if activation == "logistic" else 6.0
        for coef, intercept in zip(self.coefs, self.intercepts):
            fan_in, fan_out = coef.shape
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef[...] = rng.uniform(-bound, bound, (fan_in, fan_out))
            intercept[...] = rng.uniform(-bound, bound, fan_out)

    @property
    def precision(self):
        return self.model[0].precision

    def set_precision(self, precision):
        """Every layer's products in `precision` (a compiled step made before must be made again)."""
        if precision != self.precision:
            self.model.to_precision(precision)

    def __getstate__(self):
        return {"layer_units": self.layer_units, "activation": self.activation, "dtype": self.dtype.str,
                "params": self.params, "precision": self.precision}

    def __setstate__(self, state):
        # unpickled views would be copies: build the layers again over one buffer and fill it
        self.__init__(state["layer_units"], state["activation"], state["dtype"], rng=None,
                      precision=state.get("precision", "fp32"))  # pickles from before precision: fp32
        self.params[...] = state["params"]

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

    def forward(self, X):
        """The output layer's values (before the output function) for X (n, n_in) of self.dtype,
        dense or CSR; the layers keep what backward needs."""
        return self.model(X)

    def backward(self, output_grad, l2_strength=0.0):
        """Set self.grads to the gradient, from dLoss/d(output layer) after forward, plus
        l2_strength · W for the weights (the intercepts are not penalised)."""
        for parameter in self.weight_parameters + self.intercept_parameters:
            parameter._grad_zeroed = False  # a compiled step consumed them; written whole below
        np.multiply(self.params[:self.n_coef], l2_strength, out=self.grads[:self.n_coef])
        self.grads[self.n_coef:] = 0
        self.model.backward(output_grad, need_input_grad=False)

    def squared_norm(self):
        """‖W‖² over all weights, for the reported loss only (the gradient never uses it). einsum
        reads the buffer once and, unlike a BLAS dot, wakes no thread pool for a 100k-element
        reduction (under load that costs milliseconds a step)."""
        weights = self.params[:self.n_coef]
        return float(np.einsum("i,i->", weights, weights))
