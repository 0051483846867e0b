"""The HTML report as a browser shows it: headless Chromium opens the file (offline, no
script) and takes a screenshot; the matrix must be there in the verdict colours."""

from __future__ import annotations

import os
import shutil

from tlsmatrix.clients.base import Verdict
from tlsmatrix.clients.process import run_command
from tlsmatrix.reports import render
from tlsmatrix.reports.html import COLOURS

from tests.conftest import clean_environ, needs
from tests.test_reports_formats import make_real_run

CHROMIUM = next(
    (
        p
        for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "")
        if p and os.access(p, os.X_OK)
    ),
    None,
)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _count(
    image, colour: tuple[int, int, int], box: tuple[int, int, int, int], tol: int = 4
) -> int:
    left, top, right, bottom = box
    pixels = image.load()
    found = 0
    for y in range(top, bottom, 2):
        for x in range(left, right, 2):
            r, g, b = pixels[x, y][:3]
            if (
                abs(r - colour[0]) <= tol
                and abs(g - colour[1]) <= tol
                and abs(b - colour[2]) <= tol
            ):
                found += 1
    return found


@needs(CHROMIUM is not None, "chromium is not installed (.ci/run installs it)")
def test_html_report_screenshot_shows_the_coloured_matrix(servers, pki, tmp_path):
    from PIL import Image

    real_run = make_real_run(servers, pki)

    report = tmp_path / "report.html"
    report.write_text(render(real_run, "html"), encoding="utf-8")
    shot = tmp_path / "report.png"
    profile = tmp_path / "profile"
    result = run_command(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            f"--screenshot={shot}",
            "--window-size=1280,900",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            report.as_uri(),
        ],
        timeout=90,
        env=clean_environ(HOME=str(tmp_path)),
    )
    assert not result.timed_out, "chromium did not finish within 90 s"
    assert shot.exists(), f"no screenshot (exit {result.returncode}): {result.stderr[-2000:]}"
    assert shot.stat().st_size > 20_000  # a blank 1280x900 page compresses far below this
    if os.environ.get("TLSMATRIX_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["TLSMATRIX_KEEP_SCREENSHOT"])
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 900)
    # The matrix sits near the top-left: rows of coloured cells below the heading.
    matrix = (0, 120, 900, 600)
    accept = _count(image, _rgb(COLOURS[Verdict.ACCEPT][0]), matrix)
    reject = _count(image, _rgb(COLOURS[Verdict.REJECT][0]), matrix)
    error = _count(image, _rgb(COLOURS[Verdict.ERROR][0]), matrix)
    # Sampling every second pixel: a compact cell of ~60x18 px gives ~250 samples.
    assert accept > 800, accept  # 4 accepting cells (good x3, leaf_only/curl)
    assert reject > 1000, reject  # 5 rejecting cells (leaf_only x2, expired x3)
    assert error > 600, error  # 3 connection_refused cells
    # The colours are the cells, not the whole page: most of it stays white.
    white = _count(image, (255, 255, 255), (0, 0, 1280, 900), tol=0)
    assert white > 0.5 * (1280 * 900 / 4)
