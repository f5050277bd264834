"""The benchmark's own truths: the FMA probe's range, the FLOP model, the verdict, and that
`python -m fastnn.bench` runs end to end and writes complete JSON. No timing is asserted beyond
"positive and physically possible"."""
import json
import math
import os
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

import fastnn
from fastnn.bench import (fma_peak_gflops, gemm_flops, interleaved_best, linear_flops,
                          mlp_backward_flops, mlp_forward_flops, predicted_backward_ratio)
from fastnn.bench.flops import training_step_flops
from fastnn.bench.layers import COMPUTE_BOUND_MIN_FLOPS
from fastnn.bench.machine import vector_lanes
from fastnn.bench.report import training_section, verdict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# No x86 core issues more than two FMAs per cycle or clocks above 6 GHz.
MAX_FMA_PIPES, MAX_GHZ = 2, 6.0


def theoretical_bound(dtype):
    """GFLOP/s no core running the active ISA's vectors can exceed."""
    return vector_lanes(dtype) * 2 * MAX_FMA_PIPES * MAX_GHZ


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_probe_is_positive_and_physically_possible(every_isa, dtype):
    peak = fma_peak_gflops(dtype, seconds=0.001, runs=5)
    assert 0 < peak < 2 * theoretical_bound(dtype)


def test_ukernel_probe_is_positive_and_physically_possible(every_isa):
    from fastnn.bench.machine import ukernel_gflops
    assert 0 < ukernel_gflops(seconds=0.001, runs=5) < 2 * theoretical_bound(np.float32)


@pytest.mark.parametrize("kwargs", [{"seconds": 0}, {"seconds": 11}, {"runs": 0}, {"runs": 2.5},
                                    {"runs": True}])
def test_ukernel_probe_rejects_bad_arguments(kwargs):
    from fastnn.bench.machine import ukernel_gflops
    with pytest.raises(ValueError, match="ukernel_gflops"):
        ukernel_gflops(**kwargs)


def test_bf16_probe_exists_exactly_where_bf16_kernels_do(every_isa):
    from fastnn.bench.bf16 import bf16_peak_gflops
    peak = bf16_peak_gflops(seconds=0.001, runs=5)
    if fastnn.cpu_info()["bf16_native"]:
        # two products and two sums a lane: twice a float32 FMA's work, per instruction
        assert 0 < peak < 4 * theoretical_bound(np.float32)
    else:
        assert peak is None


def test_bf16_section_holds_fastnn_against_the_bf16_peak_and_torch():
    from fastnn.bench.bf16 import bf16_section
    rows = [{"n": 1024, "form": "A.B", "library": lib, "gflops": g}
            for lib, g in (("fastnn bf16", 460.0), ("fastnn fp32", 240.0), ("torch bf16", 450.0))]
    text = bf16_section(rows, {"peak_gflops_bf16_one_core": 500.0, "peak_gflops_f32_one_core": 250.0})
    assert "460.0 (92%)" in text and "1.02x" in text and "A.B: met" in text
    rows[0]["gflops"] = 420.0  # 84% of the peak: short of the bar
    assert "A.B: NOT met" in bf16_section(rows, {"peak_gflops_bf16_one_core": 500.0,
                                                 "peak_gflops_f32_one_core": 250.0})


def test_bf16_verdict_holds_the_bf16_operand_runner_against_torch():
    """Like for like: torch's operands are bf16 tensors, so the bar's verdict uses fastnn on
    bf16 operands where the rows have it, and the float32-input rate is shown beside."""
    from fastnn.bench.bf16 import bf16_section
    peaks = {"peak_gflops_bf16_one_core": 500.0, "peak_gflops_f32_one_core": 250.0}
    rows = [{"n": 1024, "form": "A.B^T", "library": lib, "gflops": g}
            for lib, g in (("fastnn bf16 (bf16 operands)", 470.0), ("fastnn bf16", 440.0),
                           ("torch bf16", 450.0))]
    text = bf16_section(rows, peaks)
    assert "A.B^T: met" in text and "1.04x" in text and "0.98x" in text
    rows[0]["gflops"] = 445.0  # float32 input's figure would not decide it either way
    assert "A.B^T: NOT met" in bf16_section(rows, peaks)


