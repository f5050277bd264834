"""The stream probes that the batch-1 step's traffic limit is measured with
(csrc/stream_probe.h): what they compute on every instruction set, and their input checks."""
import numpy as np
import pytest

from fastnn import _aligned, _core


@pytest.mark.parametrize("prefetch", [True, False])
@pytest.mark.parametrize("n", [64, 64 * 37])
def test_read_sums_and_update_pair_steps_both_arrays(every_isa, prefetch, n):
    rng = np.random.default_rng(n)
    a = rng.integers(-8, 8, n).astype(np.float32)  # small integers: every order sums exactly
    assert _core.stream_read(a, prefetch) == float(a.sum())
    b = rng.integers(-8, 8, n).astype(np.float32)
    a0, b0 = a.astype(np.float64), b.astype(np.float64)
    _core.stream_update_pair(a, b, prefetch)
    np.testing.assert_allclose(b, 0.5 * b0 + a0, rtol=1e-6)
    np.testing.assert_allclose(a, a0 - 0.25 * (0.5 * b0 + a0), rtol=1e-6, atol=1e-6)


def test_zeros_stay_zeros(every_isa):
    a, b = _aligned.zeros(128, np.float32), _aligned.zeros(128, np.float32)
    for _ in range(3):
        _core.stream_update_pair(a, b)
    assert not a.any() and not b.any()


@pytest.mark.parametrize("bad, error, match", [
    (np.zeros(64, np.float64), TypeError, "a must be a 1-D C-contiguous float32"),
    (np.zeros((2, 64), np.float32), TypeError, "a must be a 1-D C-contiguous float32"),
    (np.zeros(128, np.float32)[::2], TypeError, "C-contiguous"),
    (np.zeros(65, np.float32), ValueError, "multiple of 64 values, got 65"),
])
def test_bad_arrays_are_named(bad, error, match):
    with pytest.raises(error, match=match):
        _core.stream_read(bad)
    with pytest.raises(error, match=match):
        _core.stream_update_pair(bad, np.zeros(64, np.float32))


def off_by_one_byte(n):
    """n float32 values starting one byte past an aligned start: a view numpy marks unaligned."""
    view = np.zeros(4 * n + 4, np.uint8)[1:1 + 4 * n].view(np.float32)
    assert not view.flags.aligned
    return view


def test_unaligned_arrays_are_named():
    with pytest.raises(ValueError, match="a must be aligned"):
        _core.stream_read(off_by_one_byte(64))
    with pytest.raises(ValueError, match="b must be aligned"):
        _core.stream_update_pair(np.zeros(64, np.float32), off_by_one_byte(64))


def test_update_pair_needs_two_writeable_arrays_of_one_size():
    a = np.zeros(128, np.float32)
    with pytest.raises(ValueError, match="one size, got 128 and 64"):
        _core.stream_update_pair(a, np.zeros(64, np.float32))
    with pytest.raises(ValueError, match="must not overlap"):
        _core.stream_update_pair(a, a)
    frozen = np.zeros(128, np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="b must be writeable"):
        _core.stream_update_pair(a, frozen)
    with pytest.raises(TypeError):
        _core.stream_read(None)
