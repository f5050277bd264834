"""Every micro-kernel and packer of every kernel set this CPU runs, on its own, against a
float64 numpy reference of its contract (csrc/kernel_context.h): every k remainder around the
kernels' unrolling and vector widths, every edge row and column count of the dot tiles, alpha and
beta, beta == 0 reading nothing of C, nothing written outside the tile. A kernel bug shows here,
in the kernel, rather than in a network three layers up (as XNNPACK tests its kernels)."""
import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

from fastnn import _core

sys.path.insert(0, str(Path(__file__).parent))
from reference import round_to_bf16  # noqa: E402

RUNNABLE = [isa for isa in _core.isa_names() if _core.isa_supported(isa) == 1]
REGISTER_TILES = ("sgemm", "dgemm", "bf16gemm", "bf16gemm_narrow", "bf16gemm_fetching",
                  "bf16gemm_narrow_fetching", "sgemm_half", "dgemm_half", "sgemm_packing_b")
# bf16: float32 rows, rounded in-kernel; sgemm_dot_wide: the tile spanning a product's few columns
DOT_TILES = ("sgemm_dot", "dgemm_dot", "bf16gemm_dot", "sgemm_dot_wide")
# k: empty, below, at and past the unrolling (4) and a bf16 pair, and past 16 lanes
K_VALUES = (0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 67)
ALPHA_BETA = ((1.0, 0.0), (0.5, 0.0), (-2.0, 1.0), (1.5, -0.75))


def kernel_or_skip(isa, kind):
    try:
        return _core._ukernel_shape(isa, kind)
    except ValueError:
        pytest.skip(f"{isa} has no {kind} kernel")


