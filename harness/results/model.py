"""A run's results as data: what was observed, on which machine, with which clients,
and how the clients disagree. Reports render this; they never probe."""

from __future__ import annotations

import os
import platform
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from tlsmatrix.clients.base import (
    TRUST_ENV_VARS,
    ClientInfo,
    Observation,
    Reason,
    ReasonSource,
    TrustUsed,
    Verdict,
)

SCHEMA = "tlsmatrix/2"
# Versions from_dict reads: /1 lacks reason_source (every reason was the client's, or a
# refinement it did not mark) and the path fields; both load.
READABLE_SCHEMAS = ("tlsmatrix/1", SCHEMA)
_CORE_KEYS = frozenset(
    {
        "schema",
        "generated_at",
        "partial",
        "at",
        "environment",
        "clients",
        "results",
        "chains",
        "divergences",
    }
)


@dataclass(frozen=True)
class Divergence:
    """Clients that reached different verdicts on one target."""

    target: str
    groups: tuple[tuple[str, tuple[str, ...]], ...]  # (verdict/reason label, clients)
    explanation: str = ""

    def summary(self) -> str:
        return "; ".join(f"{', '.join(names)}: {label}" for label, names in self.groups)


@dataclass(frozen=True)
class RunResult:
    """One run: ``results`` (an Observation per target and client), the ``clients``' info,
    the ``environment``, each target's captured ``chains`` and the ``divergences``.
    ``to_json()`` is the document ``tlsmatrix run --format json`` writes."""

    results: tuple[Observation, ...]
    clients: tuple[ClientInfo, ...]
    environment: Mapping[str, Any]
    generated_at: str
    divergences: tuple[Divergence, ...] = ()
    chains: Mapping[str, Any] = field(default_factory=dict)
    partial: bool = False
    # The date the run was judged at (--at, "2040-01-01T00:00:00Z"); None: when it ran.
    at: str | None = None
    # Sections other parts add to the JSON document (e.g. "lab"), keyed by their name.
    extra: Mapping[str, Any] = field(default_factory=dict)

    def targets(self) -> list[str]:
        return list(dict.fromkeys(o.target for o in self.results))

    def client_names(self) -> list[str]:
        return list(dict.fromkeys(o.client for o in self.results))

    def scenarios(self) -> dict[str, str]:
        """Target -> lab scenario name, for the targets that are lab scenarios."""
        lab = self.extra.get("lab")
        names = lab.get("scenarios") if isinstance(lab, Mapping) else None
        return {str(k): str(v) for k, v in names.items()} if isinstance(names, Mapping) else {}

    def target_label(self, target: str) -> str:
        """How reports name a target: its lab scenario's name, else the target itself."""
        return self.scenarios().get(target, target)

    def to_json(self) -> str:
        """The JSON document ``tlsmatrix run --format json`` writes for this run."""
        from tlsmatrix.reports.json_report import render_json

        return render_json(self)


def environment() -> dict[str, Any]:
    """The facts about this machine that change verdicts."""
    return {
        "os": f"{platform.system()} {platform.release()}",
        "platform": platform.platform(),
        "python": platform.python_version(),
        "openssl": ssl.OPENSSL_VERSION,
        # the variables that change some client's trust or route (clients.base)
        "env": {name: os.environ[name] for name in TRUST_ENV_VARS if os.environ.get(name)},
    }


def judged_at_line(run: RunResult) -> str | None:
    """The reports' statement of a run judged at another date (--at), else None."""
    return f"judged at {run.at} (clocks moved with libfaketime)" if run.at else None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def label(obs: Observation) -> str:
    """How a cell is grouped when comparing: accept, or the verdict with its reason."""
    if obs.verdict is Verdict.ACCEPT:
        return "accept"
    return f"{obs.verdict.value} ({obs.reason.value})"


