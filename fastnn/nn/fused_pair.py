"""FusedActivation: a layer and the activation module after it, run by a Sequential as one GEMM
whose write-back applies the activation (Linear, Conv1d/Conv2d).

The layer provides `_run(x, activation)` -> (output, cache) and
`_backward(grad_output, cache, activation, need_input_grad)` -> dx, the same work its own forward
and backward do with its own activation. The backward forms dS once from the output (or from the
pre-activation, for the activations that differentiate from their input). The cache lives here,
so the two modules' own caches stay empty.
"""
from .module import backward_before_forward

__all__ = ["FusedActivation"]


class FusedActivation:
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
