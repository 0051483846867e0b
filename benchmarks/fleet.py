"""Fleet benchmarks (issue 13): tlsmatrix against the tool a user would pick instead,
sslyze ``--certinfo``, on the same loopback hosts, interleaved; and the full matrix at scale.

sslyze lives in the benchmark's own virtual environment under the cache directory
(``$XDG_CACHE_HOME/tlsmatrix/bench/sslyze-venv``, created with ``pip install sslyze`` on
first use): it is not a dependency of tlsmatrix. Both sides run as the command a user
types, a fresh process each repetition, so start-up counts on both sides alike."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

CORE = ("curl", "openssl", "requests", "httpx", "urllib3", "stdlib", "pyopenssl")

TARGETS = {
    "many_hosts_core_vs_sslyze": 0.7,
    "many_hosts_all_vs_sslyze": 3.0,
    "one_host_core_vs_sslyze": 0.6,
    "scale_1000_all": 1.2,
    "scale_1000_all_peak_rss_mb": 300.0,
}


def sslyze_command() -> list[str]:
    """``python -m sslyze`` of the benchmark's own venv, created on first use."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = cache / "tlsmatrix" / "bench" / "sslyze-venv"
    python = venv / "bin" / "python"
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    probe = subprocess.run(
        [str(python), "-c", "import sslyze"], stdin=subprocess.DEVNULL, capture_output=True
    )
    if probe.returncode != 0:
        pip = [str(python), "-m", "pip", "install", "--quiet", "sslyze"]
        subprocess.run(pip, check=True, timeout=900, stdin=subprocess.DEVNULL)
    return [str(python), "-m", "sslyze"]


def _run(argv: Sequence[str], timeout: float = 900) -> float:
    """Wall time of one command (stdin closed, output discarded); raises if it failed."""
    # As an ordinary install runs: bytecode cached (a pip-installed sslyze ships its .pyc;
    # an editable tlsmatrix under PYTHONDONTWRITEBYTECODE would recompile every run).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    res = subprocess.run(
        list(argv), stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=env
    )
    wall = time.perf_counter() - started
    if res.returncode not in (0, 1):  # tlsmatrix exits 1 only with --fail-on
        tail = (res.stderr or res.stdout).decode(errors="replace")[-300:]
        raise RuntimeError(f"{argv[0]} exited {res.returncode}: {tail}")
    return wall


def tlsmatrix_argv(
    ports: Sequence[int], bundle: str, clients: Sequence[str] | None, jobs: int
) -> list[str]:
    exe = shutil.which("tlsmatrix", path=os.path.dirname(sys.executable)) or "tlsmatrix"
    argv = [exe, "run", *(f"https://localhost:{p}/" for p in ports), "--ca-file", bundle]
    if clients:
        argv += ["--client", ",".join(clients)]
    return [*argv, "--jobs", str(jobs), "--format", "json", "-o", os.devnull]


def sslyze_argv(sslyze: Sequence[str], ports: Sequence[int]) -> list[str]:
    # host:port{ip}: resolve nothing, connect to the loopback server itself
    return [*sslyze, "--quiet", "--certinfo", *(f"localhost:{p}{{127.0.0.1}}" for p in ports)]


def floor_argv(ports: Sequence[int], bundle: str) -> list[str]:
    """The seven core clients alone, without tlsmatrix (benchmarks/_bare_fleet.py)."""
    script = Path(__file__).with_name("_bare_fleet.py")
    return [sys.executable, str(script), json.dumps(list(ports)), bundle]


def interleaved(
    baseline: Callable[[], float], subject: Callable[[], float], reps: int
) -> dict[str, float]:
    """Median of per-repetition subject/baseline ratios, order flipped every repetition."""
    ratios, base, subj = [], [], []
    for i in range(reps):
        if i % 2 == 0:
            b, s = baseline(), subject()
        else:
            s, b = subject(), baseline()
        base.append(b)
        subj.append(s)
        ratios.append(s / b)
    ratios.sort()
    mid = len(ratios) // 2
    median = ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2
    return {"ratio": median, "baseline_s": sorted(base)[mid], "subject_s": sorted(subj)[mid]}


def bench_vs_sslyze(
    ports: Sequence[int], bundle: str, jobs: int, reps: int, log: Callable[[str], None]
) -> tuple[dict[str, float], dict[str, Any]]:
    sslyze = sslyze_command()
    out: dict[str, float] = {}
    absolute: dict[str, Any] = {}
    cases = (
        ("many_hosts_core_vs_sslyze", ports, CORE),
        ("many_hosts_all_vs_sslyze", ports, None),
        ("one_host_core_vs_sslyze", ports[:1], CORE),
    )
    _run(tlsmatrix_argv(ports[:1], bundle, None, jobs))  # compile TlsProbe, warm caches
    for name, hosts, clients in cases:
        log(f"{name}: {len(hosts)} hosts")
        result = interleaved(
            lambda h=hosts: _run(sslyze_argv(sslyze, h)),
            lambda h=hosts, c=clients: _run(tlsmatrix_argv(h, bundle, c, jobs)),
            reps,
        )
        out[name] = result["ratio"]
        absolute[f"{name}_sslyze_s"] = result["baseline_s"]
        absolute[f"{name}_tlsmatrix_s"] = result["subject_s"]
        if clients == CORE:
            # What the same clients cost with no tool around them: the target's floor.
            floor = interleaved(
                lambda h=hosts: _run(sslyze_argv(sslyze, h)),
                lambda h=hosts: _run(floor_argv(h, bundle)),
                reps,
            )
            absolute[f"{name}_floor"] = round(floor["ratio"], 4)
            absolute[f"{name}_floor_clients_alone_s"] = floor["subject_s"]
    return out, absolute


def bench_scale_all(
    ports: Sequence[int], bundle: str, jobs: int, small: int, large: int,
    log: Callable[[str], None],
) -> tuple[dict[str, float], dict[str, Any]]:  # fmt: skip
    """``large`` targets x every client against ``small``: wall-time linearity and the
    peak memory, as RUSAGE_CHILDREN sees it: the largest resident set of any one process
    of the runs (tlsmatrix itself, a JVM, Node, a browser process), not their sum."""
    import resource

    def run(count: int) -> float:
        hosts = [ports[i % len(ports)] for i in range(count)]
        # Distinct target names for the same servers: a path per target.
        argv = tlsmatrix_argv(hosts, bundle, None, jobs)
        argv = [a if not a.startswith("https://") else a + f"t{i}" for i, a in enumerate(argv)]
        log(f"scale: {count} targets x all clients")
        return _run(argv, timeout=3600)

    small_s = run(small)
    large_s = run(large)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    ratio = large_s / ((large / small) * small_s)
    return (
        {"scale_1000_all": ratio, "scale_1000_all_peak_rss_mb": peak_mb},
        {f"scale_all_{small}_wall_s": small_s, f"scale_all_{large}_wall_s": large_s},
    )