def bf16_bits(x):
    """The bf16 values of float32 x (already representable) as uint16."""
    return (np.ascontiguousarray(x, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)


def pair_panel(x):
    """A (k, w) panel to bf16 pairs: per pair q, w pairs (x[2q, r], x[2q+1, r]); odd k padded."""
    k, w = x.shape
    padded = np.zeros((k + k % 2, w), dtype=np.float32)
    padded[:k] = x
    return bf16_bits(padded.reshape(-1, 2, w).transpose(0, 2, 1)).reshape(1, -1)


def error_bound(a, b, c0, alpha, beta, eps):
    k = a.shape[0]
    return (4 * (k + 2) * eps * (abs(alpha) * (np.abs(a.T) @ np.abs(b)) + abs(beta) * np.abs(c0))
            + 1e-30)


@pytest.mark.parametrize("isa", RUNNABLE)
@pytest.mark.parametrize("kind", REGISTER_TILES)
def test_register_tile_kernel(isa, kind):
    mr, nr = kernel_or_skip(isa, kind)
    dtype = np.float64 if kind.startswith("dgemm") else np.float32
    eps = np.finfo(dtype).eps
    rng = np.random.default_rng(len(isa) * 10 + len(kind))
    for k, (alpha, beta) in itertools.product(K_VALUES, ALPHA_BETA):
        a = rng.standard_normal((k, mr)).astype(dtype)  # the panels as the loop nest packs them
        b = rng.standard_normal((k, nr)).astype(dtype)
        if kind.startswith("bf16gemm"):
            a, b = round_to_bf16(a), round_to_bf16(b)
            a_panel, b_panel = pair_panel(a), pair_panel(b)
        else:
            a_panel, b_panel = a.reshape(1, -1).copy(), b.reshape(1, -1).copy()
        c0 = rng.standard_normal((mr, nr)).astype(dtype)
        c = np.full((mr, nr + 5), np.nan, dtype=dtype)  # ldc past the tile; nan: never read
        if beta != 0:
            c[:, :nr] = c0
        _core._ukernel_test(isa, kind, k, a_panel, b_panel, c, alpha=alpha, beta=beta)
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        expected = alpha * (a64.T @ b64) + (beta * c0 if beta != 0 else 0)
        bad = ~(np.abs(c[:, :nr] - expected) <= error_bound(a64, b64, c0, alpha, beta, eps))
        assert not bad.any(), (isa, kind, k, alpha, beta, np.argwhere(bad)[:5])
        assert np.isnan(c[:, nr:]).all(), (isa, kind, k, "wrote past the tile")


@pytest.mark.parametrize("isa", RUNNABLE)
def test_packing_kernel_copies_its_share_of_the_next_panel(isa):
    """The tile that packs B's next micro-panel as it runs (gemm_loop_nest.h's first tiles of
    rows): C bit for bit the plain tile's, and copy_rows k steps of nr floats of src in
    dst[p * nr + j] = src[p, j] (the copying packer's layout), copy_rows from none through the
    kernel's own slots (one every few k steps) to more than k, every k remainder; nothing of src
    past nr copied, nothing written past the copied steps."""
    mr, nr = kernel_or_skip(isa, "sgemm_packing_b")
    rng = np.random.default_rng(11)
    for k in K_VALUES:
        for copy_rows in sorted({0, 1, k // 4, -(-k // 4), k // 4 + 2, k + 3}):
            alpha, beta = ALPHA_BETA[(k + copy_rows) % len(ALPHA_BETA)]
            a = rng.standard_normal((1, k * mr)).astype(np.float32)
            b = rng.standard_normal((1, k * nr)).astype(np.float32)
            c = np.full((mr, nr + 5), np.nan, np.float32)  # ldc past the tile; nan: never read
            if beta != 0:
                c[:, :nr] = rng.standard_normal((mr, nr))
            plain = c.copy()
            src = rng.standard_normal((copy_rows + 1, nr + 7)).astype(np.float32)
            dst = np.full((copy_rows + 2) * nr, np.nan, np.float32)
            _core._packing_ukernel_test(isa, k, a, b, c, src, dst, copy_rows, alpha, beta)
            _core._ukernel_test(isa, "sgemm", k, a, b, plain, alpha=alpha, beta=beta)
            np.testing.assert_array_equal(c, plain, err_msg=f"{isa} k={k} copy_rows={copy_rows}")
            np.testing.assert_array_equal(dst[:copy_rows * nr], src[:copy_rows, :nr].ravel(),
                                          err_msg=f"{isa} k={k} copy_rows={copy_rows}")
            assert np.isnan(dst[copy_rows * nr:]).all(), (isa, k, copy_rows, "wrote past")


@pytest.mark.parametrize("isa", RUNNABLE)
@pytest.mark.parametrize("kind", DOT_TILES)
def test_dot_tile_kernel_on_every_edge(isa, kind):
    dm, dn = kernel_or_skip(isa, kind)
    dtype = np.float64 if kind == "dgemm_dot" else np.float32
    eps = np.finfo(dtype).eps
    rng = np.random.default_rng(7)
    for k, rows, cols in itertools.product(K_VALUES, range(1, dm + 1), range(1, dn + 1)):
        alpha, beta = ALPHA_BETA[(k + rows + cols) % len(ALPHA_BETA)]
        a = rng.standard_normal((rows, k + 3)).astype(dtype)[:, :k]  # rows lda apart
        b = rng.standard_normal((cols, k + 1)).astype(dtype)[:, :k]
        c0 = rng.standard_normal((rows, cols)).astype(dtype)
        c = np.full((dm + 1, dn + 2), np.nan, dtype=dtype)
        if beta != 0:
            c[:rows, :cols] = c0
        _core._ukernel_test(isa, kind, k, a, b, c, alpha=alpha, beta=beta, rows=rows, cols=cols)
        if kind == "bf16gemm_dot":
            a, b = round_to_bf16(a), round_to_bf16(b)
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        expected = alpha * (a64 @ b64.T) + (beta * c0 if beta != 0 else 0)
        bound = error_bound(a64.T, b64.T, c0, alpha, beta, eps)
        assert (np.abs(c[:rows, :cols] - expected) <= bound).all(), (isa, kind, k, rows, cols)
        outside = np.ones_like(c, dtype=bool)
        outside[:rows, :cols] = False
        assert np.isnan(c[outside]).all(), (isa, kind, k, rows, cols, "wrote outside the tile")


@pytest.mark.parametrize("isa", RUNNABLE)
def test_wide_dot_tile_sums_each_element_as_the_dot_tile(isa):
    """The loop nest takes either dot tile by the product's columns alone: an element must have
    the same bits on both (the same lanes along k, the same tree across them)."""
    wm, wn = kernel_or_skip(isa, "sgemm_dot_wide")
    rng = np.random.default_rng(11)
    for k in (1, 15, 16, 17, 33, 1024 + 5):
        a = rng.standard_normal((wm, k + 3)).astype(np.float32)[:, :k]
        b = rng.standard_normal((wn, k + 1)).astype(np.float32)[:, :k]
        for rows, cols in ((wm, wn), (1, wn), (wm - 1, 2)):
            wide = np.zeros((rows, cols), np.float32)
            _core._ukernel_test(isa, "sgemm_dot_wide", k, a, b, wide, alpha=0.5, rows=rows, cols=cols)
            for j in range(cols):
                one = np.zeros((rows, 1), np.float32)
                _core._ukernel_test(isa, "sgemm_dot", k, a, b[j:j + 1], one, alpha=0.5, rows=rows,
                                    cols=1)
                np.testing.assert_array_equal(wide[:, j], one[:, 0], err_msg=f"{isa} k={k} {rows}x{cols}")


def bf16_panel_widths(isa):
    """The panel widths set `isa`'s bf16 packers serve: its tiles' MR and NR, the narrow MR."""
    mr, nr = kernel_or_skip(isa, "bf16gemm")
    widths = {mr, nr}
    try:
        widths.add(_core._ukernel_shape(isa, "bf16gemm_narrow")[0])
    except ValueError:
        pass
    return widths


@pytest.mark.parametrize("isa", RUNNABLE)
@pytest.mark.parametrize("interleaved", [False, True], ids=["transposed", "interleaved"])
def test_bf16_packers_round_and_pair_like_the_definition(isa, interleaved):
    widths = bf16_panel_widths(isa)
    rng = np.random.default_rng(3)
    # kc: every count of pairs in a 16-step block (each ends a vector of the panel elsewhere);
    # panels: one, and odd and even counts past it (narrow panels go two to a vector)
    kc_values = (1, 2, 3, 5, 7, 9, 11, 13, 15, 16, 17, 33)
    for w, panels, kc in itertools.product(sorted(widths), (1, 2, 3, 4), kc_values):
        # values that exercise rounding: ties, denormals, infinities, NaN among normal numbers
        x = rng.standard_normal((kc, panels * w + 3)).astype(np.float32)
        x.flat[::7] = np.float32(1 + 2 ** -8)           # a tie: rounds to even (1.0)
        x.flat[3::11] = np.float32(1e-40)               # a denormal: to zero
        x.flat[5::13] = np.inf
        src = x if interleaved else np.ascontiguousarray(x.T)
        packed = _core._bf16_pack_test(isa, interleaved, src, w, panels)
        steps = panels * w
        expected = np.concatenate([pair_panel(round_to_bf16(x[:, p * w:(p + 1) * w])).ravel()
                                   for p in range(panels)])
        assert packed.shape == expected.shape
        np.testing.assert_array_equal(packed, expected, err_msg=f"{isa} w={w} kc={kc} of {steps}")


@pytest.mark.parametrize("isa", RUNNABLE)
@pytest.mark.parametrize("interleaved", [False, True], ids=["transposed", "interleaved"])
def test_bf16_packers_from_bf16_sources_pair_like_the_definition(isa, interleaved):
    """The packers of operands stored in bf16: the same panels as the definition, the values
    moved as they are (NaN payloads, denormals and all), an odd kc completed with zero and
    nothing read past kc (the source's next values are NaN)."""
    widths = bf16_panel_widths(isa)
    rng = np.random.default_rng(4)
    # kc: every count of pairs in the 16- and 32-step blocks, and past them
    kc_values = (1, 2, 3, 5, 7, 9, 15, 16, 17, 31, 32, 33, 47, 64, 65)
    for w, panels, kc in itertools.product(sorted(widths), (1, 2, 3, 5), kc_values):
        bits = rng.integers(0, 1 << 16, (kc + 1, panels * w + 3), dtype=np.uint16)
        bits[kc] = 0x7FC1  # a NaN pattern past kc: must not be read
        # transposed: rows along k, kc + 1 apart, so the NaN follows each row's last value
        src = bits[:kc] if interleaved else np.ascontiguousarray(bits.T)[:, :kc]
        packed = _core._bf16_pack_test(isa, interleaved, src, w, panels)
        expected = []
        for p in range(panels):
            panel = np.zeros((kc + kc % 2, w), np.uint16)
            panel[:kc] = bits[:kc, p * w:(p + 1) * w]
            expected.append(panel.reshape(-1, 2, w).transpose(0, 2, 1).ravel())
        np.testing.assert_array_equal(packed, np.concatenate(expected),
                                      err_msg=f"{isa} w={w} kc={kc} panels={panels}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transposed", [False, True], ids=["copying", "transposing"])
def test_float_packers_lay_out_panels_like_the_definition(isa, dtype, transposed):
    """panel i, k step p, lane r holds op(source)[p, i * w + r]: the copying packer on k steps of
    consecutive values (B as stored, A transposed), the transposing one on rows along k, for the
    set's own panel widths and others (its copying packer takes any), every k remainder around the
    copy's steps of 8 and the transposes' blocks of 4, 8 and 16, a source off its alignment, and
    nothing written past the last panel."""
    kind = "dgemm" if dtype == np.float64 else "sgemm"
    mr, nr = kernel_or_skip(isa, kind)
    widths = {mr, nr} if transposed else {mr, nr, 1, 3, 5, 12}
    rng = np.random.default_rng(5)
    kc_values = (1, 2, 3, 7, 8, 9, 15, 16, 17, 33)
    for w, panels, kc in itertools.product(sorted(widths), (1, 2, 3), kc_values):
        steps = panels * w
        x = rng.standard_normal((kc, steps + 3)).astype(dtype)  # k steps along rows
        src = np.ascontiguousarray(x.T) if transposed else x
        src = np.pad(src, ((0, 0), (1, 0)))[:, 1:]  # one value off the array's alignment
        try:
            packed = _core._float_pack_test(isa, transposed, src, w, panels, guard=16)
        except ValueError:
            assert transposed
            pytest.skip(f"{isa} has no {kind} transposing packer")
        expected = x[:, :steps].reshape(kc, panels, w).transpose(1, 0, 2).ravel()
        np.testing.assert_array_equal(packed[:steps * kc], expected,
                                      err_msg=f"{isa} {kind} w={w} panels={panels} kc={kc}")
        assert np.isnan(packed[steps * kc:]).all(), (isa, kind, w, panels, kc, "wrote past the end")


@pytest.mark.parametrize("start", [0, 1, 4, 12], ids=lambda s: f"start{s}")
@pytest.mark.parametrize("row_floats", [1024, 784, 1040])
def test_transposing_packer_on_weight_rows(isa, row_floats, start):
    """The transposing packer on rows laid out as a weight's (W's rows 4 KiB apart at 1024
    inputs, 784 in the step's first layer), at the k depths the step's passes take (256; 200 and
    184 for 784 inputs) and odd tails, for widths 8 (A's panels: X and dS as stored), 16 and 32
    (the panels of B = W^T), from rows starting on a cache line or `start` values past one (numpy
    allocates 16 bytes past a line here), against the layout definition and nothing written past
    the end."""
    mr, nr = kernel_or_skip(isa, "sgemm")
    rng = np.random.default_rng(9)
    raw = np.empty(96 * row_floats + 32, np.float32)
    first = (-raw.ctypes.data % 64) // 4 + start
    weight = raw[first:first + 96 * row_floats].reshape(96, row_floats)
    weight[:] = rng.standard_normal(weight.shape)
    for w, kc in itertools.product(sorted({8, 16, 32, mr, nr}), (256, 200, 184, 31, 9, 1)):
        panels = 96 // w
        try:
            packed = _core._float_pack_test(isa, True, weight[:panels * w, :kc], w, panels,
                                            guard=16)
        except ValueError:
            pytest.skip(f"{isa} has no sgemm transposing packer")
        expected = weight[:panels * w, :kc].T.reshape(kc, panels, w).transpose(1, 0, 2).ravel()
        np.testing.assert_array_equal(packed[:panels * w * kc], expected,
                                      err_msg=f"{isa} w={w} kc={kc} ld={row_floats} start={start}")
        assert np.isnan(packed[panels * w * kc:]).all(), (isa, w, kc, "wrote past the end")


def test_unknown_or_missing_kernels_are_clear_errors():
    with pytest.raises(ValueError, match="no kernel set"):
        _core._ukernel_shape("sse9", "sgemm")
    if "generic" in RUNNABLE:
        with pytest.raises(ValueError, match="no bf16gemm"):
            _core._ukernel_shape("generic", "bf16gemm")
        a = np.zeros((1, 4), np.float32)
        with pytest.raises(ValueError, match="panels"):  # too small for the tile: refused
            _core._ukernel_test("generic", "sgemm", 8, a, a, np.zeros((4, 8), np.float32))
