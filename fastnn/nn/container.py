"""Sequential: modules applied in order, planned once into fused steps."""
from collections import OrderedDict

from .module import Module, backward_before_forward, check_grad_output

__all__ = ["Sequential"]


class Sequential(Module):
    """Modules applied in order; `backward` runs them in reverse.

    Each module is asked whether it fuses the one after it (`fuse_next`): a Linear without its
    own activation followed by ReLU, Tanh, Sigmoid, GELU or Identity runs as one fused Linear. `backward(grad_output, need_input_grad=False)` skips the gradient with
    respect to the input, which a first layer fed with data never needs (saves a GEMM), and
    returns None. Built from modules or from an OrderedDict of name -> module.

    >>> import numpy as np
    >>> from fastnn.nn import Linear, ReLU
    >>> model = Sequential(Linear(2, 4, rng=0), ReLU(), Linear(4, 1, rng=1))
    >>> y = model(np.ones((3, 2), np.float32))
    >>> model.backward(np.ones_like(y)).shape
    (3, 2)
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *modules):
        if len(modules) == 1 and isinstance(modules[0], dict):
            named = [(str(name), module) for name, module in modules[0].items()]
        else:
            named = [(str(i), module) for i, module in enumerate(modules)]
        for name, module in named:
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: {name} is a {type(module).__name__}, not a Module")
        self._named = named
        self._plan = None
        self._output = None

    def named_children(self):
        return iter(self._named)

    def __len__(self):
        return len(self._named)

    def __iter__(self):
        return (module for _, module in self._named)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(OrderedDict(self._named[index]))
        return self._named[index][1]

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(module).__name__}")
        self._named.append((str(len(self._named)), module))
        self._plan = self._output = None
        return self

    def _steps(self):
        """The modules, each pair that the first fuses with the second (`fuse_next`) made one step."""
        modules = [module for _, module in self._named]
        steps, i = [], 0
        while i < len(modules):
            module = modules[i]
            fused = module.fuse_next(modules[i + 1]) if i + 1 < len(modules) else None
            steps.append(fused if fused is not None else module)
            i += 2 if fused is not None else 1
        return steps

    def forward(self, x):
        steps = self._plan
        if steps is None:
            steps = self._plan = self._steps()
        self._output = None  # a forward that fails midway leaves nothing to differentiate
        for step in steps:
            x = step.forward(x)
        self._output = x
        return x

    def backward(self, grad_output, need_input_grad=True, optimizer=None):
        """The gradient with respect to the input (None without need_input_grad), after adding
        every parameter's gradient into its .grad. With `optimizer` (SGD, Adam or AdamW), the
        optimizer steps inside backward: each Linear weight it holds as soon as its layer's input
        gradient is formed, never storing dW, the rest of its parameters after; equal to
        backward() and optimizer.step() to rounding (see nn/fused_backward.py)."""
        if self._output is None:
            raise backward_before_forward(self)
        check_grad_output(self, grad_output, self._output)
        updates = None
        if optimizer is not None:
            from .fused_backward import OptimizerInBackward
            updates = OptimizerInBackward(optimizer)
        steps = self._plan
        first = 0
        if not need_input_grad:
            # steps before the first with parameters only carry a gradient nobody asked for
            while first < len(steps) - 1 and not _has_parameters(steps[first]):
                first += 1
        for step in steps[:first:-1]:
            grad_output = _step_backward(step, grad_output, updates)
        result = None
        if not steps:
            result = grad_output if need_input_grad else None
        elif need_input_grad:
            result = _step_backward(steps[first], grad_output, updates)
        elif steps[first].skips_input_grad:
            _step_backward(steps[first], grad_output, updates, need_input_grad=False)
        else:
            _step_backward(steps[first], grad_output, updates)
        if updates is not None:
            updates.finish()
        return result

    skips_input_grad = True

    def plan_op(self):
        """A nested Sequential compiles as its steps, in order."""
        ops = []
        for step in self._steps():
            op = step.plan_op()
            if op is None:
                return None
            ops += op if isinstance(op, list) else [op]
        return ops

    def extra_repr(self):
        return ""


def _step_backward(step, grad_output, updates, **need):
    """A step's backward, with the optimizer inside where the step declares it can take it
    (`backward_updating`)."""
    updating = getattr(step, "backward_updating", None) if updates is not None else None
    if updating is not None:
        return updating(grad_output, updates, **need)
    return step.backward(grad_output, **need)


def _has_parameters(step):
    return next(iter(step.parameters()), None) is not None
