"""The skinny products of a layer into a few outputs (784-1024-1024-10's last layer): X W^T into a
few columns on the dot kernels (5 to 10 columns on a wide dot tile where the set has one), dS W
of depth a few, and dW = dS^T X of a few rows on a blocking's tall tiles (AVX-512: 12 x 32 for 9
to 12 rows rather than two 8-row tiles). Against float64 on awkward shapes, every instruction set,
and bit for bit against the same rows inside a larger product (the path and tiles it takes sum
each element in the same order) and across thread counts."""
import numpy as np
import pytest

import fastnn
from fastnn import _core, nn

from test_plan import RULES, assert_same_parameters, batch, mlp, plain_step


def bound(a, b, dtype, extra=0.0):
    """|fl(AB) - AB| <= k u |A||B| for any summation order, a factor 4 of headroom."""
    k = a.shape[1]
    return 4 * (k + 1) * np.finfo(dtype).eps * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64) + extra)


def strided(rng, rows, cols, dtype, pad):
    """A (rows, cols) view whose rows are cols + pad apart."""
    wide = rng.standard_normal((rows, cols + pad)).astype(dtype)
    return wide[:, :cols]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 9, 10, 16, 17])
@pytest.mark.parametrize("m, k, pad", [(1, 1031, 0), (5, 1000, 3), (33, 1024, 0), (257, 777, 16)])
def test_few_columns_of_x_w_transposed(isa, dtype, n, m, k, pad):
    """S = alpha X W^T + beta S, then bias and ReLU, into n columns: rows and columns off the dot
    tile, k tails, strided rows; each row's bits wherever it lies among the rows."""
    rng = np.random.default_rng(m * 100 + n)
    x = strided(rng, m, k, dtype, pad)
    w = strided(rng, n, k, dtype, pad)
    bias = rng.standard_normal(n).astype(dtype)
    c0 = rng.standard_normal((m, n)).astype(dtype)
    relu = _core.ACTIVATIONS["relu"]
    out = _core.gemm(x, w.T, c0.copy(), 0.5, 2.0, bias=bias, activation=relu)
    exact = 0.5 * (x.astype(np.float64) @ w.T.astype(np.float64)) + 2.0 * c0 + bias
    slack = bound(x, w.T, dtype, 4 * (np.abs(c0) + np.abs(bias)))
    assert np.all(np.abs(out - np.maximum(exact, 0)) <= slack)
    plain = fastnn.matmul(x, w, trans_b=True)
    assert np.all(np.abs(plain - x.astype(np.float64) @ w.T.astype(np.float64)) <= bound(x, w.T, dtype))
    # each row sums alone whichever tile holds it: the rows reversed give the same bits
    reversed_rows = fastnn.matmul(np.ascontiguousarray(x[::-1]), w, trans_b=True)
    np.testing.assert_array_equal(reversed_rows[::-1], plain)
    # ... and each column, whichever dot tile the product's width picks (two columns: the plain
    # dot tile; 5, 9, 10: the wide one where the set has it; one would be a matrix-vector
    # product), where the float32 product of n columns takes the dot path (at most NR / 2)
    if dtype != np.float32 or n > _core.kernel_blocking()["float32"]["nr"] // 2:
        return
    for j in range(0, n - 1, 2):
        np.testing.assert_array_equal(fastnn.matmul(x, w[j:j + 2], trans_b=True), plain[:, j:j + 2])
    if n > 1:
        np.testing.assert_array_equal(fastnn.matmul(x, w[n - 2:], trans_b=True), plain[:, n - 2:])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [1, 2, 7, 9, 10, 12, 13, 17, 24, 36, 48])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("aliased", [False, True])