# A reason in a few letters, for matrices with many columns (the lab table, the HTML).
SHORT_REASONS = {
    Reason.INCOMPLETE_CHAIN: "chain",
    Reason.UNTRUSTED_ROOT: "root",
    Reason.SELF_SIGNED: "self",
    Reason.EXPIRED: "expired",
    Reason.NOT_YET_VALID: "notyet",
    Reason.HOSTNAME_MISMATCH: "host",
    Reason.REVOKED: "revoked",
    Reason.WEAK_KEY: "key",
    Reason.WEAK_SIGNATURE: "sig",
    Reason.HANDSHAKE_FAILURE: "hs",
    Reason.PROTOCOL_VERSION: "proto",
    Reason.NOT_TLS: "nottls",
}

INFERRED_NOTE = "? reason inferred: provisional, no client signal or chain evidence decides it."


def reason_text(obs: Observation) -> str:
    """The reason as reports show it: an inferred (provisional) one carries a '?'."""
    return obs.reason.value + ("?" if obs.reason_source is ReasonSource.INFERRED else "")


def find_divergences(results: Iterable[Observation]) -> tuple[Divergence, ...]:
    """Per target, the clients that disagree. Skipped clients take no side; clients that
    reject for different reasons do disagree (that is often the interesting part)."""
    by_target: dict[str, dict[str, list[str]]] = {}
    for obs in results:
        if obs.verdict is Verdict.SKIPPED:
            continue
        by_target.setdefault(obs.target, {}).setdefault(label(obs), []).append(obs.client)
    found = []
    for target, groups in by_target.items():
        if len(groups) > 1:
            ordered = sorted(groups.items(), key=lambda kv: (kv[0] != "accept", kv[0]))
            found.append(Divergence(target, tuple((k, tuple(v)) for k, v in ordered)))
    return tuple(found)


def grouped(rows: Iterable[Observation]) -> list[tuple[list[str], str]]:
    """Clients that share an explanation, in first-seen order: [(clients, text)]."""
    groups: dict[str, list[str]] = {}
    for o in rows:
        if o.explanation:
            groups.setdefault(o.explanation, []).append(o.client)
    return [(clients, text) for text, clients in groups.items()]


# --- JSON -----------------------------------------------------------------------------


def observation_to_dict(obs: Observation, scenario: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "target": obs.target,
        "client": obs.client,
        "verdict": obs.verdict.value,
        "reason": obs.reason.value,
        "reason_source": obs.reason_source.value,
        "detail": obs.detail,
        "tls_version": obs.tls_version,
        "elapsed_ms": obs.elapsed_ms,
        "trust": obs.trust.to_dict() if obs.trust else None,
        "explanation": obs.explanation,
    }
    if obs.verify_code is not None:  # only a code the client itself gave
        data["verify_code"] = obs.verify_code
    if obs.started_at is not None and obs.finished_at is not None:
        data["started_at"] = obs.started_at
        data["finished_at"] = obs.finished_at
    if scenario is not None:  # the target is a lab scenario
        data["scenario"] = scenario
    return data


def observation_from_dict(data: Mapping[str, Any]) -> Observation:
    trust = data.get("trust")
    started, finished = data.get("started_at"), data.get("finished_at")
    return Observation(
        target=data["target"],
        client=data["client"],
        verdict=Verdict(data["verdict"]),
        reason=Reason(data["reason"]),
        detail=data.get("detail") or "",
        verify_code=data.get("verify_code"),
        tls_version=data.get("tls_version"),
        elapsed_ms=float(data.get("elapsed_ms") or 0.0),
        trust=TrustUsed(trust["kind"], trust["origin"], trust.get("path")) if trust else None,
        explanation=data.get("explanation") or "",
        reason_source=ReasonSource(data.get("reason_source") or ReasonSource.CLIENT.value),
        started_at=float(started) if started is not None else None,
        finished_at=float(finished) if finished is not None else None,
    )


