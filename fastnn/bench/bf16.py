"""bf16 products: one core's measured bf16 dot-product peak, and fastnn.matmul(precision="bf16")
against torch.matmul on bf16 tensors, both on one thread, interleaved in the same run.

fastnn runs twice: on bf16 operands (fastnn.to_bf16, converted once outside the timing as torch's
tensors are: the like-for-like comparison, which the bar's verdict uses) and on float32 arrays
(rounded while packed, every call: twice the bytes read).

The bar (issue 10): at n = 1024, at least 85% of the bf16 peak and at least torch's rate. Where
the CPU has no AVX512-BF16, fastnn's bf16 products run on the float32 kernels (the same numbers
up to the order of the sums) and are held against the float32 peak instead.
"""
from functools import partial

import numpy as np

import fastnn
from fastnn import _core

from .competitors import optional_module, thread_count
from .flops import gemm_flops
from .gemm import GEMM_FORMS, gemm_operands
from .timing import clock_for, interleaved_best

BAR_N, BAR_PERCENT_OF_PEAK = 1024, 85
# the runner the bar holds against torch's: both libraries' operands stored in bf16
LIKE_FOR_LIKE = "fastnn bf16 (bf16 operands)"
FLOAT32_INPUT = "fastnn bf16"
WARM_UP_CALLS = 3


def bf16_peak_gflops(seconds=0.002, runs=50):
    """One core's rate of VDPBF16PS chains in GFLOP/s (each lane: two products, two sums), or
    None where the active kernels have no bf16 arithmetic.

    >>> import fastnn.bench.bf16 as b
    >>> peak = b.bf16_peak_gflops(runs=3)
    >>> peak is None or peak > 0
    True
    """
    gflops = _core.bf16_peak_gflops(float(seconds), int(runs))
    return gflops if gflops > 0 else None


def bf16_runners(a, b, trans_a, trans_b, libraries):
    """Callables computing op(a)·op(b) in bf16 with each library, into buffers they keep."""
    op_shape = ((a.T if trans_a else a).shape[0], (b.T if trans_b else b).shape[1])
    runners = {}
    if "fastnn" in libraries:
        out_stored = np.empty(op_shape, dtype=np.float32)
        runners[LIKE_FOR_LIKE] = partial(fastnn.matmul, fastnn.to_bf16(a), fastnn.to_bf16(b),
                                         trans_a=trans_a, trans_b=trans_b, out=out_stored,
                                         precision="bf16")
        out = np.empty(op_shape, dtype=np.float32)
        runners[FLOAT32_INPUT] = partial(fastnn.matmul, a, b, trans_a=trans_a, trans_b=trans_b,
                                         out=out, precision="bf16")
        out32 = np.empty(op_shape, dtype=np.float32)
        runners["fastnn fp32"] = partial(fastnn.matmul, a, b, trans_a=trans_a, trans_b=trans_b,
                                         out=out32)
    torch = optional_module("torch") if "torch" in libraries else None
    if torch is not None:
        ta, tb = torch.from_numpy(a).bfloat16(), torch.from_numpy(b).bfloat16()
        tout = torch.empty(op_shape, dtype=torch.bfloat16)
        runners["torch bf16"] = partial(torch.matmul, ta.T if trans_a else ta,
                                        tb.T if trans_b else tb, out=tout)
    return runners


def bf16_case(n, form, libraries, timing, seed=0):
    """One row per runner: an n x n x n product in `form` on one thread."""
    a, b = gemm_operands(n, n, n, form, np.float32, np.random.default_rng(seed))
    trans_a, trans_b = GEMM_FORMS[form]
    if "torch" in libraries:
        optional_module("torch")  # imported before thread_count, so that it sets torch's threads
    with thread_count(1):
        runners = bf16_runners(a, b, trans_a, trans_b, libraries)
        for run in runners.values():  # torch compiles a kernel per shape over its first calls
            for _ in range(WARM_UP_CALLS):
                run()
        best = interleaved_best(runners, clock=clock_for(1), **timing)
    flops = gemm_flops(n, n, n)
    return [{"n": n, "form": form, "library": name, "threads": 1, "seconds": best[name],
             "gflops": flops / best[name] * 1e-9} for name in runners]


def bf16_section(rows, machine):
    """The table: GFLOP/s, % of the bf16 peak (float32's where there is none), and fastnn's
    bf16 rates against torch's (on bf16 operands, then on float32 arrays), with the bar's verdict
    at n = 1024 on bf16 operands, like torch's."""
    peak = machine.get("peak_gflops_bf16_one_core")
    peak_name = "bf16 peak"
    if peak is None:
        peak, peak_name = machine["peak_gflops_f32_one_core"], "float32 peak (no AVX512-BF16)"
    names = list(dict.fromkeys(r["library"] for r in rows))
    cases = list(dict.fromkeys((r["n"], r["form"]) for r in rows))
    by_key = {(r["n"], r["form"], r["library"]): r for r in rows}
    ours_name = LIKE_FOR_LIKE if LIKE_FOR_LIKE in names else FLOAT32_INPUT
    versus = [name for name in (LIKE_FOR_LIKE, FLOAT32_INPUT) if name in names]
    torch_there = "torch bf16" in names
    header = ["n", "form"] + names + ([f"{'bf16 in' if v == LIKE_FOR_LIKE else 'fp32 in'}/torch"
                                       for v in versus] if torch_there else [])
    body, verdicts = [], []
    for n, form in cases:
        cells = [f"{by_key[(n, form, lib)]['gflops']:.1f} "
                 f"({100 * by_key[(n, form, lib)]['gflops'] / peak:.0f}%)" for lib in names]
        ours = by_key[(n, form, ours_name)]["gflops"]
        if torch_there:
            theirs = by_key[(n, form, "torch bf16")]["gflops"]
            cells += [f"{by_key[(n, form, v)]['gflops'] / theirs:.2f}x" for v in versus]
        body.append([str(n), form] + cells)
        if n == BAR_N:
            met = 100 * ours / peak >= BAR_PERCENT_OF_PEAK and (
                not torch_there or ours >= by_key[(n, form, "torch bf16")]["gflops"])
            verdicts.append(f"{form}: {'met' if met else 'NOT met'}")
    from .report import table
    text = [f"one thread, GFLOP/s (% of the {peak_name}, {peak:.1f} GFLOP/s); fastnn bf16 is "
            f"matmul(precision='bf16') on float32 arrays, '(bf16 operands)' on fastnn.to_bf16's, "
            f"torch bf16 is torch.matmul on bf16 tensors",
            table(header, body, left=2)]
    if verdicts:
        text.append(f"bar at n={BAR_N} ({ours_name} >= {BAR_PERCENT_OF_PEAK}% of the bf16 peak "
                    f"and >= torch): "
                    + "; ".join(verdicts))
    return "\n".join(text)
