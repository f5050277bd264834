"""The benchmark says when its comparison is unfair: numpy forced onto older OpenBLAS kernels by the
environment, or jax free to use more cores than the other libraries."""
import json
import os
import subprocess
import sys

import pytest

from fastnn.bench.competitors import OPENBLAS_OVERRIDES, comparison_warnings, installed


def test_forced_openblas_kernels_are_named(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.delenv("OPENBLAS_L2_SIZE", raising=False)
    warnings = comparison_warnings(("numpy",))
    assert len(warnings) == 1
    assert "OPENBLAS_CORETYPE=Haswell" in warnings[0] and "env -u OPENBLAS_CORETYPE" in warnings[0]


def test_no_openblas_warning_without_overrides_or_without_numpy(monkeypatch):
    for name in OPENBLAS_OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    assert not any("OPENBLAS" in w for w in comparison_warnings(("numpy",)))
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "512")
    assert comparison_warnings(("torch",)) == []


def test_jax_on_several_cores_is_flagged(monkeypatch):
    for name in OPENBLAS_OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    several = len(os.sched_getaffinity(0)) > 1
    flagged = any("taskset -c 0" in w for w in comparison_warnings(("jax",)))
    assert flagged == (several and installed("jax"))


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to pin to one")
def test_one_core_pins_the_process_and_every_row_to_one_thread(tmp_path):
    out = tmp_path / "bench.json"
    code = ("import os, sys, fastnn.bench; fastnn.bench.main(sys.argv[1:]); "
            "print('cores', len(os.sched_getaffinity(0)))")
    result = subprocess.run([sys.executable, "-c", code, "--smoke", "--one-core", "--no-progress",
                             "--sections", "training", "--json", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "cores 1" in result.stdout
    results = json.loads(out.read_text())
    assert results["machine"]["threads"] == 1
    assert {row["threads"] for row in results["training"]} == {1}
    assert not any("jax ignores" in w for w in results["machine"]["warnings"])
