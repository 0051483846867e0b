"""tlsmatrix benchmarks (issue 7): ``python benchmarks/run.py [--quick]``.

Prints ONE JSON object on stdout: ratios at the top level, absolute figures under
``absolute``, the targets and whether each ratio meets it under ``targets``/``met``, and
the settings used. Every ratio is measured side by side in the same run against the same
loopback server (a TLSServer on 127.0.0.1 with a PKI generated for the run): baseline and
subject alternate, their order flips every repetition, and a ratio is the median of the
per-repetition ratios, so slow drift of a shared machine cancels out. Progress goes to
stderr. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # the benchmarks package itself (tlsmatrix comes from .venv)

from benchmarks._bare import BARE, bare_command  # noqa: E402

if TYPE_CHECKING:
    from tlsmatrix.clients.base import Client, ClientInfo

IN_PROCESS = ("requests", "httpx", "urllib3", "stdlib", "pyopenssl")
SUBPROCESS = ("curl", "openssl")
CORE = ("curl", "openssl", *IN_PROCESS)
TIMEOUT = 10.0  # the CLI's default per-probe deadline

# Issue 7's goals: a ratio "meets" its target when it is at most this.
TARGETS: dict[str, float] = {
    "startup_ratio": 2.5,
    **{f"overhead_{c}": 1.25 for c in IN_PROCESS},
    **{f"subprocess_overhead_{c}": 1.15 for c in SUBPROCESS},
    "scale_1000": 1.2,
    "peak_rss_mb": 150.0,
    "lab_matrix_s": 20.0,
}


@dataclass(frozen=True)
class Settings:
    startup_reps: int
    probe_reps: int
    probe_batch: int  # probes per timed batch (per-probe time = batch time / batch)
    scale_reps: int
    scale_small: int
    scale_large: int
    jobs: int


# Many short pairs rather than a few long ones: on a shared machine a burst of load then
# hits both halves of a pair alike, and the median of the pair ratios ignores it.
FULL = Settings(
    startup_reps=31, probe_reps=61, probe_batch=4, scale_reps=5, scale_small=100,
    scale_large=1000, jobs=8,
)  # fmt: skip
QUICK = Settings(
    startup_reps=7, probe_reps=9, probe_batch=3, scale_reps=1, scale_small=100,
    scale_large=1000, jobs=8,
)  # fmt: skip


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- pairing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Paired:
    """Medians of baseline and subject (seconds) and the median per-repetition ratio."""

    baseline_s: float
    subject_s: float
    ratio: float


def paired(baseline: Callable[[], float], subject: Callable[[], float], reps: int) -> Paired:
    """Run baseline and subject ``reps`` times each, alternating and flipping the order
    every repetition; each callable returns the seconds it measured."""
    base: list[float] = []
    subj: list[float] = []
    for i in range(reps):
        if i % 2 == 0:
            base.append(baseline())
            subj.append(subject())
        else:
            subj.append(subject())
            base.append(baseline())
    return Paired(
        statistics.median(base),
        statistics.median(subj),
        statistics.median(s / b for s, b in zip(subj, base, strict=True)),
    )


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


# --- start-up --------------------------------------------------------------------------


def bench_startup(settings: Settings) -> tuple[Paired, dict[str, Any]]:
    """``python -m harness --version`` over ``python -c pass``, same interpreter and env."""
    env = {**os.environ, "PYTHONPATH": ROOT}

    def run(argv: list[str]) -> Callable[[], float]:
        def once() -> float:
            started = time.perf_counter()
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, env=env, cwd=ROOT, timeout=60
            )
            elapsed = time.perf_counter() - started
            if done.returncode != 0:
                raise RuntimeError(f"{argv} failed: {done.stderr.decode()[-500:]}")
            return elapsed

        return once

    subject = [sys.executable, "-m", "tlsmatrix", "--version"]
    run(subject)()  # compile bytecode once, outside the measurement
    result = paired(run([sys.executable, "-c", "pass"]), run(subject), settings.startup_reps)
    return result, {"command": " ".join(["python", *subject[1:]])}


# --- per-probe overhead ----------------------------------------------------------------


def runner_batch(client: Any, target: Any, trust: Any, info: Any, batch: int) -> float:
    """Seconds per probe through the runner (run_probes, jobs=1); every probe must accept."""
    from tlsmatrix.runner.pool import Probe, run_probes

    probes = [Probe(target, client, trust)] * batch
    started = time.perf_counter()
    observed = run_probes(probes, timeout=TIMEOUT, jobs=1, infos={client.name: info})
    elapsed = time.perf_counter() - started
    bad = [o for o in observed if o is None or o.verdict.value != "accept"]
    if bad:
        raise RuntimeError(f"{client.name}: probe did not accept: {bad[0]}")
    return elapsed / batch


def _available(name: str) -> tuple[Client, ClientInfo]:
    """The adapter ``name`` and its ClientInfo; a client that is not here stops the run."""
    from tlsmatrix.runner.pool import load_clients

    [client] = load_clients([name])
    info = client.info()
    if not info.available:
        raise RuntimeError(f"{name} unavailable: {info.unavailable_reason}")
    return client, info


def bench_in_process(
    name: str, port: int, bundle: str, settings: Settings
) -> tuple[Paired, dict[str, Any]]:
    from tlsmatrix.clients.base import Target, Trust

    client, info = _available(name)
    target, trust = Target("127.0.0.1", port), Trust.bundle(bundle)
    bare = BARE[name]

    def baseline() -> float:
        started = time.perf_counter()
        for _ in range(settings.probe_batch):
            bare("127.0.0.1", port, bundle, TIMEOUT)
        return (time.perf_counter() - started) / settings.probe_batch

    def subject() -> float:
        return runner_batch(client, target, trust, info, settings.probe_batch)

    baseline(), subject()  # imports and first-use caches, outside the measurement
    return paired(baseline, subject, settings.probe_reps), {"version": info.version}


def bench_subprocess(
    name: str, port: int, bundle: str, settings: Settings
) -> tuple[Paired, dict[str, Any]]:
    from tlsmatrix.clients.base import Target, Trust
    from tlsmatrix.clients.process import child_env

    client, info = _available(name)
    target, trust = Target("127.0.0.1", port), Trust.bundle(bundle)
    # curl's argv carries the deadline (--max-time); s_client's cannot.
    extra = (TIMEOUT,) if name == "curl" else ()
    argv = client.argv(target, trust, *extra)  # type: ignore[attr-defined]
    env = child_env(trust)

    def baseline() -> float:
        started = time.perf_counter()
        for _ in range(settings.probe_batch):
            bare_command(argv, env, TIMEOUT)
        return (time.perf_counter() - started) / settings.probe_batch

    def subject() -> float:
        return runner_batch(client, target, trust, info, settings.probe_batch)

    baseline(), subject()
    return paired(baseline, subject, settings.probe_reps), {"version": info.version}


class _Instant:
    """A stand-in adapter that answers at once: what is left is the runner's own cost per
    probe (scheduling, deadline guard, bookkeeping). A benchmark instrument, not a client."""

    name = "instant"

    def info(self) -> Any:
        from tlsmatrix.clients.base import ClientInfo

        return ClientInfo(self.name, True)

    def probe(self, target: Any, trust: Any, timeout: float) -> Any:
        from tlsmatrix.clients.base import Observation, Reason, Verdict

        return Observation(target.name, self.name, Verdict.ACCEPT, Reason.OK)


def runner_cost_us(jobs: int, count: int = 2000, reps: int = 5) -> float:
    """Median microseconds per probe the runner adds around an adapter that takes no time."""
    from tlsmatrix.clients.base import Target, Trust
    from tlsmatrix.runner.pool import Probe, run_probes

    client = _Instant()
    probes = [Probe(Target("127.0.0.1", 1), client, Trust.native())] * count
    infos = {client.name: client.info()}
    return statistics.median(
        timed(lambda: run_probes(probes, timeout=TIMEOUT, jobs=jobs, infos=infos)) / count * 1e6
        for _ in range(reps)
    )


# --- scale -----------------------------------------------------------------------------


def scale_child(
    count: int, ports: list[int], bundle: str, jobs: int, client: str
) -> dict[str, Any]:
    argv = [
        sys.executable,
        os.path.join(ROOT, "benchmarks", "_scale_child.py"),
        str(count),
        "--ports",
        ",".join(map(str, ports)),
        "--bundle",
        bundle,
        "--jobs",
        str(jobs),
        "--client",
        client,
    ]
    done = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600, cwd=ROOT
    )
    if done.returncode != 0:
        raise RuntimeError(f"scale child failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["results"] != count or result["verdicts"] != {"accept": count}:
        raise RuntimeError(f"scale run of {count} did not accept everything: {result}")
    return result


def bench_scale(ports: list[int], bundle: str, settings: Settings, client: str) -> dict[str, Any]:
    small: list[dict[str, Any]] = []
    large: list[dict[str, Any]] = []
    for i in range(settings.scale_reps):
        order = [(small, settings.scale_small), (large, settings.scale_large)]
        for into, count in order if i % 2 == 0 else order[::-1]:
            log(f"scale: {count} targets, {client}")
            into.append(scale_child(count, ports, bundle, settings.jobs, client))
    factor = settings.scale_large / settings.scale_small
    ratios = [lg["wall_s"] / (factor * sm["wall_s"]) for sm, lg in zip(small, large, strict=True)]
    peak_kb = statistics.median(r["vmhwm_kb"] or r["ru_maxrss_kb"] for r in large)
    return {
        "ratio": statistics.median(ratios),
        "peak_rss_mb": peak_kb / 1024,
        "absolute": {
            f"scale_{settings.scale_small}_wall_s": statistics.median(r["wall_s"] for r in small),
            f"scale_{settings.scale_large}_wall_s": statistics.median(r["wall_s"] for r in large),
            f"scale_{settings.scale_large}_per_probe_ms": 1000
            * statistics.median(r["wall_s"] for r in large)
            / settings.scale_large,
            f"scale_{settings.scale_small}_peak_rss_mb": statistics.median(
                (r["vmhwm_kb"] or r["ru_maxrss_kb"]) / 1024 for r in small
            ),
            f"scale_{settings.scale_large}_rss_before_run_mb": statistics.median(
                (r["rss_before_run_kb"] or 0) / 1024 for r in large
            ),
        },
    }


# --- lab -------------------------------------------------------------------------------


def bench_lab(jobs: int) -> dict[str, Any]:
    """Every lab scenario x every available core client, certifi-like trust, one run."""
    from collections import Counter

    from tlsmatrix.lab.lab import Lab
    from tlsmatrix.runner.matrix import TrustPlan, run_matrix
    from tlsmatrix.runner.pool import collect_infos, load_clients

    clients = load_clients(list(CORE))
    infos = collect_infos(clients)
    available = [c for c in clients if infos[c.name].available]
    started = time.perf_counter()
    with Lab() as lab:
        lab_start = time.perf_counter() - started
        targets = [s.target for s in lab.scenarios]
        trust = TrustPlan(ca_file=lab.trust_profiles["certifi-like"])
        began = time.perf_counter()
        run = run_matrix(targets, available, trust=trust, timeout=TIMEOUT, jobs=jobs)
        wall = time.perf_counter() - began
    slowest = max(run.results, key=lambda o: o.elapsed_ms)
    return {
        "wall_s": wall,
        "absolute": {
            "lab_start_s": lab_start,
            "lab_scenarios": len(targets),
            "lab_clients": [c.name for c in available],
            "lab_probes": len(run.results),
            "lab_verdicts": dict(Counter(o.verdict.value for o in run.results)),
            "lab_slowest_probe": f"{slowest.client} {slowest.target} {slowest.elapsed_ms} ms",
        },
    }


# --- main ------------------------------------------------------------------------------


@contextlib.contextmanager
def servers(count: int) -> Iterator[tuple[list[int], str]]:
    """``count`` TLSServers on 127.0.0.1 serving one generated chain; yields (ports, bundle)."""
    from tlsmatrix.lab.tlsserver import TLSServer

    from benchmarks._pki import make_pki

    with tempfile.TemporaryDirectory(prefix="tlsmatrix-bench-") as directory:
        pki = make_pki(directory)
        running = [TLSServer(pki.chain, pki.key).start() for _ in range(count)]
        try:
            yield [s.port for s in running], pki.bundle
        finally:
            for server in running:
                server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions (a smoke run, noisier)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=("startup", "overhead", "subprocess", "scale", "lab", "fleet", "scale_all"),
        help="run only this part (repeatable)",
    )
    parser.add_argument(
        "--scale-client",
        default="urllib3",
        choices=IN_PROCESS,
        help="the in-process client of the scale runs (default urllib3: see README)",
    )
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    parts = set(
        args.only or ("startup", "overhead", "subprocess", "scale", "lab", "fleet", "scale_all")
    )
    out: dict[str, Any] = {}
    absolute: dict[str, Any] = {}
    started = time.perf_counter()
    load_at_start = os.getloadavg()[0]

    if "startup" in parts:
        log("start-up")
        startup, extra = bench_startup(settings)
        out["startup_ratio"] = startup.ratio
        absolute.update(
            startup_python_pass_ms=startup.baseline_s * 1000,
            startup_version_ms=startup.subject_s * 1000,
            startup_command=extra["command"],
        )

    with servers(4) as (ports, bundle):
        if "overhead" in parts:
            for jobs in (1, 8):
                absolute[f"runner_cost_us_per_probe_jobs{jobs}"] = runner_cost_us(jobs)
        # (part, clients, how one is measured, the figure's prefix)
        overheads = (
            ("overhead", IN_PROCESS, bench_in_process, "overhead"),
            ("subprocess", SUBPROCESS, bench_subprocess, "subprocess overhead"),
        )
        for part, names, bench, label in overheads:
            if part not in parts:
                continue
            for name in names:
                log(f"{label}: {name}")
                result, extra = bench(name, ports[0], bundle, settings)
                out[f"{label.replace(' ', '_')}_{name}"] = result.ratio
                absolute[f"{name}_bare_ms"] = result.baseline_s * 1000
                absolute[f"{name}_runner_ms"] = result.subject_s * 1000
        if "scale" in parts:
            scale = bench_scale(ports, bundle, settings, args.scale_client)
            out["scale_1000"] = scale["ratio"]
            out["peak_rss_mb"] = scale["peak_rss_mb"]
            absolute.update(scale["absolute"])

    if parts & {"fleet", "scale_all"}:
        from benchmarks import fleet

        TARGETS.update(fleet.TARGETS)
        with servers(16) as (ports, bundle):
            if "fleet" in parts:
                ratios, extra = fleet.bench_vs_sslyze(
                    ports, bundle, settings.jobs, 3 if args.quick else 7, log
                )
                out.update(ratios)
                absolute.update(extra)
            if "scale_all" in parts:
                ratios, extra = fleet.bench_scale_all(
                    ports, bundle, settings.jobs, settings.scale_small, settings.scale_large, log
                )
                out.update(ratios)
                absolute.update(extra)

    if "lab" in parts:
        log("lab matrix")
        lab = bench_lab(settings.jobs)
        out["lab_matrix_s"] = lab["wall_s"]
        absolute.update(lab["absolute"])

    absolute["benchmark_wall_s"] = time.perf_counter() - started
    out = {k: round(v, 4) for k, v in out.items()}
    report = {
        **out,
        "met": {k: v <= TARGETS[k] for k, v in out.items()},
        "targets": {k: v for k, v in TARGETS.items() if k in out},
        "absolute": {k: round(v, 3) if isinstance(v, float) else v for k, v in absolute.items()},
        "settings": {
            **settings.__dict__,
            "mode": "quick" if args.quick else "full",
            "scale_client": args.scale_client,
            "loadavg_1m": [round(load_at_start, 2), round(os.getloadavg()[0], 2)],
            "timeout_s": TIMEOUT,
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
        },
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
