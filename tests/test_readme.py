"""The README's examples run as written."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if README.exists() else []


@pytest.mark.skipif(not EXAMPLES, reason="README.md is not beside the tests (installed-wheel run)")
@pytest.mark.parametrize("code", EXAMPLES)
def test_readme_example_runs(code):
    exec(compile(code, str(README), "exec"), {})
