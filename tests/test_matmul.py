"""fastnn.matmul against float64 numpy: shapes, transposes, dtypes, strides, out=, errors, ISAs."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import _core

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from gemm_sweep import error_bound, main as sweep_active_isa, reference  # noqa: E402
from support import fastnn_env  # noqa: E402
import reference as oracle  # noqa: E402  (tests/reference.py: the float64 numpy oracle)

DTYPES = (np.float32, np.float64)


def assert_product(c, a, b, trans_a=False, trans_b=False):
    ref = reference(a, b, trans_a, trans_b)
    assert c.shape == ref.shape
    np.testing.assert_array_less(np.abs(c - ref), error_bound(a, b, trans_a, trans_b, c.dtype))


def test_sweep_of_block_boundaries_on_the_default_isa():
    assert sweep_active_isa() == 0


@pytest.mark.parametrize("isa", _core.isa_names())
def test_sweep_on_each_isa_forced_by_environment(isa):
    if _core.isa_supported(isa) != 1:
        pytest.skip(f"this CPU cannot run {isa}")
    env = fastnn_env(FASTNN_ISA=isa)
    run = subprocess.run([sys.executable, str(HERE / "gemm_sweep.py")], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"isa={isa} failures=0" in run.stdout


@pytest.mark.parametrize("value", ["avx1024", "AVX-512x"])
def test_unknown_isa_is_a_clear_error_at_import(value):
    env = fastnn_env(FASTNN_ISA=value)
    run = subprocess.run([sys.executable, "-c", "import fastnn"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "is not one of " + ", ".join(map(repr, _core.isa_names())) in run.stderr


def test_cpu_info_reports_the_chosen_isa_and_features():
    info = fastnn.cpu_info()
    assert info["isa"] in info["isa_supported"]
    assert "generic" in info["isa_supported"]
    assert set(info["features"]) >= {"avx2", "fma", "avx512f", "os_saves_avx512"}
    if not os.environ.get("FASTNN_ISA"):
        assert info["isa"] == info["isa_supported"][0]
    assert info["bf16_native"] == (info["isa"] == "avx512_bf16")
    assert info["blocking"]["float32"]["mr"] >= 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_views_are_packed_directly(dtype):
    rng = np.random.default_rng(0)
    big_a = rng.standard_normal((90, 120)).astype(dtype)
    big_b = rng.standard_normal((130, 70)).astype(dtype)
    a = big_a[1::2, ::3]           # (45, 40), both strides non-unit
    b = big_b[::-3, 5:50][:40]     # negative row stride
    assert_product(fastnn.matmul(a, b), a, b)
    assert_product(fastnn.matmul(a.T, b, trans_a=True), a.T, b, trans_a=True)
    assert_product(fastnn.matmul(a, b.T, trans_b=True), a, b.T, trans_b=True)


def test_byte_strides_that_are_not_whole_elements_are_copied():
    raw = np.zeros(4 * 6 * 4 + 2, dtype=np.uint8)
    a = np.ndarray((4, 6), dtype=np.float32, buffer=raw, offset=2)  # misaligned but whole strides
    a[...] = np.arange(24, dtype=np.float32).reshape(4, 6)
    odd = np.lib.stride_tricks.as_strided(a, shape=(4, 5), strides=(24, 4))
    assert_product(fastnn.matmul(odd, odd.T.copy()), odd, odd.T.copy())
    packed = np.zeros(3, dtype=[("x", np.float32), ("pad", np.int8)])  # 5-byte element stride
    col = packed["x"].reshape(3, 1)
    col[:, 0] = [1, 2, 3]
    assert_product(fastnn.matmul(col, col.T), col, col.T)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["c", "f", "strided"])
def test_out_of_every_layout_is_written_and_returned(dtype, layout):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((37, 29)).astype(dtype)
    b = rng.standard_normal((29, 41)).astype(dtype)
    if layout == "c":
        out = np.full((37, 41), np.nan, dtype)
    elif layout == "f":
        out = np.asfortranarray(np.full((37, 41), np.nan, dtype))
    else:
        out = np.full((37, 82), np.nan, dtype)[:, ::2]
    result = fastnn.matmul(a, b, out=out)
    assert result is out
    assert_product(out, a, b)


def test_out_full_of_nan_is_never_read():
    a = np.ones((9, 4), np.float32)
    out = np.full((9, 9), np.nan, np.float32)
    fastnn.matmul(a, a, trans_b=True, out=out)
    assert np.all(out == 4)


def test_empty_inner_dimension_gives_zeros():
    a = np.ones((3, 0), np.float64)
    b = np.ones((0, 4), np.float64)
    out = np.full((3, 4), np.nan)
    np.testing.assert_array_equal(fastnn.matmul(a, b, out=out), np.zeros((3, 4)))
    assert fastnn.matmul(np.ones((0, 5)), np.ones((5, 3))).shape == (0, 3)


def test_nan_and_inf_propagate():
    a = np.ones((4, 4), np.float32)
    a[1, 2] = np.nan
    a[3, 0] = np.inf
    c = fastnn.matmul(a, np.ones((4, 4), np.float32))
    assert np.isnan(c[1]).all() and np.isinf(c[3]).all() and np.isfinite(c[[0, 2]]).all()


def test_one_and_two_threads_give_identical_bits():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((300, 500)).astype(np.float32)
    b = rng.standard_normal((500, 700)).astype(np.float32)
    try:
        fastnn.set_num_threads(1)
        one = fastnn.matmul(a, b)
        fastnn.set_num_threads(2)
        assert fastnn.get_num_threads() == (2 if fastnn.cpu_info()["openmp"] else 1)
        two = fastnn.matmul(a, b)
    finally:
        fastnn.set_num_threads(None)
    np.testing.assert_array_equal(one, two)


def test_set_num_threads_validates():
    with pytest.raises(ValueError, match="n must be >= 1"):
        fastnn.set_num_threads(-2)
    with pytest.raises(TypeError):
        fastnn.set_num_threads("4")


def test_gemm_epilogue_fuses_bias_activation_and_keeps_the_pre_activation():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((45, 70))
    w = rng.standard_normal((33, 70))
    bias = rng.standard_normal(33)
    s = x @ w.T + bias
    expected = {name: forward(s) for name, forward in oracle.FORWARD.items()}
    assert set(expected) == set(_core.ACTIVATIONS)  # every activation of the table
    for name, code in _core.ACTIVATIONS.items():
        y = np.empty((45, 33))
        pre = np.empty((45, 33))
        _core.gemm(x, w.T, y, bias=bias, activation=code, pre_activation=pre)
        np.testing.assert_allclose(pre, s, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(y, expected[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_gemm_accumulates_with_alpha_and_beta():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((20, 30))
    b = rng.standard_normal((30, 40))
    c = rng.standard_normal((20, 40))
    expected = 0.5 * a @ b + 2.0 * c
    _core.gemm(a, b, c, alpha=0.5, beta=2.0)
    np.testing.assert_allclose(c, expected, rtol=1e-12, atol=1e-12)


class TestBadInput:
    def test_wrong_ndim(self):
        with pytest.raises(ValueError, match=r"a must be 2-D, got 1-D with shape \(3,\)"):
            fastnn.matmul(np.ones(3), np.ones((3, 3)))

    def test_mismatched_inner_dimensions_name_the_shapes(self):
        with pytest.raises(ValueError, match=r"op\(a\) is \(2, 3\) and op\(b\) is \(4, 5\)"):
            fastnn.matmul(np.ones((2, 3)), np.ones((4, 5)))
        with pytest.raises(ValueError, match="trans_a=True"):
            fastnn.matmul(np.ones((2, 3)), np.ones((2, 5)).T, trans_a=True)

    def test_mixed_and_unsupported_dtypes(self):
        with pytest.raises(TypeError, match="share a dtype"):
            fastnn.matmul(np.ones((2, 2), np.float32), np.ones((2, 2), np.float64))
        with pytest.raises(TypeError, match="b must be float32 or float64, got int64"):
            fastnn.matmul(np.ones((2, 2)), np.ones((2, 2), np.int64))

    def test_bad_out(self):
        a = np.ones((3, 4), np.float32)
        with pytest.raises(ValueError, match=r"out has shape \(3, 4\), expected \(3, 3\)"):
            fastnn.matmul(a, a, trans_b=True, out=np.empty((3, 4), np.float32))
        with pytest.raises(TypeError, match="out has dtype float64"):
            fastnn.matmul(a, a, trans_b=True, out=np.empty((3, 3)))
        readonly = np.empty((3, 3), np.float32)
        readonly.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            fastnn.matmul(a, a, trans_b=True, out=readonly)
        with pytest.raises(TypeError, match="numpy.ndarray"):
            fastnn.matmul(a, a, trans_b=True, out=[[0.0] * 3] * 3)

    def test_out_overlapping_an_input(self):
        square = np.ones((4, 4), np.float32)
        with pytest.raises(ValueError, match="out overlaps a"):
            fastnn.matmul(square, np.ones((4, 4), np.float32), out=square)
        with pytest.raises(ValueError, match="out overlaps b"):
            fastnn.matmul(np.ones((4, 4), np.float32), square, out=square.T)


def misaligned(x):
    """A copy of x whose data starts one byte past an aligned address (flags.aligned False)."""
    raw = np.zeros(x.nbytes + 1, dtype=np.uint8)
    out = np.ndarray(x.shape, dtype=x.dtype, buffer=raw, offset=1)
    out[...] = x
    assert not out.flags.aligned
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_misaligned_inputs_and_out_are_handled_without_reading_through_misaligned_pointers(dtype):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((19, 23)).astype(dtype)
    b = rng.standard_normal((23, 17)).astype(dtype)
    assert_product(fastnn.matmul(misaligned(a), misaligned(b)), a, b)
    out = misaligned(np.zeros((19, 17), dtype))
    assert fastnn.matmul(a, b, out=out) is out
    assert_product(out, a, b)
    with pytest.raises(ValueError, match="not aligned"):
        _core.gemm(misaligned(a), b, np.empty((19, 17), dtype))


def test_thread_count_follows_omp_num_threads_at_every_call():
    code = ("import fastnn; n = fastnn.get_num_threads(); fastnn.set_num_threads(2); "
            "m = fastnn.get_num_threads(); fastnn.set_num_threads(None); print(n, m, fastnn.get_num_threads())")
    run = subprocess.run([sys.executable, "-c", code], env=fastnn_env(OMP_NUM_THREADS="1"),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    expected_two = 2 if fastnn.cpu_info()["openmp"] else 1
    assert run.stdout.split() == ["1", str(expected_two), "1"]


def test_threadpoolctl_limits_fastnn():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not fastnn.cpu_info()["openmp"]:
        pytest.skip("built without OpenMP")
    before = fastnn.get_num_threads()
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert fastnn.get_num_threads() == 1
        a = np.ones((300, 300), np.float32)
        np.testing.assert_array_equal(fastnn.matmul(a, a), np.full((300, 300), 300, np.float32))
    assert fastnn.get_num_threads() == before


# ---------------------------------------------------------------- precision="bf16"

from reference import round_to_bf16  # noqa: E402


def assert_bf16_product(c, a, b, trans_a=False, trans_b=False):
    """c against the float64 product of the bf16-rounded operands: bf16 products are exact in
    float32, so only the float32 sums' rounding may differ."""
    assert c.dtype == np.float32
    assert_product(c, round_to_bf16(a), round_to_bf16(b), trans_a, trans_b)


