"""The HTML matrix stays legible at lab size: 16 clients x 30 targets at 1400 px, every
client column visible, rows named by scenario (or host:port), cells compact.

Headless Chromium lays the report out at 1400 px. A copy of the report gets one inline
script (its CSP meta removed) that writes the matrix's measured boxes into the DOM, and
``--dump-dom`` prints them; the report itself stays script-free."""

from __future__ import annotations

import json
import os
import re
import shutil

from tlsmatrix.clients import names as client_names
from tlsmatrix.clients.base import Observation, Reason, ReasonSource, Verdict
from tlsmatrix.clients.process import run_command
from tlsmatrix.lab.scenarios import CATALOGUE
from tlsmatrix.reports import render
from tlsmatrix.reports.html import COLOURS, compact_reason
from tlsmatrix.results.model import RunResult

from tests.conftest import clean_environ, needs

CHROMIUM = next(
    (
        p
        for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "")
        if p and os.access(p, os.X_OK)
    ),
    None,
)
OUTCOMES = [
    (Verdict.ACCEPT, Reason.OK),
    (Verdict.REJECT, Reason.INCOMPLETE_CHAIN),
    (Verdict.REJECT, Reason.HOSTNAME_MISMATCH),
    (Verdict.ERROR, Reason.CONNECTION_REFUSED),
    (Verdict.TIMEOUT, Reason.TIMEOUT),
    (Verdict.REJECT, Reason.CROSS_SIGNED_EXPIRED)
    if hasattr(Reason, "CROSS_SIGNED_EXPIRED")
    else (Verdict.REJECT, Reason.UNTRUSTED_ROOT),
]

MEASURE = """<script>
const box = e => e.getBoundingClientRect();
const heads = [...document.querySelectorAll('table.matrix thead th')];
const rows = [...document.querySelectorAll('table.matrix tbody tr')];
document.body.setAttribute('data-measured', JSON.stringify({
  heads: heads.map(h => ({text: h.textContent, left: box(h).left, right: box(h).right})),
  labels: rows.map(r => r.querySelector('th').textContent),
  rowHeight: Math.max(...rows.map(r => box(r).height)),
  firstWidth: box(rows[0].querySelector('th')).width,
}));
</script>"""


def lab_sized_run() -> RunResult:
    """16 clients x 30 targets: every lab scenario on a random port, plus long host names."""
    scenarios = {f"https://localhost:{40000 + i}": n for i, n in enumerate(CATALOGUE.names())}
    plain = [f"https://backend-{i:02}.payments.example.invalid:8443/healthz" for i in range(30)]
    targets = [*scenarios, *plain][:30]
    clients = client_names()
    assert len(clients) == 16
    results = tuple(
        Observation(
            target=t,
            client=c,
            verdict=OUTCOMES[(i + j) % len(OUTCOMES)][0],
            reason=OUTCOMES[(i + j) % len(OUTCOMES)][1],
            detail=f"{c} said something long about {t} " * 3,
            reason_source=ReasonSource.CLIENT,
        )
        for i, t in enumerate(targets)
        for j, c in enumerate(clients)
    )
    return RunResult(
        results, (), {}, "2026-01-01T00:00:00Z", extra={"lab": {"scenarios": scenarios}}
    )


def test_compact_cells_say_verdict_and_short_reason():
    obs = Observation("t", "c", Verdict.REJECT, Reason.INCOMPLETE_CHAIN)
    assert compact_reason(obs) == "✘ chain"
    long = Observation("t", "c", Verdict.ERROR, Reason.CONNECTION_REFUSED)
    assert len(compact_reason(long)) <= 10
    html = render(lab_sized_run(), "html")
    assert "<script" not in html and "http://" not in html.split("</head>")[0].replace(
        "http-equiv", ""
    )
    assert 'title="leaf_only: https://localhost:40001"' in html


def _chromium(args: list[str], tmp_path) -> str:
    result = run_command(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1400,900",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            *args,
        ],
        timeout=90,
        env=clean_environ(HOME=str(tmp_path)),
    )
    assert not result.timed_out, "chromium did not finish within 90 s"
    return result.stdout


@needs(CHROMIUM is not None, "chromium is not installed (.ci/run installs it)")
def test_sixteen_columns_fit_1400px_with_scenario_names(tmp_path):
    from PIL import Image

    text = render(lab_sized_run(), "html")
    report = tmp_path / "report.html"
    report.write_text(text, encoding="utf-8")
    measured = tmp_path / "measured.html"
    probe = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text)
    measured.write_text(probe.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = _chromium(["--dump-dom", measured.as_uri()], tmp_path)
    found = re.search(r'data-measured="([^"]*)"', dom)
    assert found, dom[-2000:]
    data = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    heads = data["heads"]
    assert [h["text"] for h in heads[1:]] == client_names()
    assert all(h["right"] <= 1400 for h in heads), heads
    assert data["labels"][:3] == CATALOGUE.names()[:3]
    assert "backend-00.payments.example.invalid:8443/healthz" in data["labels"]
    assert data["rowHeight"] <= 26  # compact cells, not 110 px
    assert data["firstWidth"] <= 200

    shot = tmp_path / "report.png"
    _chromium([f"--screenshot={shot}", report.as_uri()], tmp_path)
    assert shot.exists()
    image = Image.open(shot).convert("RGB")
    # the last client's column shows verdict colours inside the 1400 px window
    last = heads[-1]
    x = int((last["left"] + last["right"]) / 2)
    colours = {image.getpixel((x, y)) for y in range(0, image.height, 2)}
    wanted = {tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c, _ in COLOURS.values()}
    assert len(colours & wanted) >= 3, sorted(colours)[:20]
