"""One scale run in a fresh process, so its peak memory is the run's own:
``python benchmarks/_scale_child.py COUNT --ports P1,P2 --bundle PEM [--client NAME]``.

Probes COUNT distinct targets ``https://127.0.0.1:PORT/i`` (spread over the ports) with
one client through :func:`tlsmatrix.runner.matrix.run_matrix` and prints one JSON line: wall
seconds of the run, peak RSS (ru_maxrss and VmHWM) and the verdict counts."""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("count", type=int)
    parser.add_argument("--ports", required=True)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--client", default="urllib3")
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()

    from tlsmatrix.clients.base import Target
    from tlsmatrix.runner.matrix import TrustPlan, run_matrix
    from tlsmatrix.runner.pool import load_clients

    ports = [int(p) for p in args.ports.split(",")]
    targets = [Target("127.0.0.1", ports[i % len(ports)], f"/{i}") for i in range(args.count)]
    clients = load_clients([args.client])
    for client in clients:
        client.info()  # imports the client library: a one-off cost, not a per-target one
    rss_before = _status_kb("VmRSS")
    started = time.perf_counter()
    run = run_matrix(
        targets, clients, trust=TrustPlan(ca_file=args.bundle), timeout=args.timeout, jobs=args.jobs
    )
    wall = time.perf_counter() - started
    verdicts = Counter(o.verdict.value for o in run.results)
    odd = next((o for o in run.results if o.verdict.value != "accept"), None)
    print(
        json.dumps(
            {
                "count": args.count,
                "results": len(run.results),
                "wall_s": wall,
                "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "vmhwm_kb": _status_kb("VmHWM"),
                "rss_before_run_kb": rss_before,
                "verdicts": dict(verdicts),
                "first_not_accepted": (
                    f"{odd.target} {odd.reason.value}: {odd.detail}" if odd is not None else None
                ),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