@pytest.mark.parametrize("precision", ["fp8", "BF16", "float32", None, 16, ""])
def test_precision_must_be_fp32_or_bf16(precision):
    a = np.ones((3, 3), np.float32)
    with pytest.raises(ValueError, match=r"precision must be one of \('fp32', 'bf16'\)"):
        fastnn.matmul(a, a, precision=precision)


def test_bf16_takes_float32_arrays_only():
    a = np.ones((3, 3), np.float64)
    with pytest.raises(ValueError, match="precision='bf16' takes float32 arrays.*float64"):
        fastnn.matmul(a, a, precision="bf16")
    np.testing.assert_array_equal(fastnn.matmul(a, a, precision="fp32"), a @ a)


@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (False, True), (True, False), (True, True)])
def test_bf16_products_on_views_and_into_any_out(trans_a, trans_b):
    rng = np.random.default_rng(5)
    big_a = rng.standard_normal((90, 140)).astype(np.float32)
    big_b = rng.standard_normal((130, 150)).astype(np.float32)
    a = big_a[1::2, ::3][:, :40] if not trans_a else big_a[1::2, ::3][:, :40].T
    b = big_b[::-3, 5:50][:40] if not trans_b else big_b[::-3, 5:50][:40].T
    c = fastnn.matmul(a, b, trans_a=trans_a, trans_b=trans_b, precision="bf16")
    assert_bf16_product(c, a, b, trans_a, trans_b)
    out = np.empty(c.shape[::-1], np.float32).T  # column-major out: C^T = B^T A^T
    fastnn.matmul(a, b, trans_a=trans_a, trans_b=trans_b, out=out, precision="bf16")
    assert_bf16_product(out, a, b, trans_a, trans_b)


