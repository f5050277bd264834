"""The benchmark says when its comparison is unfair: numpy forced onto older OpenBLAS kernels by the
environment, or jax free to use more cores than the other libraries."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fastnn.bench.competitors import (OPENBLAS_OVERRIDES, comparison_warnings, installed,
                                      numpy_blas, numpy_blas_pool, numpy_core_binary)


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


def test_numpy_blas_is_numpys_own_among_several():
    """scipy and torch load their own OpenBLAS beside numpy's, and threadpoolctl may list theirs
    first: the benchmark names the one numpy links against, else the one in numpy's directories."""
    numpy_libs = os.path.dirname(os.path.abspath(np.__file__)) + ".libs"
    scipys = {"user_api": "blas", "internal_api": "openblas", "version": "0.3.30",
              "filepath": "/site/scipy.libs/libscipy_openblas-aaaa.so", "architecture": "Haswell"}
    numpys = {"user_api": "blas", "internal_api": "openblas", "version": "0.3.31",
              "filepath": os.path.join(numpy_libs, "libscipy_openblas64_-bbbb.so"),
              "architecture": "SkylakeX"}
    openmp = {"user_api": "openmp", "internal_api": "openmp", "filepath": "/site/libgomp.so.1"}
    # by the name numpy's core extension links against, wherever the file lies
    assert numpy_blas_pool([openmp, scipys, numpys],
                           linked=b"\0libscipy_openblas64_-bbbb.so\0") is numpys
    moved = dict(numpys, filepath="/usr/lib/libscipy_openblas64_-bbbb.so")
    assert numpy_blas_pool([scipys, moved], linked=b"\0libscipy_openblas64_-bbbb.so\0") is moved
    # by numpy's own directories when the names say nothing
    assert numpy_blas_pool([scipys, numpys], linked=b"") is numpys
    # one BLAS loaded is numpy's; of several unknown ones, none is named
    assert numpy_blas_pool([openmp, scipys], linked=b"") is scipys
    assert numpy_blas_pool([scipys, dict(scipys, filepath="/other/libopenblas.so")],
                           linked=b"") is None
    assert numpy_blas_pool([openmp], linked=b"") is None


def test_numpy_blas_names_the_library_numpy_loaded():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pools = [p for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
    pool = numpy_blas_pool()
    if pool is None:
        assert len(pools) != 1
        return
    assert pool in pools
    name = os.path.basename(pool["filepath"])
    numpy_dir = os.path.dirname(os.path.abspath(np.__file__))
    assert (name.encode() in numpy_core_binary()
            or os.path.abspath(pool["filepath"]).startswith((numpy_dir + os.sep, numpy_dir + ".libs"))
            or len(pools) == 1)
    assert numpy_blas() == (f"{pool['internal_api']} {pool['version']}"
                            + (f", {pool['architecture']} kernels" if pool.get("architecture") else ""))
