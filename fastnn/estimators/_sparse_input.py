"""The first layer of an estimator's network, taking dense rows or scipy CSR rows.

A CSR batch is never densified: the forward product X·Wᵀ + b and the weight gradient dSᵀ·X run
in C over the stored nonzeros (csrc/sparse.c), nnz · out_features multiply-adds each, and the
activation is applied in place as the dense layer's epilogue would. The input gradient, which a
first layer never needs, is refused for sparse input. Dense input takes Linear's fused path
(in the layer's precision; CSR products are float32 whatever it is: they are bound by reading
the nonzeros, not by arithmetic).
"""
import numpy as np

from .. import _core
from ..nn import Linear


def is_sparse(X):
    """True for scipy sparse matrices and arrays (whatever their format)."""
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


class InputLinear(Linear):
    """A Linear whose input may also be a scipy CSR matrix of (N, in_features) in the weight's
    dtype (the estimator converts it once per fit)."""

    def _checked_input(self, x):
        if not is_sparse(x):
            return super()._checked_input(x)
        if x.format != "csr" or x.ndim != 2 or x.shape[1] != self.in_features or x.shape[0] == 0 \
                or x.dtype != self.weight.data.dtype:
            raise ValueError(f"{type(self).__name__}: expected CSR input (N >= 1, {self.in_features}) of"
                             f" dtype {self.weight.data.dtype}, got {x.format} {x.shape} {x.dtype}")
        return x, (x.shape[0],)

    def _forward(self, x, activation):
        if not is_sparse(x):
            return super()._forward(x, activation)
        out = np.empty((x.shape[0], self.out_features), self.weight.data.dtype)
        bias = self.bias.data if self.bias is not None else None
        _core.csr_linear(x.data, x.indices, x.indptr, self.weight.data, bias, out)
        pre = out.copy() if activation is not None and activation.derivative_from_input else None
        if activation is not None:
            _core.activation_forward(activation.kernel, out, out)
        return out, pre

    def _backward(self, grad_output, cache, activation, need_input_grad, updates=None):
        """As Linear's; a CSR batch's weight gradient is summed in C and left in .grad, so an
        optimizer passed to backward steps it by its plain rule afterwards (`updates` unused)."""
        x, output, pre, lead = cache
        if not is_sparse(x):
            return super()._backward(grad_output, cache, activation, need_input_grad, updates)
        if need_input_grad:
            raise ValueError(f"{type(self).__name__}: no input gradient for sparse input (a first layer"
                             " never needs one): call backward with need_input_grad=False")
        weight_grad, bias_grad, accumulate = self._gradient_buffers()
        grad_output = np.ascontiguousarray(grad_output)
        code = 0 if activation is None else activation.kernel
        delta = grad_output
        if activation is not None:
            saved = pre if activation.derivative_from_input else output
            delta = np.empty_like(grad_output)
            _core.delta_and_bias_grad(code, grad_output, saved, delta, bias_grad, accumulate)
        elif bias_grad is not None:
            _core.delta_and_bias_grad(code, grad_output, None, None, bias_grad, accumulate)
        _core.csr_weight_grad(x.data, x.indices, x.indptr, delta, weight_grad, accumulate)
        return None
