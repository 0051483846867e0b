"""The replay lab: the twin PKI of one or more cases, served on 127.0.0.1.

``with Replay(cases) as replay:`` starts a loopback AIA server (serving the twins of the
fetched issuers, 404s and hangs where the capture met them), builds the twin PKI naming
it, writes each case's twin chain, twin leaf key and twin trust into a private directory
and serves each case's presented list (same order, same gaps) with
:class:`tlsmatrix.lab.tlsserver.TLSServer` or nginx. :func:`run_replay` runs the matrix.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import ssl
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tlsmatrix.clients.base import Client, Observation, Target
from tlsmatrix.lab.certbuilder import issue_ca
from tlsmatrix.replay.case import Case
from tlsmatrix.results.model import RunResult

_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
_LOOPBACK_NAMES = {"localhost", "127.0.0.1"}


@dataclass(frozen=True)
class ReplayedCase:
    """One case being served: ``target`` names the original host (so the twin leaf's SAN
    is checked as it was) and connects to 127.0.0.1."""

    name: str
    file: str
    case: Case
    target: Target
    chain_file: str
    key_file: str
    trust_file: str
    notes: tuple[tuple[str, str], ...]  # (certificate subject, what could not be twinned)


def _trust_group(case: Case) -> str:
    return case.trust.sha256 or f"{case.trust.source}:{case.trust.name}"


class Replay:
    """Serve ``cases`` ((file, Case) pairs); ``server`` is "python" or "nginx"."""

    def __init__(self, cases: Sequence[tuple[str, Case]], *, server: str = "python") -> None:
        if server not in ("python", "nginx"):
            raise ValueError(f"unknown server kind {server!r}")
        self.server_kind = server
        self._cases = list(cases)
        self._stack = contextlib.ExitStack()
        self.cases: list[ReplayedCase] = []
        self.directory: Path | None = None
        self.aia: Any = None
        self.pki: Any = None

    def start(self) -> Replay:
        from tlsmatrix.lab.aia import AIAServer
        from tlsmatrix.replay.twin import TwinPKI

        try:
            self.directory = Path(tempfile.mkdtemp(prefix="tlsmatrix-replay-"))
            self._stack.callback(shutil.rmtree, self.directory, True)
            self.aia = AIAServer()
            self._stack.callback(self.aia.stop)
            self.aia.start()
            self.pki = TwinPKI([c for _, c in self._cases], self.aia.url)
            self.aia.publish_all(self.pki.files)
            trust_files = self._write_trust()
            names = _names(self._cases)
            prepared = []
            for (file, case), name in zip(self._cases, names, strict=True):
                chain, key = self._write_chain(name, case)
                prepared.append((name, file, case, chain, key, trust_files[_trust_group(case)]))
            ports = self._serve(prepared)
            for (name, file, case, chain, key, trust), port in zip(prepared, ports, strict=True):
                self.cases.append(
                    ReplayedCase(
                        name,
                        file,
                        case,
                        replay_target(case, port),
                        chain,
                        key,
                        trust,
                        self._notes(case),
                    )
                )
        except BaseException:
            self._stack.close()
            raise
        return self

    def _write(self, name: str, data: bytes) -> str:
        assert self.directory is not None
        path = self.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return str(path)

    def _write_chain(self, name: str, case: Case) -> tuple[str, str]:
        chain = b"".join(self.pki.twin(c.sha256).pem for c in case.presented)
        return (
            self._write(f"{name}.chain.pem", chain),
            self._write(f"{name}.key.pem", self.pki.key_pem(case.presented[0].sha256)),
        )

    def _write_trust(self) -> dict[str, str]:
        """One trust file per trust the captures saw (cases captured with the same bundle
        share it): the twins of every anchor found with that bundle. A bundle that
        completed no path becomes one unrelated root, so no client meets an empty file."""
        groups: dict[str, dict[str, bytes]] = {}
        for _, case in self._cases:
            group = groups.setdefault(_trust_group(case), {})
            for anchor in case.anchors:
                group[anchor.sha256] = self.pki.twin(anchor.sha256).pem
        files = {}
        for i, (group, pems) in enumerate(groups.items()):
            body = b"".join(pems.values()) or _unrelated_root()
            files[group] = self._write(f"trust-{i}.pem", body)
        return files

    def _serve(self, prepared: list[tuple[Any, ...]]) -> list[int]:
        if self.server_kind == "nginx":
            from tlsmatrix.lab.nginx import NginxServer

            assert self.directory is not None
            work = self.directory / "nginx"
            work.mkdir(mode=0o700)
            nginx = NginxServer([(p[0], p[3], p[4]) for p in prepared], work)
            self._stack.callback(nginx.stop)
            nginx.start()
            return [nginx.ports[p[0]] for p in prepared]
        from tlsmatrix.lab.lab import _stop_tls_server
        from tlsmatrix.lab.tlsserver import ServerOptions, TLSServer

        ports = []
        for _name, _file, case, chain, key, _trust in prepared:
            # Never newer than the live server spoke: a client that negotiated TLS 1.2
            # there negotiates it here too.
            options = ServerOptions(max_version=_VERSIONS.get(case.tls_version or ""))
            server = TLSServer(chain, key, host="127.0.0.1", options=options)
            self._stack.callback(_stop_tls_server, server)
            server.start()
            ports.append(server.port)
        return ports

    def _notes(self, case: Case) -> tuple[tuple[str, str], ...]:
        notes = self.pki.notes()
        out = [(c.subject, n) for c in case.all_certificates() for n in notes.get(c.sha256, ())]
        out += [("(CRL)", n) for n in self.pki.crl_notes]
        if self.server_kind == "nginx" and case.tls_version:
            out.append(
                ("(server)", f"nginx offers TLS 1.2 and 1.3; the capture saw {case.tls_version}")
            )
        return tuple(out)

    def close(self) -> None:
        self.cases = []
        self._stack.close()

    def __enter__(self) -> Replay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def replay_target(case: Case, port: int) -> Target:
    """The original name on the replay's port; connect to 127.0.0.1 (like --resolve)
    unless the name already means loopback."""
    t = case.target
    connect = None if t.host in _LOOPBACK_NAMES else "127.0.0.1"
    return Target(host=t.host, port=port, path=t.path, connect_to=connect)


def _names(cases: Sequence[tuple[str, Case]]) -> list[str]:
    """Row names: the case id, or the file's stem where ids repeat."""
    ids = [c.id for _, c in cases]
    names = [
        i if ids.count(i) == 1 else re.sub(r"[^A-Za-z0-9._-]+", "-", Path(f).stem) or "case"
        for (f, _), i in zip(cases, ids, strict=True)
    ]
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}-{seen[n]}")
    return out