def client_info_to_dict(info: ClientInfo) -> dict[str, Any]:
    data = asdict(info)
    data["native_trust"] = info.native_trust.to_dict() if info.native_trust else None
    data["env_vars"] = list(info.env_vars)
    data["notes"] = list(info.notes)
    return data


def client_info_from_dict(data: Mapping[str, Any]) -> ClientInfo:
    native = data.get("native_trust")
    return ClientInfo(
        name=data["name"],
        available=bool(data["available"]),
        unavailable_reason=data.get("unavailable_reason"),
        version=data.get("version"),
        tls_library=data.get("tls_library"),
        tls_library_version=data.get("tls_library_version"),
        native_trust=TrustUsed(native["kind"], native["origin"], native.get("path"))
        if native
        else None,
        env_vars=tuple(data.get("env_vars") or ()),
        fetches_aia=bool(data.get("fetches_aia")),
        kind=data.get("kind") or "in-process",
        notes=tuple(data.get("notes") or ()),
        min_rsa_bits=int(data.get("min_rsa_bits") or 2048),
        rejects_sha1=bool(data.get("rejects_sha1", True)),
        checks_revocation=bool(data.get("checks_revocation", False)),
        partial_chain=bool(data.get("partial_chain", False)),
        strict_x509=bool(data.get("strict_x509", False)),
        aia_user_agent=data.get("aia_user_agent"),
        max_parallel=data.get("max_parallel"),
        checks_leaf_usage=bool(data.get("checks_leaf_usage", True)),
    )


def to_dict(run: RunResult) -> dict[str, Any]:
    scenarios = run.scenarios()
    return {
        "schema": SCHEMA,
        "generated_at": run.generated_at,
        "partial": run.partial,
        **({"at": run.at} if run.at else {}),
        "environment": dict(run.environment),
        "clients": [client_info_to_dict(c) for c in run.clients],
        "results": [observation_to_dict(o, scenarios.get(o.target)) for o in run.results],
        "chains": dict(run.chains),
        "divergences": [
            {
                "target": d.target,
                "groups": [{"outcome": k, "clients": list(v)} for k, v in d.groups],
                "summary": d.summary(),
                "explanation": d.explanation,
            }
            for d in run.divergences
        ],
        **{k: v for k, v in run.extra.items() if k not in _CORE_KEYS},
    }


def from_dict(data: Mapping[str, Any]) -> RunResult:
    """Load a saved run (tlsmatrix/2, or /1 from older versions). Raises
    KeyError/ValueError on a document that is neither."""
    if data.get("schema") not in READABLE_SCHEMAS:
        raise ValueError(f"not a {SCHEMA} document (schema={data.get('schema')!r})")
    results = tuple(observation_from_dict(o) for o in data["results"])
    divergences = tuple(
        Divergence(
            d["target"],
            tuple((g["outcome"], tuple(g["clients"])) for g in d["groups"]),
            d.get("explanation") or "",
        )
        for d in data.get("divergences") or ()
    )
    extra = {k: v for k, v in data.items() if k not in _CORE_KEYS}
    # Rows name their scenario; a document whose lab section lost the mapping keeps it.
    named = {o["target"]: o["scenario"] for o in data["results"] if o.get("scenario")}
    if named:
        lab = dict(extra.get("lab") or {})
        lab["scenarios"] = {**named, **(lab.get("scenarios") or {})}
        extra["lab"] = lab
    return RunResult(
        results=results,
        clients=tuple(client_info_from_dict(c) for c in data.get("clients") or ()),
        environment=data.get("environment") or {},
        generated_at=data.get("generated_at") or "",
        divergences=divergences,
        chains=data.get("chains") or {},
        partial=bool(data.get("partial")),
        at=data.get("at") or None,
        extra=extra,
    )


def merge_clients(infos: Sequence[ClientInfo]) -> tuple[ClientInfo, ...]:
    seen: dict[str, ClientInfo] = {}
    for info in infos:
        seen.setdefault(info.name, info)
    return tuple(seen.values())
