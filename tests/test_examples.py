"""Each example runs, quickly, and prints what it promises."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(name, *args):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name), *args],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_mlp_digits():
    out = run_example("mlp_digits.py", "--epochs", "5", "--no-sklearn", "--threads", "1")
    accuracy = float(re.search(r"fastnn\s+mean test accuracy (\S+),", out).group(1))
    assert accuracy > 0.7  # five epochs at the default rate already learn most digits (chance: 0.1)
    assert "1347 train / 450 test" in out


def test_mlp_digits_beside_scikit_learn():
    pytest.importorskip("sklearn")
    out = run_example("mlp_digits.py", "--epochs", "3", "--threads", "1")
    assert "scikit-learn  mean test accuracy" in out and "faster" in out


def test_perceptron_digits_separates_zeros_from_ones():
    out = run_example("perceptron_digits.py")
    rows = [line.split() for line in out.splitlines() if re.match(r"\s+\d+\s+\d+\s+[\d.]+\s+[\d.]+$", line)]
    assert len(rows) >= 2
    assert int(rows[0][1]) > 0 and int(rows[-1][1]) == 0 and float(rows[-1][2]) == 0.0
    assert "an epoch without a change" in out


def test_xor_is_solved_by_the_feature_map_and_by_a_hidden_layer():
    out = run_example("xor.py")
    for model in ("LogisticRegression", "LinearSVM", "Perceptron"):
        raw, mapped = map(float, re.search(rf"{model}\s+(\S+)\s+(\S+)", out).groups())
        assert raw < 0.8 and mapped > 0.97
    assert float(re.search(r"one hidden layer\s+(\S+)", out).group(1)) > 0.97


def test_universal_approximation_error_falls_with_width():
    out = run_example("universal_approximation.py", "--epochs", "400", "--widths", "2", "64")
    errors = {int(w): float(e) for w, e in re.findall(r"^\s+(\d+)\s+([\d.]+)", out, flags=re.M)}
    assert set(errors) == {2, 64}
    assert errors[64] < 0.1 and errors[64] < errors[2]


def test_cnn_digits_beats_the_mlp_of_the_same_budget():
    out = run_example("cnn_digits.py", "--epochs", "10", "--seeds", "1", "--threads", "1")
    scores = {name: float(acc) for name, acc in re.findall(r"^(CNN|MLP)\s.*mean test accuracy (\S+)", out, flags=re.M)}
    assert set(scores) == {"CNN", "MLP"}
    assert scores["CNN"] > 0.95 and scores["CNN"] > scores["MLP"]


def test_bf16_operands_give_the_float32_inputs_bits():
    out = run_example("bf16_operands.py", "--size", "128", "--rounds", "1")
    assert "bf16 operands and mixed give the same bits: True" in out
    error = float(re.search(r"bf16 values: (\S+)", out).group(1))
    assert error < 1e-4  # float32 sums of 128 exact bf16 products
    assert "bf16 operands (fastnn.to_bf16, once)" in out and "GFLOP/s" in out
