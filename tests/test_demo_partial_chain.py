"""``tlsmatrix demo --story partial-chain`` end to end: real curl and the tool's own Python
on the intermediate-only store; Python 3.13 joins when it can be had, else the story says
why it is missing."""

from __future__ import annotations

import sys

from tests._cli import tlsmatrix
from tests.test_demo import row


def _scenes(out: str) -> tuple[str, str]:
    first = out.split("\n1. ", 1)[1]
    broken, strict = first.split("\n2. ", 1)
    return broken, strict


def test_partial_chain_story_splits_curl_and_the_tools_python():
    result = tlsmatrix("demo", "--story", "partial-chain", "--client", "curl,stdlib")
    assert result.returncode == 0, result.stderr
    broken, strict = _scenes(result.stdout)
    assert row(broken, "curl")[1:3] == ["ACCEPT", "ok"]
    assert "intermediate-only" in row(broken, "curl")
    if sys.version_info < (3, 13):
        assert row(broken, "stdlib")[1] == "REJECT"
        assert "anchors only at a self-signed root" in broken
    assert "takes a trusted intermediate as its anchor (partial chain) -> accept" in broken
    # The second scene: a non-strict client accepts the lax basicConstraints.
    assert row(strict, "curl")[1] == "ACCEPT"


def test_the_story_names_python_313_or_says_why_it_is_missing():
    result = tlsmatrix("demo", "--story", "partial-chain")  # its own clients, 3.13 among them
    assert result.returncode == 0, result.stderr
    out = result.stdout
    broken, _ = _scenes(out)
    if "stdlib@3.13" in broken and row(broken, "stdlib@3.13")[1] != "skipped":
        # 3.13's default context sets VERIFY_X509_PARTIAL_CHAIN
        assert row(broken, "stdlib@3.13")[1] == "ACCEPT", out
    else:
        assert "stdlib@3.13 could not be loaded" in out or "stdlib@3.13 is not available" in out


def test_an_unknown_story_is_a_usage_error():
    result = tlsmatrix("demo", "--story", "no-such-story")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