def test_bf16_rounds_to_nearest_even_and_keeps_non_finite_values():
    one = np.float32(1)
    a = np.array([[1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -9, np.inf, np.nan, 3e38]], np.float32)
    c = fastnn.matmul(a.T, np.ones((1, 1), np.float32), precision="bf16")[:, 0]
    # ties go to the even neighbour; a large finite value to its nearest bf16
    assert c[0] == one and c[1] == np.float32(1 + 2 ** -6) and c[2] == one
    assert c[3] == np.inf and np.isnan(c[4])
    assert c[5] == round_to_bf16(np.float32(3e38))


def test_bf16_results_match_the_float32_kernels_on_rounded_operands():
    """Results do not depend on the machine beyond the order of the sums: the bf16 kernels
    against float32 arithmetic on the rounded operands."""
    rng = np.random.default_rng(11)
    a = rng.standard_normal((70, 300)).astype(np.float32)
    b = rng.standard_normal((300, 45)).astype(np.float32)
    exact = fastnn.matmul(round_to_bf16(a), round_to_bf16(b))
    np.testing.assert_allclose(fastnn.matmul(a, b, precision="bf16"), exact, rtol=1e-5, atol=1e-4)
    assert not np.allclose(fastnn.matmul(a, b), exact, rtol=1e-6, atol=1e-6)  # rounding happened


