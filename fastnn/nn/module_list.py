"""ModuleList: modules held in a list, registered as sub-modules (their parameters are the
owner's), as torch.nn.ModuleList; the owner's forward decides how they are called."""
import operator

from .module import Module

__all__ = ["ModuleList"]


class ModuleList(Module):
    """A list of modules whose parameters are found by the module holding it, under torch's
    names ("layers.0.weight"). It has no forward or backward of its own.

    >>> import numpy as np
    >>> from fastnn.nn import Linear, ReLU
    >>> class Stack(Module):
    ...     def __init__(self):
    ...         self.layers = ModuleList([Linear(2, 2, rng=i) for i in range(3)])
    ...     def forward(self, x):
    ...         for layer in self.layers:
    ...             x = layer(x)
    ...         return x
    ...     def backward(self, grad_output):
    ...         for layer in reversed(self.layers):
    ...             grad_output = layer.backward(grad_output)
    ...         return grad_output
    >>> [name for name, _ in Stack().named_parameters()][:3]
    ['layers.0.weight', 'layers.0.bias', 'layers.1.weight']
    """

    def __init__(self, modules=()):
        self._modules = []
        self.extend(modules)

    @staticmethod
    def _checked(module, caller):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.{caller}: expected a Module, got {type(module).__name__}")
        return module

    def named_children(self):
        return ((str(i), module) for i, module in enumerate(self._modules))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(self._modules[index])
        return self._modules[operator.index(index)]

    def __setitem__(self, index, module):
        self._modules[operator.index(index)] = self._checked(module, "__setitem__")

    def __delitem__(self, index):
        del self._modules[index]

    def append(self, module):
        self._modules.append(self._checked(module, "append"))
        return self

    def extend(self, modules):
        if isinstance(modules, Module):
            raise TypeError("ModuleList.extend: expected an iterable of Modules, got a Module")
        self._modules.extend(self._checked(m, "extend") for m in modules)
        return self

    def insert(self, index, module):
        self._modules.insert(index, self._checked(module, "insert"))

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward: call its modules from the owner's forward")
