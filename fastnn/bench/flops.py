"""What the FLOP count predicts: the cost model the benchmark holds the measurements against.

Only the matrix products are counted (2 FLOPs per multiply-add); bias, activation and their
gradients are elementwise, O(batch · width) against the products' O(batch · width²), and are left
out of the prediction on purpose: where they matter, the work is not compute-bound anyway.

For a Linear layer with weights W (out, in) and a batch X (batch, in):
    forward          S = X·Wᵀ      2 · batch · in · out
    weight gradient  dW = dSᵀ·X    2 · batch · in · out
    input gradient   dX = dS·W     2 · batch · in · out   (skipped for the first layer when the
                                                           input needs no gradient)
so backward/forward = 2 when every input gradient is computed, and 2 − F₁/ΣF when the first
layer's is skipped, F₁/ΣF being the first layer's share of the forward FLOPs.
"""


def check_layer_sizes(sizes, caller):
    """`sizes` as a list of positive ints with at least two entries, or a ValueError."""
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ValueError(f"{caller}: sizes must be at least two positive widths, got {sizes}")
    return sizes


def linear_flops(batch, in_features, out_features):
    """FLOPs of one Linear forward, X·Wᵀ.

    >>> linear_flops(256, 784, 1024)
    411041792
    """
    return 2 * int(batch) * int(in_features) * int(out_features)


def mlp_forward_flops(sizes, batch):
    """FLOPs of an MLP's forward pass; sizes = (in, hidden…, out).

    >>> mlp_forward_flops([784, 1024, 10], 1) == 2 * (784 * 1024 + 1024 * 10)
    True
    """
    sizes = check_layer_sizes(sizes, "mlp_forward_flops")
    return sum(linear_flops(batch, i, o) for i, o in zip(sizes[:-1], sizes[1:]))


def mlp_backward_flops(sizes, batch, need_input_grad=True):
    """FLOPs of an MLP's backward pass: each layer's weight gradient, and its input gradient
    except the first layer's when `need_input_grad` is False.

    >>> mlp_backward_flops([100, 10], 4, need_input_grad=False) == linear_flops(4, 100, 10)
    True
    """
    sizes = check_layer_sizes(sizes, "mlp_backward_flops")
    forward = mlp_forward_flops(sizes, batch)
    skipped = 0 if need_input_grad else linear_flops(batch, sizes[0], sizes[1])
    return 2 * forward - skipped


def predicted_backward_ratio(sizes, need_input_grad=True):
    """backward/forward FLOPs of an MLP with layer widths `sizes` (independent of the batch).

    >>> predicted_backward_ratio([784, 1024, 1024, 10])
    2.0
    >>> round(predicted_backward_ratio([784, 1024, 1024, 10], need_input_grad=False), 4)
    1.5688
    """
    return mlp_backward_flops(sizes, 1, need_input_grad) / mlp_forward_flops(sizes, 1)


def gemm_flops(m, n, k):
    """FLOPs of an (m, k)·(k, n) product.

    >>> gemm_flops(2, 3, 4)
    48
    """
    return 2 * int(m) * int(n) * int(k)


def training_step_flops(sizes, batch):
    """FLOPs of one training step: forward, and backward without the first layer's input
    gradient (the optimizer's and the loss's elementwise work is not counted).

    >>> training_step_flops([2, 3], 1) == 3 * 2 * 2 * 3 - 2 * 2 * 3
    True
    """
    return mlp_forward_flops(sizes, batch) + mlp_backward_flops(sizes, batch, need_input_grad=False)


def step_products(sizes, batch):
    """(name, m, n, k, form) of every product of one training step in the order it runs, first
    layer without input gradient: forward X·Wᵀ ("A.B^T"), input gradient dS·W ("A.B"), weight
    gradient dSᵀ·X ("A^T.B"); `form` is a key of bench.gemm.GEMM_FORMS.

    >>> [p[0] for p in step_products([4, 3, 2], 5)]
    ['fwd  X W1^T', 'fwd  X W2^T', 'dX   dS W2', 'dW2  dS^T X', 'dW1  dS^T X']
    >>> products = step_products([784, 1024, 10], 64)
    >>> sum(gemm_flops(m, n, k) for _, m, n, k, _ in products) == training_step_flops([784, 1024, 10], 64)
    True
    """
    layers = list(enumerate(zip(sizes[:-1], sizes[1:]), start=1))
    products = [(f"fwd  X W{layer}^T", batch, fan_out, fan_in, "A.B^T")
                for layer, (fan_in, fan_out) in layers]
    for layer, (fan_in, fan_out) in reversed(layers):
        if layer > 1:
            products.append((f"dX   dS W{layer}", batch, fan_in, fan_out, "A.B"))
        products.append((f"dW{layer}  dS^T X", fan_out, fan_in, batch, "A^T.B"))
    return products
