"""A correctness sweep of fastnn.matmul against float64 numpy, for whichever kernels are active:
float32, float64, and float32 with precision="bf16" against the float64 product of the operands
rounded to bf16 (whose products are exact in float32, so only the sums' rounding is allowed), and
bit for bit against it the same product on operands stored in bf16 (fastnn.to_bf16).

Run as a script (the tests run it once per instruction set, with FASTNN_ISA set in a fresh
process, since the choice is made at import); prints the ISA and exits non-zero on a mismatch.
The shapes come from the active kernels' own block sizes: one below, at and above each.
"""
import itertools
import sys

import numpy as np

import fastnn
from fastnn import _core
from reference import round_to_bf16


def reference(a, b, trans_a, trans_b):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return (a.T if trans_a else a) @ (b.T if trans_b else b)


def error_bound(a, b, trans_a, trans_b, dtype):
    """|fl(AB) - AB| <= k u |A||B| for any summation order, with a factor 4 of headroom."""
    a, b = np.abs(a.astype(np.float64)), np.abs(b.astype(np.float64))
    k = (a.T if trans_a else a).shape[1]
    return 4 * max(k, 1) * np.finfo(dtype).eps * ((a.T if trans_a else a) @ (b.T if trans_b else b)) + 1e-300


def operand(rng, rows, cols, dtype, transposed):
    """A (rows, cols) matrix for op(), stored transposed when op() will transpose it back."""
    x = rng.standard_normal((cols, rows) if transposed else (rows, cols)).astype(dtype)
    return x


def check(m, n, k, dtype, rng, failures, precision="fp32"):
    for trans_a, trans_b in itertools.product((False, True), repeat=2):
        a = operand(rng, m, k, dtype, trans_a)
        b = operand(rng, k, n, dtype, trans_b)
        c = fastnn.matmul(a, b, trans_a=trans_a, trans_b=trans_b, precision=precision)
        if precision == "bf16":
            # operands stored in bf16 (fastnn.to_bf16) give the same bits as float32 ones
            stored = fastnn.matmul(fastnn.to_bf16(a), fastnn.to_bf16(b), trans_a=trans_a,
                                   trans_b=trans_b, precision=precision)
            if not np.array_equal(stored, c):
                failures.append(("bf16 stored", m, n, k, trans_a, trans_b))
            a, b = round_to_bf16(a), round_to_bf16(b)
        ref = reference(a, b, trans_a, trans_b)
        bad = np.abs(c - ref) > error_bound(a, b, trans_a, trans_b, dtype)
        if c.shape != (m, n) or c.dtype != dtype or bad.any():
            failures.append((np.dtype(dtype).name + "/" + precision, m, n, k, trans_a, trans_b))


def shapes(blocking, large=False, float32=False):
    small = (1, 2, 3, 7)
    yield from itertools.product(small, repeat=3)
    yield from [(0, 5, 3), (5, 0, 3), (5, 3, 0), (1, 1, 1), (13, 17, 19), (97, 89, 101)]
    yield from [(1, 513, 257), (1001, 1, 31), (2, 300, 1), (700, 3, 5)]  # skinny and flat
    mr, nr, kc, mc, nc = (blocking[key] for key in ("mr", "nr", "kc", "mc", "nc"))
    for v in (mr, mc):
        for m in (v - 1, v, v + 1, v + mr):  # v + mr: a whole tile past the boundary
            yield (m, nr + 3, 11)
    for v in (nr, nc):
        for n in (v - 1, v, v + 1):
            yield (mr + 1, n, 11)
    for k in (kc - 1, kc, kc + 1, 2 * kc + 1):
        yield (mr + 1, nr + 1, k)
    # a last column tile of half a tile (784 = 24 x 32 + 16), the sets' half-width kernel: into
    # C where its rows are whole, else through the scratch tile
    yield (2 * mr, nr + nr // 2, kc + 1)
    yield (2 * mr + 1, 2 * nr + nr // 2 - 1, 13)
    # several panels of B: A packed once for all of them, over several blocks and passes; with
    # `large`, a float32 A of more than 4 MiB packed, which the loop nest takes in chunks of rows
    # (main runs it on one thread, whose unit is the whole of A)
    yield (mc + 1, nc + 1, 2 * kc + 1)
    yield (mc + mr, nc + 1, 2 * kc + 1)
    yield (mr + 1, nc + 1, 2 * kc + 1)  # an A that the room for one block of A holds whole
    # up to 512 rows of C the float32 nest halves NC and fetches each next block of B's source
    # while the current one is used (gemm_loop_nest.h: FETCH_NEXT_B_MAX_ROWS): one past half NC
    yield (mc + 1, nc // 2 + 1, 2 * kc + 1)
    # there a float32 set's packing kernel packs B's copy as the first 4 tiles of rows compute
    # (gemm_loop_nest.h: packs_b_in_kernel), B's rows 4 KiB apart up to 64 rows (else read in
    # place): 3 to 5 tiles of rows; past half NC into a panel ending in a half-width micro-panel,
    # then in a partial one; k tails; 511-513 rows
    if float32:
        for m in (3 * mr, 4 * mr, 5 * mr):
            yield (m, 1024, kc + 3)
        yield (9 * mr, nc // 2 + 2 * nr + nr // 2, kc + 3)
        for m in (511, 512, 513):
            yield (m, nc // 2 + 2 * nr + 11, kc // 8 + 1)
    if large:
        yield (1100, nc + 1, 1000)


def rounded_up(m, mr):
    return -(-m // mr) * mr


def narrow_takes(m, blockings):
    """Whether the loop nest runs m rows on the narrow bf16 blocking: where it pads fewer rows
    (gemm_loop_nest.h's choice)."""
    return rounded_up(m, blockings["bf16_narrow"]["mr"]) < rounded_up(m, blockings["bf16"]["mr"])


def tall_takes(m, blockings):
    """Whether the loop nest runs m rows on float32's tall blocking: at most 4 of the default
    tiles of rows, covered in fewer tall ones with no more padding (gemm_loop_nest.h's choice)."""
    mr, tall = blockings["float32"]["mr"], blockings["float32_tall"]["mr"]
    return (m <= 4 * mr and -(-m // tall) < -(-m // mr)
            and rounded_up(m, tall) <= rounded_up(m, mr))


def main():
    rng = np.random.default_rng(1234)
    failures = []
    threads = fastnn.get_num_threads()
    blockings = _core.kernel_blocking()
    runs = [(np.float32, "fp32", "float32"), (np.float64, "fp32", "float64"), (np.float32, "bf16", "bf16")]
    if "bf16_narrow" in blockings:
        runs.append((np.float32, "bf16", "bf16_narrow"))
    if "float32_tall" in blockings:
        runs.append((np.float32, "fp32", "float32_tall"))
    for dtype, precision, blocks in runs:
        for m, n, k in shapes(blockings[blocks], large=blocks == "float32",
                              float32=blocks == "float32"):
            if blocks == "bf16_narrow" and not narrow_takes(m, blockings):
                continue  # the wide blocking's run covers it
            if blocks == "float32_tall" and not tall_takes(m, blockings):
                continue  # the default blocking's run covers it
            fastnn.set_num_threads(1 if m * k >= 1_000_000 else threads)
            check(m, n, k, dtype, rng, failures, precision)
    fastnn.set_num_threads(threads)
    print(f"isa={fastnn.cpu_info()['isa']} failures={len(failures)}")
    for failure in failures[:20]:
        print("mismatch: %s m=%d n=%d k=%d trans_a=%s trans_b=%s" % failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