def test_probe_lanes_follow_the_isa(every_isa):
    expected = {"avx512_bf16": 16, "avx512": 16, "avx2": 8, "generic": 4}[every_isa]
    assert vector_lanes(np.float32) == expected
    assert vector_lanes(np.float64) == expected // 2


@pytest.mark.parametrize("kwargs, error", [
    ({"dtype": np.int32}, TypeError),
    ({"dtype": np.float16}, TypeError),
    ({"seconds": 0}, ValueError),
    ({"seconds": -1.0}, ValueError),
    ({"seconds": 11}, ValueError),
    ({"runs": 0}, ValueError),
    ({"runs": 2.5}, ValueError),
    ({"runs": True}, ValueError),
])
def test_probe_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error):
        fma_peak_gflops(**kwargs)


def test_flop_counts_on_known_cases():
    assert gemm_flops(2, 3, 4) == 48
    assert linear_flops(256, 784, 1024) == 2 * 256 * 784 * 1024 == 411_041_792
    # 784-1024-1024-10 at batch 256: 2·256·(784·1024 + 1024·1024 + 1024·10)
    assert mlp_forward_flops([784, 1024, 1024, 10], 256) == 953_155_584
    assert mlp_backward_flops([784, 1024, 1024, 10], 256) == 2 * 953_155_584
    assert mlp_backward_flops([784, 1024, 1024, 10], 256, need_input_grad=False) == (
        2 * 953_155_584 - 411_041_792)


def test_predicted_ratio_is_two_minus_the_first_layers_share():
    sizes = [784, 1024, 1024, 10]
    share = Fraction(784 * 1024, 784 * 1024 + 1024 * 1024 + 1024 * 10)
    exact = Fraction(mlp_backward_flops(sizes, 7, need_input_grad=False), mlp_forward_flops(sizes, 7))
    assert exact == 2 - share
    assert predicted_backward_ratio(sizes, need_input_grad=False) == pytest.approx(
        float(2 - share), rel=1e-15)
    assert predicted_backward_ratio(sizes) == 2.0
    assert predicted_backward_ratio([512, 512], need_input_grad=False) == 1.0
    assert predicted_backward_ratio([3, 5], need_input_grad=True) == 2.0


@pytest.mark.parametrize("sizes", [[], [10], [10, 0], [-1, 4]])
def test_flop_model_rejects_bad_sizes(sizes):
    with pytest.raises(ValueError, match="sizes"):
        mlp_forward_flops(sizes, 1)


def test_interleaved_best_times_every_candidate():
    calls = {"a": 0, "b": 0}

    def make(name):
        def fn():
            calls[name] += 1
        return fn
    best = interleaved_best({"a": make("a"), "b": make("b")}, rounds=3, round_seconds=1e-4)
    assert set(best) == {"a", "b"}
    assert all(0 < t < 1 for t in best.values())
    assert calls["a"] >= 4 and calls["b"] >= 4  # a warm-up call, then at least one per round
    with pytest.raises(ValueError, match="rounds"):
        interleaved_best({"a": make("a")}, rounds=0)


def test_interleaved_best_warm_calls_each_candidate_once_more_a_round():
    calls, order = {"a": 0, "b": 0}, []

    def make(name):
        def fn():
            calls[name] += 1
            order.append(name)
        return fn
    interleaved_best({"a": make("a"), "b": make("b")}, rounds=3, round_seconds=0, warm=True)
    assert calls == {"a": 2 + 3 * 2, "b": 2 + 3 * 2}  # the first estimate, then warm + timed
    assert order[4:8] == ["a", "a", "b", "b"]


def test_interleaved_best_counts_repeats_from_a_call_after_the_first():
    """A first call that compiles (jax.jit) must not leave its candidate with rounds of one call
    while the others get dozens."""
    import time
    calls = {"jit": 0}

    def jit_like():
        calls["jit"] += 1
        if calls["jit"] == 1:
            time.sleep(0.05)
    interleaved_best({"jit": jit_like}, rounds=2, round_seconds=0.005)
    assert calls["jit"] > 2 + 2 * 10


