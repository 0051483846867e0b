"""``tlsmatrix lab serve|run|export``: the local broken-chain lab."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from tlsmatrix.commands import _options
from tlsmatrix.errors import UsageError
from tlsmatrix.reports import FORMATS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tlsmatrix.lab.export import ExportManifest
    from tlsmatrix.lab.lab import Lab
    from tlsmatrix.lab.run import LabTarget
    from tlsmatrix.runner.pool import Progress


def register(sub: argparse._SubParsersAction) -> None:
    from tlsmatrix.cli import positive_int

    lab = sub.add_parser("lab", help="the local broken-chain lab (serve, run, replay, export)")
    lab_sub = lab.add_subparsers(dest="lab_command", metavar="LAB_COMMAND", parser_class=type(lab))
    lab.set_defaults(func=lambda args: _missing_subcommand(lab))

    serve = lab_sub.add_parser("serve", help="serve every scenario until Ctrl-C")
    _options.add_server(serve)
    _options.add_scenarios(serve)
    serve.add_argument(
        "--port",
        type=positive_int,
        metavar="BASE",
        help="serve scenario i on BASE+i (catalogue order) instead of free ports",
    )
    serve.add_argument(
        "--dir",
        metavar="DIR",
        help="write the manifest (lab.json), chains, keys and trust profiles of what is "
        "served here, for 'lab run --from-export DIR'",
    )
    serve.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="json prints the manifest (scenarios, URLs, trust profiles) as one document",
    )
    serve.set_defaults(func=command_serve)

    run = lab_sub.add_parser("run", help="every client on every scenario, vs. predictions")
    _options.add_clients(run)
    _options.add_scenarios(run)
    _options.add_server(run)
    run.add_argument(
        "--trust-profile",
        choices=("certifi-like", "workstation"),
        default="certifi-like",
        help="what every client trusts (default certifi-like: roots only)",
    )
    run.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="CLIENT=PROFILE",
        help="give one client another trust profile (repeatable)",
    )
    _options.add_limits(run)
    _options.add_report(run, default="the lab table")
    _options.add_fail_on(run)
    run.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when any cell differs from the scenario's prediction",
    )
    _options.add_expect(run, "the results by scenario ([scenario.NAME] sections)")
    run.add_argument(
        "--from-export",
        metavar="DIR",
        help="run against an exported lab served elsewhere (docker compose)",
    )
    run.add_argument(
        "--aia-log",
        metavar="FILE",
        help="with --from-export: the AIA server's JSON-lines log to cite",
    )
    run.set_defaults(func=command_run)

    replay = lab_sub.add_parser(
        "replay",
        help="serve captured cases on a twin PKI and run every client (tlsmatrix capture)",
        description="Re-issue every certificate of the case(s) with fresh keys (a twin PKI), "
        "serve exactly what the captured server sent on 127.0.0.1, give every client the "
        "twin of the trust the capture saw, and run the matrix. A folder replays every case "
        "in it as one lab.",
    )
    replay.add_argument("cases", metavar="CASE.json|DIR", help="a case file or a folder of them")
    _options.add_clients(replay)
    _options.add_server(replay)
    _options.add_limits(replay)
    _options.add_report(replay)
    _options.add_fail_on(replay)
    replay.set_defaults(func=command_replay)

    export = lab_sub.add_parser("export", help="write the lab's PKI and nginx config")
    export.add_argument("--dir", required=True, metavar="DIR")
    export.add_argument(
        "--base-url", default="http://aia:8080/", help="where the AIA/CRL server will be reachable"
    )
    export.set_defaults(func=command_export)


def _missing_subcommand(parser: argparse.ArgumentParser) -> int:
    raise UsageError("lab needs a command: serve, run, replay or export")


def _profile_options(items: list[str], chosen: list[str]) -> dict[str, str]:
    from tlsmatrix import clients

    profiles = ("certifi-like", "workstation")
    result = {}
    for item in items:
        name, sep, profile = item.partition("=")
        if not sep or name not in clients.names():
            raise UsageError(f"--trust wants CLIENT=PROFILE with a known client, got {item!r}")
        if chosen and name not in chosen:
            raise UsageError(f"--trust names client {name!r}, which this run does not include")
        if profile not in profiles:
            raise UsageError(f"unknown trust profile {profile!r}; one of {', '.join(profiles)}")
        result[name] = profile
    return result


def _check_scenarios(names: list[str]) -> list[str] | None:
    from tlsmatrix.inputs import split_names, unknown_name
    from tlsmatrix.lab.scenarios import CATALOGUE

    known = CATALOGUE.names()
    chosen = split_names(names)
    for name in chosen:
        if name not in known:
            raise unknown_name("scenario", name, known)
    return list(dict.fromkeys(chosen)) or None


def command_run(args: argparse.Namespace) -> int:
    from tlsmatrix.inputs import check_clients, choose_format
    from tlsmatrix.results.fail_on import parse_fail_on

    fmt = choose_format(args.format, args.output, FORMATS)
    fail_on = parse_fail_on(args.fail_on)
    chosen = check_clients(args.client)
    scenarios = _check_scenarios(args.scenario)
    profile_for = _profile_options(args.trust, chosen)
    spec = _options.load_expect(args.expect)

    from tlsmatrix.lab.run import LabTarget, render_lab_matrix
    from tlsmatrix.reports import render
    from tlsmatrix.reports.output import write_text
    from tlsmatrix.runner.pool import load_clients

    clients = load_clients(chosen)
    if args.from_export:
        lab_run = _run_from_export(args, scenarios, clients, profile_for)
    else:
        from tlsmatrix.lab.lab import Lab

        with Lab(scenarios, server=args.server) as lab:
            targets = [LabTarget(s.name, s.target, s.scenario) for s in lab.scenarios]
            lab_run = _run_lab(args, targets, clients, lab.trust_profiles, profile_for, lab.aia.log)
    expectations = None
    if spec is not None:
        from tlsmatrix.results.expectations import evaluate

        expectations = evaluate(lab_run.run, spec, strict=True)
    from tlsmatrix.reports.colour import use_colour

    colour = use_colour(args.color, args.output)
    if fmt == "table" and not args.wide:
        text = render_lab_matrix(lab_run, colour=colour)
    else:
        text = render(lab_run.run, fmt, expectations=expectations, colour=colour, wide=True)
    write_text(text, args.output)
    from tlsmatrix.commands.run import report_fail_on, report_violations

    failed = report_fail_on(lab_run.run, fail_on)
    if expectations is not None and not expectations.passed:
        report_violations(expectations)
        failed = True
    return 1 if failed or (args.strict and lab_run.mismatches()) else 0


def lab_progress(targets: Sequence[LabTarget]) -> Progress:
    """Progress naming scenarios, with a line every few seconds when stderr is piped."""
    from tlsmatrix.runner.pool import Progress

    return Progress({t.target.name: t.name for t in targets}, every=3.0)


def _run_from_export(args, scenarios, clients, profile_for):  # type: ignore[no-untyped-def]

    from tlsmatrix.lab.export import load_manifest
    from tlsmatrix.lab.lab import lab_target
    from tlsmatrix.lab.run import LabTarget

    try:
        manifest = load_manifest(args.from_export)
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"--from-export {args.from_export}: {exc}") from None
    chosen = [s for s in manifest.scenarios if scenarios is None or s.name in scenarios]
    targets = [LabTarget(s.name, lab_target(s.host, s.port), s.scenario) for s in chosen]

    def aia_log() -> list[object]:
        from tlsmatrix.lab.aia import AIARequest

        if not args.aia_log:
            return []
        try:
            with open(args.aia_log, encoding="utf-8") as handle:
                return [AIARequest(**json.loads(line)) for line in handle if line.strip()]
        except (OSError, ValueError, TypeError):
            return []

    return _run_lab(args, targets, clients, manifest.trust_profiles, profile_for, aia_log)


def _run_lab(args, targets, clients, trust_profiles, profile_for, aia_log):  # type: ignore[no-untyped-def]
    """``lab run`` on the served or the exported lab: the same options either way."""
    from tlsmatrix.lab.run import run_lab

    return run_lab(
        targets,
        clients,
        trust_profiles,
        profile_for=profile_for,
        default_profile=args.trust_profile,
        timeout=args.timeout,
        jobs=args.jobs,
        progress=lab_progress(targets),
        aia_log=aia_log,
    )


def command_serve(args: argparse.Namespace) -> int:
    import signal
    import threading

    from tlsmatrix.lab.lab import Lab

    scenarios = _check_scenarios(args.scenario)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    from tlsmatrix.lab.nginx import NginxError

    lab = Lab(scenarios, server=args.server, first_port=args.port)
    try:
        lab.start()
    except OSError as exc:
        raise UsageError(f"cannot serve the lab: {exc.strerror or exc}") from None
    except NginxError as exc:
        raise UsageError(f"cannot serve the lab: {exc}") from None
    try:
        manifest = None
        if args.dir:
            from tlsmatrix.lab.export import export_running

            manifest = export_running(lab, args.dir)
        if args.format == "json":
            print(json.dumps(_serve_document(lab, manifest), indent=2))
        else:
            _print_served(lab, args.server, manifest)
        sys.stdout.flush()
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        print("tlsmatrix lab: stopping", file=sys.stderr, flush=True)
    finally:
        lab.close()
    print("tlsmatrix lab: stopped; keys removed", file=sys.stderr)
    return 0


def _serve_document(lab: Lab, manifest: ExportManifest | None) -> dict[str, object]:
    return {
        "server": lab.server_kind,
        "aia_url": lab.aia.url,
        "trust_profiles": lab.trust_profiles,
        "manifest": str(manifest.directory / "lab.json") if manifest else None,
        "scenarios": [
            {"name": s.name, "url": s.url, "port": s.port, "summary": s.scenario.summary}
            for s in lab.scenarios
        ],
    }


def _print_served(lab: Lab, server: str, manifest: ExportManifest | None) -> None:
    n = len(lab.scenarios)
    print(
        f"tlsmatrix lab: {n} scenario{'s' * (n != 1)} served by {server} on 127.0.0.1 "
        "(Ctrl-C to stop)"
    )
    width = max(len(s.name) for s in lab.scenarios)
    for s in lab.scenarios:
        print(f"  {s.name:<{width}}  {s.url}   {s.scenario.summary}")
    print(f"AIA/CRL server: {lab.aia.url}")
    for name, path in lab.trust_profiles.items():
        print(f"trust profile {name}: {path}")
    print(
        f"Try: tlsmatrix run {lab.scenarios[0].url} --ca-file {lab.trust_profiles['certifi-like']}"
    )
    if manifest is not None:
        print(
            f"manifest: {manifest.directory / 'lab.json'} (tlsmatrix lab run --from-export "
            f"{manifest.directory})"
        )


def command_export(args: argparse.Namespace) -> int:
    from tlsmatrix.lab.export import export

    try:
        manifest = export(args.dir, args.base_url)
    except OSError as exc:
        raise UsageError(f"cannot export to {args.dir}: {exc.strerror or exc}") from None
    print(
        f"exported {len(manifest.scenarios)} scenarios to {manifest.directory} "
        f"(nginx config {manifest.nginx_conf}; AIA files {manifest.aia_dir})"
    )
    return 0


def command_replay(args: argparse.Namespace) -> int:
    from tlsmatrix.commands.lab_replay import command_replay as run_it

    return run_it(args)
