"""Layers, activations and losses as modules with an explicit backward, PyTorch's names and
semantics, over the fused kernels of `fastnn.functional`.

There is no autograd tape: each module caches in `forward` what its `backward` needs, and
`backward(grad_output)` returns the gradient with respect to the module's input while adding the
gradients of its parameters into their `.grad` (accumulating, as torch does, until `zero_grad()`).
A training step reads:

    >>> import numpy as np
    >>> from fastnn import nn, optim
    >>> model = nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Linear(8, 3, rng=1))
    >>> loss_fn = nn.CrossEntropyLoss()
    >>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> x = np.ones((2, 4), np.float32); y = np.array([0, 2])
    >>> opt.zero_grad()
    >>> loss = loss_fn(model(x), y)
    >>> _ = model.backward(loss_fn.backward(), need_input_grad=False)
    >>> opt.step()

A forward keeps a reference to its input for backward: modify it in place only after backward.
NaN and Inf propagate through every layer and loss, as in torch; nothing raises on them.
"""
from .activation import (ELU, GELU, Identity, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax,
                         Softplus, Tanh)
from .batchnorm import BatchNorm1d, BatchNorm2d
from .conv import Conv1d, Conv2d
from .dropout import Dropout
from .flatten import Flatten
from .normalization import LayerNorm
from .pooling import AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from .container import Sequential
from .flat import FlatParameters
from .linear import Linear
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HingeLoss, HuberLoss, L1Loss, MSELoss,
                   NLLLoss)
from .module import Module
from .module_list import ModuleList
from .parameter import Parameter
from .model_summary import summary
from . import utils

__all__ = ["Parameter", "Module", "Linear", "Identity", "ReLU", "Tanh", "Sigmoid", "GELU",
           "LeakyReLU", "ELU", "SiLU", "Softplus", "Softmax", "Sequential", "FlatParameters", "MSELoss",
           "CrossEntropyLoss", "BCEWithLogitsLoss", "HingeLoss", "L1Loss", "HuberLoss", "NLLLoss",
           "BCELoss", "ModuleList", "summary", "utils", "LogSoftmax",
           "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d", "Dropout", "Flatten", "LayerNorm"]