@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (False, True), (True, False)])
def test_bf16_rows_on_narrow_tiles_equal_the_wide_tiles_bits(trans_a, trans_b):
    """64 rows run on the narrow (8-row) bf16 tiles where the set has them, 60 rows on the
    12-row tiles: each element sums its k pairs in the same order either way, over several k
    passes (the same order only if both blockings end their passes at the same k) and several
    panels of B."""
    blocking = _core.kernel_blocking()["bf16"]
    k, n = 2 * blocking["kc"] + 1, blocking["nc"] + 40
    rng = np.random.default_rng(12)
    a = rng.standard_normal((64, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    a_op = np.ascontiguousarray(a.T) if trans_a else a
    b_op = np.ascontiguousarray(b.T) if trans_b else b
    rows64 = fastnn.matmul(a_op, b_op, trans_a=trans_a, trans_b=trans_b, precision="bf16")
    a60 = a_op[:, :60] if trans_a else a_op[:60]
    rows60 = fastnn.matmul(a60, b_op, trans_a=trans_a, trans_b=trans_b, precision="bf16")
    np.testing.assert_array_equal(rows64[:60], rows60)
    assert_bf16_product(rows64, a_op, b_op, trans_a, trans_b)


def test_matmul_docstring_examples_run():
    import doctest
    test = doctest.DocTestParser().get_doctest(fastnn.matmul.__doc__, {}, "matmul", None, 0)
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0 and len(test.examples) >= 3
