"""Reason accuracy on the generated conformance corpus (issue 12, section 4).

``python benchmarks/accuracy.py [--clients a,b] [--family F]... [--json OUT] [--markdown OUT]``

Serves every corpus case on 127.0.0.1, runs the clients over them (all registered ones
by default; unavailable clients are shown as such) and prints, per client, the reason
accuracy (rejecting cells whose reason is the constructed cause / all rejecting cells),
the same counting documented alternatives, and the verdict agreement; then every
mismatch. The full result (scores, mismatches, every cell) goes to ``--json`` (default
``accuracy.json`` in the current directory). Contacts nothing but 127.0.0.1: proxy and
trust variables are cleared first (every client gets each case's bundle explicitly).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", help="comma-separated client names (default: all)")
    parser.add_argument("--family", action="append", help="only this corpus family (repeatable)")
    parser.add_argument("--json", default="accuracy.json", help="where to write the JSON result")
    parser.add_argument("--markdown", help="also write the markdown table to this file")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args(argv)
    from tlsmatrix.clients.base import TRUST_ENV_VARS

    # Nothing may send a client through a proxy or change its trust.
    for name in TRUST_ENV_VARS:
        os.environ.pop(name, None)

    from tlsmatrix import clients as registry
    from tlsmatrix.lab.corpus import build_corpus, run_corpus, serve_corpus
    from tlsmatrix.lab.corpus.score import family_table, markdown_table
    from tlsmatrix.runner.pool import load_clients

    names = [n.strip() for n in args.clients.split(",") if n.strip()] if args.clients else None
    unknown = sorted(set(names or ()) - set(registry.names()))
    if unknown:
        print(f"accuracy: unknown client(s) {', '.join(unknown)}", file=sys.stderr)
        return 2
    try:
        corpus = build_corpus().select(tuple(args.family or ()))
    except KeyError as exc:
        print(f"accuracy: {exc.args[0]}", file=sys.stderr)
        return 2
    loaded = load_clients(names)
    started = time.monotonic()

    def progress(done: int, total: int, _obs: object) -> None:
        if done % 50 == 0 or done == total:
            print(f"[{done}/{total}]", file=sys.stderr, flush=True)

    try:
        with (
            tempfile.TemporaryDirectory(prefix="tlsmatrix-corpus-") as work,
            serve_corpus(corpus, work) as served,
        ):
            run = run_corpus(
                served, loaded, timeout=args.timeout, jobs=args.jobs, progress=progress
            )
    finally:
        for client in loaded:
            close = getattr(client, "close", None)
            if close:
                close()
    elapsed = time.monotonic() - started
    table = markdown_table(run)
    print(
        f"Corpus: {len(corpus.cases)} cases, reference {corpus.reference.date()}, {elapsed:.0f} s\n"
    )
    print(table)
    by_family = family_table(run)
    print("Correct / rejecting cells by family:\n")
    print(by_family)
    for case in run.raw_served:
        print(f"served by RawTLSServer (TLS 1.2, bytes as built; Python ssl refuses it): {case}")
    for case, why in run.unservable:
        print(f"unservable here: {case}: {why}")
    mismatches = run.mismatches()
    if mismatches:
        print(f"{len(mismatches)} mismatch(es):")
        for m in mismatches:
            print("  " + m.line())
    result = {
        "reference": corpus.reference.isoformat(),
        "elapsed_s": round(elapsed, 1),
        **run.to_dict(),
        "markdown": table,
        "markdown_by_family": by_family,
    }
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