def test_few_rows_equal_the_same_rows_of_a_larger_product(isa, dtype, m, trans_a, aliased):
    """dW = dS^T X (trans_a) and plain A B of a few rows, B's rows 4 KiB apart or not, n past a
    register tile with a half-width tail (1024 + 16 + 3): against float64, the rows of a 64-row
    product (8-row tiles), beta and the bias epilogue."""
    rng = np.random.default_rng(m)
    k, n = 300, 1024 + 19
    page = 4096 // np.dtype(dtype).itemsize
    width = -(-n // page) * page if aliased else n + 5
    b = np.zeros((k, width), dtype)
    b[:, :n] = rng.standard_normal((k, n))
    b = b[:, :n]
    big = rng.standard_normal((k, 64) if trans_a else (64, k)).astype(dtype)
    a = big[:, :m] if trans_a else big[:m]
    op = lambda x: x.T if trans_a else x  # noqa: E731
    c = fastnn.matmul(a, b, trans_a=trans_a)
    assert np.all(np.abs(c - op(a).astype(np.float64) @ b.astype(np.float64)) <= bound(op(a), b, dtype))
    np.testing.assert_array_equal(c, fastnn.matmul(big, b, trans_a=trans_a)[:m])
    c0 = rng.standard_normal((m, n)).astype(dtype)
    bias = rng.standard_normal(n).astype(dtype)
    both = _core.gemm(op(a), b, c0.copy(), -1.5, 0.5, bias=bias)
    exact = -1.5 * (op(a).astype(np.float64) @ b.astype(np.float64)) + 0.5 * c0 + bias
    assert np.all(np.abs(both - exact) <= bound(op(a), b, dtype, 4 * (np.abs(c0) + np.abs(bias))))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 2, 7, 10, 17])
@pytest.mark.parametrize("m", [8, 257])
def test_shallow_products_into_many_columns(isa, dtype, k, m):
    """dX = dS W of depth k (a few outputs) into 1024 + 19 columns, A strided, beta and bias."""
    rng = np.random.default_rng(k + m)
    n = 1024 + 19
    a = strided(rng, m, k, dtype, 3)
    w = strided(rng, k, n, dtype, 0)
    c0 = rng.standard_normal((m, n)).astype(dtype)
    bias = rng.standard_normal(n).astype(dtype)
    c = fastnn.matmul(a, w)
    assert np.all(np.abs(c - a.astype(np.float64) @ w.astype(np.float64)) <= bound(a, w, dtype))
    both = _core.gemm(a, w, c0.copy(), 2.0, -1.0, bias=bias)
    exact = 2.0 * (a.astype(np.float64) @ w.astype(np.float64)) - c0 + bias
    assert np.all(np.abs(both - exact) <= bound(a, w, dtype, 4 * (np.abs(c0) + np.abs(bias))))


def test_skinny_products_give_the_same_bits_on_one_and_two_threads(isa):
    """Products large enough for two threads (more than 8 M multiply-adds): the step's three."""
    rng = np.random.default_rng(5)
    h = rng.standard_normal((1024, 1024)).astype(np.float32)
    w = rng.standard_normal((10, 1024)).astype(np.float32)
    ds = rng.standard_normal((1024, 10)).astype(np.float32)
    products = [lambda: fastnn.matmul(h, w, trans_b=True), lambda: fastnn.matmul(ds, w),
                lambda: fastnn.matmul(ds, h, trans_a=True)]
    try:
        fastnn.set_num_threads(1)
        one = [p() for p in products]
        fastnn.set_num_threads(2)
        two = [p() for p in products]
    finally:
        fastnn.set_num_threads(None)
    for x, y in zip(one, two):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
@pytest.mark.parametrize("rule", ("sgd_momentum", "adam"))
@pytest.mark.parametrize("outputs", (2, 10, 17))
def test_fused_update_of_a_few_output_rows_equals_the_plain_step(isa, dtype, rule, outputs):
    """A last layer of a few outputs at a batch past the row blocks (100 samples): its dW of a few
    rows goes through the GEMM's tall tiles with the update in the write-back."""
    sizes = (40, 70, 33, outputs)
    plain, compiled = mlp(dtype, sizes=sizes), mlp(dtype, sizes=sizes)
    plain_opt = RULES[rule](plain.parameters())
    step = compiled.compile_step(nn.CrossEntropyLoss(), RULES[rule](compiled.parameters()))
    for seed in range(3):
        x, y = batch(dtype, 100, features=sizes[0], classes=outputs, seed=seed)
        plain_step(plain, nn.CrossEntropyLoss(), plain_opt, x, y)
        step(x, y)
    assert_same_parameters(plain, compiled, dtype)
