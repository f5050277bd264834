"""scikit-learn's own tests for MLPClassifier and MLPRegressor, run against fastnn's.

The file sklearn/neural_network/tests/test_mlp.py ships inside the installed scikit-learn; it is
copied with one line changed, the import of the two classes, and run by pytest in a subprocess
with scikit-learn's conftest as a plugin (for its `global_random_seed` fixture), as a user who
changes one import line would run it. Every test must pass or skip as it does for scikit-learn's
own classes (with pandas installed: all of them pass).
"""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THEIR_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor\n"
OUR_IMPORT = "from fastnn import MLPClassifier, MLPRegressor\n"


def test_scikit_learns_test_mlp_passes_against_fastnn(tmp_path):
    sklearn = pytest.importorskip("sklearn")
    pytest.importorskip("joblib")
    source = os.path.join(os.path.dirname(sklearn.__file__), "neural_network", "tests", "test_mlp.py")
    if not os.path.exists(source):
        pytest.skip("this scikit-learn was installed without its tests")
    with open(source, encoding="utf-8") as f:
        text = f.read()
    assert text.count(THEIR_IMPORT) == 1, "scikit-learn's test file imports the MLPs differently now"
    (tmp_path / "test_mlp_fastnn.py").write_text(text.replace(THEIR_IMPORT, OUR_IMPORT), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "sklearn.conftest",
         "-W", "ignore::DeprecationWarning", "test_mlp_fastnn.py"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|errors?|skipped)", summary)}
    assert result.returncode == 0 and not counts.get("failed") and not counts.get("error"), (
        result.stdout[-6000:] + result.stderr[-2000:])
    # the only skips scikit-learn's file makes are for a missing pandas
    try:
        import pandas  # noqa: F401
        assert counts.get("skipped", 0) == 0, summary
    except ImportError:
        assert counts.get("skipped", 0) <= 2, summary
    assert counts["passed"] >= 55, summary
