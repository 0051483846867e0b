"""``benchmarks/run.py --quick`` runs end to end and reports every figure issue 7 asks for.

No timing is asserted (a shared machine decides those): only that each ratio and figure
is there, a positive number, and that the run really probed (every probe accepted)."""

from __future__ import annotations

import json
import math

from tests._cli import python

KEYS = (
    "startup_ratio",
    "overhead_requests",
    "overhead_httpx",
    "overhead_urllib3",
    "overhead_stdlib",
    "overhead_pyopenssl",
    "subprocess_overhead_curl",
    "subprocess_overhead_openssl",
    "scale_1000",
    "peak_rss_mb",
    "lab_matrix_s",
)


def test_quick_benchmark_reports_every_figure():
    # The fleet parts (sslyze in its own venv, all 16 clients) are benchmarks, not a smoke
    # test: they are left to a full `benchmarks/run.py` run.
    parts = [arg for part in ("startup", "overhead", "subprocess", "scale", "lab")
             for arg in ("--only", part)]  # fmt: skip
    done = python("benchmarks/run.py", "--quick", *parts, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    for key in KEYS:
        value = report[key]
        assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, key
        assert key in report["met"] and key in report["targets"]
    absolute = report["absolute"]
    assert absolute["lab_probes"] == absolute["lab_scenarios"] * len(absolute["lab_clients"])
    assert absolute["lab_scenarios"] > 0 and "accept" in absolute["lab_verdicts"]
    assert absolute["scale_1000_wall_s"] > 0 and absolute["scale_100_wall_s"] > 0
    assert report["settings"]["mode"] == "quick"


def test_fleet_floor_probes_every_host_with_every_core_client(tmp_path):
    """The fleet benchmark's floor (the seven core clients alone) really probes: it exits 0
    against a host its bundle trusts, and not against one it does not."""
    from tlsmatrix.lab.tlsserver import TLSServer

    from benchmarks._pki import make_pki
    from tests.conftest import require_binary

    require_binary("curl")
    require_binary("openssl")
    pki = make_pki(str(tmp_path))
    (tmp_path / "other").mkdir()
    stranger = make_pki(str(tmp_path / "other"))
    with TLSServer(pki.chain, pki.key) as good, TLSServer(stranger.chain, stranger.key) as bad:
        trusted = python("benchmarks/_bare_fleet.py", json.dumps([good.port]), pki.bundle)
        assert trusted.returncode == 0, trusted.stderr[-2000:]
        both = json.dumps([good.port, bad.port])
        untrusted = python("benchmarks/_bare_fleet.py", both, pki.bundle)
        assert untrusted.returncode != 0