def _unrelated_root() -> bytes:
    return issue_ca("tlsmatrix replay: no anchor").pem


def run_replay(
    replay: Replay,
    clients: Sequence[Client],
    *,
    timeout: float = 10.0,
    jobs: int = 8,
    progress: Callable[[int, int, Observation], None] | None = None,
) -> RunResult:
    """Every client on every replayed case, each trusting the twin of its capture's trust
    (one matrix per trust; merged). ``extra["replay"]`` lists the cases and their notes."""
    from tlsmatrix.runner.matrix import TrustPlan, run_matrix

    runs = []
    for trust in dict.fromkeys(c.trust_file for c in replay.cases):
        targets = [c.target for c in replay.cases if c.trust_file == trust]
        runs.append(
            run_matrix(
                targets,
                clients,
                trust=TrustPlan(ca_file=trust),
                timeout=timeout,
                jobs=jobs,
                progress=progress,
                aia_log=replay.aia.log,
            )
        )
    first = runs[0]
    results = tuple(o for r in runs for o in r.results)
    merged = replace(
        first,
        results=results,
        divergences=tuple(d for r in runs for d in r.divergences),
        chains={k: v for r in runs for k, v in r.chains.items()},
        partial=any(r.partial for r in runs),
    )
    meta = {
        "server": replay.server_kind,
        "cases": [
            {
                "name": c.name,
                "file": os.path.basename(c.file),
                "target": c.target.name,
                "original": f"{c.case.target.host}:{c.case.target.port}",
                "captured_at": c.case.captured_at,
                "notes": [{"certificate": s, "note": n} for s, n in c.notes],
            }
            for c in replay.cases
        ],
    }
    return replace(merged, extra={**merged.extra, "replay": meta})


def compare_with_capture(replay: Replay, run: RunResult) -> list[str]:
    """Cells where the replay differs from the live matrix a case holds (verdict or
    reason), one line each; cases without live results are not compared."""
    lines = []
    for rc in replay.cases:
        live = (rc.case.results or {}).get("results") or []
        if not live:
            continue
        before = {r["client"]: (r["verdict"], r["reason"]) for r in live}
        for obs in run.results:
            if obs.target != rc.target.name or obs.client not in before:
                continue
            now = (obs.verdict.value, obs.reason.value)
            then = before[obs.client]
            if now != then:
                lines.append(
                    f"{rc.name} × {obs.client}: live {then[0]} ({then[1]}), "
                    f"replay {now[0]} ({now[1]})"
                )
    return lines