def ratio_row(batch, sizes, ratio_with, ratio_without, flops_per_byte=100.0, flops=1e9):
    return {
        "kind": "mlp", "sizes": sizes, "batch": batch, "forward_flops": flops,
        "flops_per_byte": flops_per_byte, "compute_bound": flops_per_byte >= 32 and
        flops >= COMPUTE_BOUND_MIN_FLOPS,
        "ratio_input_grad": ratio_with, "predicted_input_grad": 2.0,
        "within_input_grad": abs(ratio_with / 2.0 - 1) <= 0.2,
        "ratio_no_input_grad": ratio_without, "predicted_no_input_grad": 1.57,
        "within_no_input_grad": abs(ratio_without / 1.57 - 1) <= 0.2,
    }


def test_verdict_counts_compute_bound_checks_and_explains_departures():
    bar_sizes = [784, 1024, 1024, 10]
    rows = [ratio_row(256, bar_sizes, 2.1, 1.6),
            ratio_row(1024, bar_sizes, 1.9, 1.5),
            ratio_row(1, bar_sizes, 3.0, 2.5, flops_per_byte=0.5, flops=3e6),
            ratio_row(16, bar_sizes, 3.0, 2.5, flops_per_byte=8, flops=6e7)]
    result = verdict(rows)
    assert result["compute_bound_checks"] == 4 and result["compute_bound_within"] == 4
    assert result["departures"] == {"small": 2, "memory": 2}
    assert result["bar"]["passed"] and len(result["bar"]["cases"]) == 4
    assert "PASS" in result["text"]

    rows[0] = ratio_row(256, bar_sizes, 2.7, 1.6)
    result = verdict(rows)
    assert not result["bar"]["passed"] and "FAIL" in result["text"]
    assert result["departures"]["compute"] == 1


def run_bench(*args, timeout=120):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "fastnn.bench", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_command_line_writes_every_section_to_json(tmp_path):
    out = tmp_path / "bench.json"
    done = run_bench("--smoke", "--json", str(out))
    assert done.returncode == 0, done.stderr
    for heading in ("== 1. Machine ==", "== 2. GEMM ==", "== 2b. bf16 products",
                    "== 3. Layers and MLPs", "Verdict:", "== 4. Training step"):
        assert heading in done.stdout
    assert "/" in done.stderr  # the progress bar's step counter
    results = json.loads(out.read_text())
    assert {"mode", "machine", "gemm", "layers", "mlps", "training", "verdict",
            "elapsed_s"} <= set(results)
    machine = results["machine"]
    assert machine["isa"] == fastnn.cpu_info()["isa"]
    assert machine["peak_gflops_f32_one_core"] > 0 and machine["peak_gflops_f64_one_core"] > 0
    assert machine["ukernel_gflops_f32_one_core"] > 0
    assert "GEMM kernel      float32" in done.stdout
    assert machine["threads"] >= 1
    libraries = {row["library"] for row in results["gemm"]}
    assert {"fastnn", "numpy"} <= libraries
    assert {row["form"] for row in results["gemm"]} == {"A.B", "A.B^T", "A^T.B"}
    for row in results["gemm"]:
        assert row["gflops"] > 0 and math.isclose(
            row["gflops"], gemm_flops(row["n"], row["n"], row["n"]) / row["seconds"] * 1e-9)
    for row in results["layers"] + results["mlps"]:
        assert row["forward_s"] > 0 and row["backward_s"] > 0
        assert row["predicted_input_grad"] == 2.0
        assert row["predicted_no_input_grad"] == predicted_backward_ratio(
            row["sizes"], need_input_grad=False)
        assert math.isclose(row["ratio_input_grad"], row["backward_s"] / row["forward_s"])
    assert {row["library"] for row in results["bf16"]} == {
        "fastnn bf16 (bf16 operands)", "fastnn bf16", "fastnn fp32"}
    assert all(row["gflops"] > 0 for row in results["bf16"])
    assert (machine["peak_gflops_bf16_one_core"] is None) == (not fastnn.cpu_info()["bf16_native"])
    assert {row["library"] for row in results["training"]} >= {"fastnn", "numpy"}
    assert all(row["seconds"] > 0 for row in results["training"])
    assert all(row["peak_gflops_f32_one_core"] > 0 for row in results["training"])


