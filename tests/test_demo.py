"""``tlsmatrix demo`` end to end: the incident's rows, the swap, the diagnosis, the fix."""

from __future__ import annotations

import re

from tests._cli import tlsmatrix


def row(section: str, client: str) -> list[str]:
    for line in section.splitlines():
        parts = line.split()
        if parts and parts[0] == client:
            return parts
    raise AssertionError(f"no row for {client} in:\n{section}")


def test_demo_replays_the_incident():
    result = tlsmatrix("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    broken, swapped, diagnosis, fixed = re.split(r"\n(?=[234]\. )", out.split("\n1. ", 1)[1])
    assert row(broken, "curl")[1:3] == ["ACCEPT", "ok"] and "workstation" in row(broken, "curl")
    assert row(broken, "requests")[1:4] == ["REJECT", "incomplete_chain", "20"]
    assert "certifi-like" in row(broken, "requests")
    assert row(broken, "openssl")[1:4] == ["REJECT", "incomplete_chain", "21"]
    assert row(swapped, "requests")[1] == "ACCEPT" and "workstation" in row(swapped, "requests")
    assert row(swapped, "curl")[1] == "REJECT" and "certifi-like" in row(swapped, "curl")
    assert "Missing: 'Lab Intermediate CA'" in diagnosis
    assert "workstation.pem contains it" in diagnosis
    assert "Fix: serve the intermediate 'Lab Intermediate CA'" in diagnosis
    for line in fixed.splitlines()[3:]:
        if line.strip() and not line.strip().startswith(("Every", "Still")):
            assert line.split()[1] in ("ACCEPT", "skipped"), line
    assert "Every client accepts the full chain" in fixed
