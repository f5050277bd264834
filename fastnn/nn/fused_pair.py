"""The layers computed as one GEMM with the bias and an activation in its write-back (Linear,
Conv1d/Conv2d), and the step that fuses the activation module after such a layer into it.

A GemmLayer provides `_run(x, activation)` -> (output, cache) and
`_backward(grad_output, cache, activation, need_input_grad)` -> dx; its forward and backward run
them with its own activation, a FusedActivation with the following module's. The backward forms
dS once from the output (or from the pre-activation, for the activations that differentiate from
their input).
"""
from .module import Module, backward_before_forward

__all__ = ["GemmLayer", "FusedActivation"]


class GemmLayer(Module):
    """A layer with `weight`, `bias` (or None) and a fused activation (`_activation`, or None)."""

    skips_input_grad = True

    def forward(self, x):
        y, self._cache = self._run(x, self._activation)
        return y

    def backward(self, grad_output, need_input_grad=True):
        if self._cache is None:
            raise backward_before_forward(self)
        return self._backward(grad_output, self._cache, self._activation, need_input_grad)

    def _gradient_buffers(self):
        """(weight_grad, bias_grad or None, accumulate): where backward puts the gradients and
        whether it adds to them (one flag for both, so both are made to agree)."""
        weight_grad, accumulate = self.weight.grad_for_backward()
        bias_grad = None
        if self.bias is not None:
            bias_grad, bias_accumulate = self.bias.grad_for_backward()
            if bias_accumulate != accumulate:  # only one was zeroed: write its zeros, add to both
                (bias_grad if accumulate else weight_grad).fill(0)
                accumulate = True
        return weight_grad, bias_grad, accumulate


class FusedActivation:
    """A GemmLayer and the activation module after it, run by a Sequential as one GEMM; the cache
    lives here, so the two modules' own caches stay empty."""

    __slots__ = ("layer", "modules", "activation", "cache")
    skips_input_grad = True

    def __init__(self, layer, activation_module, activation):
        self.layer, self.activation, self.cache = layer, activation, None
        self.modules = (layer, activation_module)

    def parameters(self):
        return self.layer.parameters()

    def forward(self, x):
        y, self.cache = self.layer._run(x, self.activation)
        return y

    def backward(self, grad_output, need_input_grad=True):
        if self.cache is None:
            raise backward_before_forward(self.layer)
        return self.layer._backward(grad_output, self.cache, self.activation, need_input_grad)