def test_training_share_divides_by_the_peak_probed_with_its_case():
    """Each case's share of the FLOP limit uses the peak read in its own rounds (the row's), times
    its threads; a row without one falls back to the machine's."""
    flops = training_step_flops([64, 32, 10], 16)
    rows = [{"sizes": [64, 32, 10], "batch": 16, "threads": 1, "library": "fastnn",
             "seconds": flops / 100e9, "peak_gflops_f32_one_core": 200.0},
            {"sizes": [64, 32, 10], "batch": 16, "threads": 2, "library": "fastnn",
             "seconds": flops / 100e9, "peak_gflops_f32_one_core": 250.0},
            {"sizes": [64, 32, 10], "batch": 32, "threads": 1, "library": "fastnn",
             "seconds": 2 * flops / 100e9}]
    lines = training_section(rows, {"peak_gflops_f32_one_core": 400.0}).splitlines()
    assert lines[2].split()[-2:] == ["200", "50%"]
    assert lines[3].split()[-2:] == ["250", "20%"]
    assert lines[4].split()[-2:] == ["400", "25%"]


@pytest.mark.skipif(os.environ.get("FASTNN_SANITIZED") == "1",
                    reason="matplotlib's C++ code cannot throw under a preloaded AddressSanitizer")
def test_plot_writes_a_png_when_matplotlib_is_installed(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "bench.png"
    done = run_bench("--smoke", "--no-progress", "--sections", "gemm,layers", "--plot", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_so(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None\n"  # makes `import matplotlib` fail
            "from fastnn.bench.__main__ import main\n"
            f"sys.exit(main(['--smoke', '--no-progress', '--sections', 'gemm', '--plot', "
            f"{str(tmp_path / 'x.png')!r}]))")
    env = dict(os.environ, PYTHONPATH=REPO)
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "needs matplotlib" in done.stderr
    assert "== 2. GEMM ==" in done.stdout  # the figures are still printed
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("args", [["--threads", "0"], ["--sections", "gemm,nonsense"],
                                  ["--quick", "--full"]])
def test_command_line_rejects_bad_arguments(args):
    done = run_bench(*args)
    assert done.returncode == 2
    assert "error" in done.stderr


@pytest.mark.parametrize("mode_name", ["smoke", "quick", "default", "full"])
def test_every_mode_plans_every_section(mode_name):
    from fastnn.bench.__main__ import SECTIONS, plan_steps
    from fastnn.bench.modes import MODES
    labels = [label for label, _ in plan_steps(MODES[mode_name], SECTIONS, 2, {})]
    assert labels[0].startswith("machine")
    assert len(labels) == len(set(labels))
    for section in SECTIONS:
        assert any(label.startswith(section) for label in labels)
        assert any(label.startswith(section if section != "layers" else "mlps") for label in labels)
    for threads in ("1 thread", "2 threads"):
        assert any(label.startswith("gemm") and label.endswith(threads) for label in labels)


def test_float64_gemm_rows_use_the_float64_peak():
    from fastnn.bench.gemm import gemm_case
    rows = gemm_case(32, "A^T.B", "float64", 1, 1, ["fastnn", "numpy"], 50.0,
                     {"rounds": 2, "round_seconds": 1e-4})
    assert [r["library"] for r in rows] == ["fastnn", "numpy"]
    for r in rows:
        assert r["dtype"] == "float64"
        assert math.isclose(r["percent_of_peak"], 100 * r["gflops"] / 50.0)


def test_step_products_count_the_step_flops():
    """The benchmarks' list of a step's products (gemm_shapes.py, bf16_training.py) adds up to the
    FLOP count the step's % of the limit divides by, with the forms their operands are made in."""
    import doctest

    from fastnn.bench import flops
    from fastnn.bench.gemm import GEMM_FORMS
    assert doctest.testmod(flops, raise_on_error=True).attempted > 5
    for sizes, batch in (([784, 1024, 1024, 10], 256), ([7, 2], 1), ([3, 11, 4, 2], 13)):
        products = flops.step_products(sizes, batch)
        assert len(products) == 3 * (len(sizes) - 1) - 1
        assert all(form in GEMM_FORMS for *_, form in products)
        assert sum(gemm_flops(m, n, k) for _, m, n, k, _ in products) == \
            flops.training_step_flops(sizes, batch)
