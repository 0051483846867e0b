"""The README's Python examples run as written: the Python API section against the lab on
loopback, and the pytest-plugin example as a user's test file."""

from __future__ import annotations

import re
from pathlib import Path

from tests._cli import ROOT, python
from tests.test_lab_pytest_plugin import _plugin_args as plugin_args

README = (Path(ROOT) / "README.md").read_text()


def python_blocks(heading: str) -> list[str]:
    """The ```python blocks of the README section whose heading line is ``heading``."""
    start = README.index(f"\n{heading}\n")
    level = heading.split(" ", 1)[0]
    end = README.find(f"\n{level} ", start + len(heading) + 2)
    section = README[start : end if end != -1 else len(README)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_python_api_example_reproduces_the_incident(tmp_path):
    [example] = python_blocks("## Python API")
    script = tmp_path / "example.py"
    script.write_text(example + "\nimport json\nprint(json.loads(document)['schema'])\n")
    done = python(str(script), cwd=tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("curl accept ok "), lines
    assert lines[1].startswith("requests reject incomplete_chain "), lines
    assert "intermediate" in lines[1].lower()
    assert lines[-1].startswith("tlsmatrix/")


def test_the_pytest_plugin_example_runs_as_a_test_file(tmp_path):
    [example] = python_blocks("### Testing your own code against broken chains")
    assert example.startswith("import pytest\nimport requests\n")  # complete, imports included
    (tmp_path / "test_user.py").write_text(example)
    done = python("-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin_args(), cwd=tmp_path)
    assert "1 passed" in done.stdout, done.stdout + done.stderr
