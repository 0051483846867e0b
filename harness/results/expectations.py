"""Expectations for CI: what each client should decide about each target, checked
against a run.

The file is TOML::

    # global policies, for every target in the run (optional)
    consistent = true            # every client that ran agrees (skipped ones take no side)
    all_accept = false           # every client that ran accepts

    [target."https://api.example.com"]
    all_accept = true
    clients = { curl = "accept" }

    [target."https://legacy.example.com:8443".clients]
    curl = "accept"
    requests = { verdict = "reject", reason = "incomplete_chain" }

    [scenario.leaf_only]          # a lab scenario, matched by its label
    consistent = false
    clients.java = "reject"

A section's policies override the global ones for its target. ``[target.X]`` matches the
target whose name is X (written as on the command line; it is normalised the same way);
``[scenario.X]`` matches a target labelled X through the ``scenarios`` mapping given to
:func:`check` (the lab passes its scenario names), or a target named exactly X.

Parsing raises :class:`ExpectationError` (a UsageError: exit 2) naming the line for TOML
syntax errors and the key path for unknown keys, verdicts, reasons and clients.
:func:`check` is a pure function of a run and a spec.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from tlsmatrix.clients.base import Reason, Verdict, verdict_for
from tlsmatrix.errors import UsageError
from tlsmatrix.results.model import RunResult, label

SectionKind = Literal["target", "scenario"]
POLICY_KEYS = ("all_accept", "consistent")
_SECTION_KEYS = (*POLICY_KEYS, "clients")
_CLIENT_KEYS = ("verdict", "reason")


class ExpectationError(UsageError):
    """The expectations file is unreadable or wrong; the message names line or key."""


@dataclass(frozen=True)
class Policy:
    """Target-wide rules; None means "not set here" (inherit)."""

    all_accept: bool | None = None
    consistent: bool | None = None

    def over(self, base: Policy) -> Policy:
        """This policy with ``base`` filling the unset rules."""
        return Policy(
            self.all_accept if self.all_accept is not None else base.all_accept,
            self.consistent if self.consistent is not None else base.consistent,
        )


@dataclass(frozen=True)
class ClientExpectation:
    client: str
    verdict: Verdict
    reason: Reason | None = None

    def describe(self) -> str:
        return self.verdict.value + (f" ({self.reason.value})" if self.reason else "")


@dataclass(frozen=True)
class Section:
    """One ``[target.X]`` or ``[scenario.X]`` table."""

    kind: SectionKind
    name: str  # as written in the file
    match: str  # the normalised target name, or the scenario name
    policy: Policy = Policy()
    clients: tuple[ClientExpectation, ...] = ()

    @property
    def path(self) -> str:
        return f"{self.kind}.{_quote_key(self.name)}"

    def matches(self, target: str, scenarios: Mapping[str, str]) -> bool:
        if self.kind == "target":
            return target == self.match
        return scenarios.get(target) == self.match or target == self.match


@dataclass(frozen=True)
class ExpectationSpec:
    policy: Policy = Policy()
    sections: tuple[Section, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class Violation:
    """One expectation that did not hold. ``client`` is None for a target-wide rule."""

    target: str
    client: str | None
    rule: Literal["verdict", "reason", "all_accept", "consistent", "missing"]
    expected: str
    observed: str
    section: str  # where the expectation was written: 'target."…"', 'scenario.x', 'global'

    def message(self) -> str:
        who = f"{self.target} / {self.client}" if self.client else self.target
        if self.rule == "missing":
            return f"{who}: expected {self.expected}, but {self.observed} [{self.section}]"
        return f"{who}: expected {self.expected}, got {self.observed} [{self.section}]"

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "message": self.message(),
        }


@dataclass(frozen=True)
class ExpectationResult:
    """What checking a run against a file found; reports render it."""

    source: str
    violations: tuple[Violation, ...] = field(default_factory=tuple)
    # (target, client) cells that a client expectation named, met or not
    expected_cells: frozenset[tuple[str, str]] = frozenset()

    @property
    def passed(self) -> bool:
        return not self.violations

    def for_cell(self, target: str, client: str) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.target == target and v.client == client)

    def for_target(self, target: str) -> tuple[Violation, ...]:
        """The target-wide violations (no client) of ``target``."""
        return tuple(v for v in self.violations if v.target == target and v.client is None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "passed": self.passed,
            "violations": [v.to_dict() for v in self.violations],
        }


# --- parsing --------------------------------------------------------------------------


def load_expectations(path: str, known_clients: Iterable[str] | None = None) -> ExpectationSpec:
    """Read and validate an expectations file. ``known_clients`` (default: the client
    registry) are the names a ``clients`` table may use. Raises ExpectationError."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(10_000_000)
    except OSError as exc:
        raise ExpectationError(
            f"cannot read expectations file {path}: {exc.strerror or exc}"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExpectationError(
            f"expectations file {path} is not UTF-8 text (byte {exc.start})"
        ) from None
    return parse_expectations(text, source=path, known_clients=known_clients)


def parse_expectations(
    text: str, source: str = "<expectations>", known_clients: Iterable[str] | None = None
) -> ExpectationSpec:
    """Parse TOML text into a spec; see the module docstring for the format."""
    import tomllib

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ExpectationError(f"{source}: {_toml_position(exc, text)}") from None
    if known_clients is None:
        from tlsmatrix import clients

        known_clients = clients.names()
    known = tuple(known_clients)

    def fail(key_path: str, message: str) -> ExpectationError:
        return ExpectationError(f"{source}: {key_path}: {message}")

    top_keys = (*POLICY_KEYS, "target", "scenario")
    for key in doc:
        if key not in top_keys:
            raise fail(_quote_key(key), f"unknown key; allowed at the top: {', '.join(top_keys)}")
    policy = _parse_policy(doc, "", fail)
    sections: list[Section] = []
    for kind in ("target", "scenario"):
        tables = doc.get(kind, {})
        if not isinstance(tables, dict):
            raise fail(kind, f"must be a table of {kind}s, e.g. [{kind}.NAME]")
        for name, body in tables.items():
            path = f"{kind}.{_quote_key(name)}"
            sections.append(_parse_section(kind, name, body, path, known, fail))
    return ExpectationSpec(policy=policy, sections=tuple(sections), source=source)


def _parse_policy(table: Mapping[str, Any], prefix: str, fail: Any) -> Policy:
    values: dict[str, bool | None] = {}
    for key in POLICY_KEYS:
        value = table.get(key)
        if value is not None and not isinstance(value, bool):
            raise fail(prefix + key, f"must be true or false, not {value!r}")
        values[key] = value
    return Policy(**values)


def _parse_section(
    kind: SectionKind,
    name: str,
    body: Any,
    path: str,
    known: Sequence[str],
    fail: Any,
) -> Section:
    if not isinstance(body, dict):
        raise fail(path, f"must be a table ([{path}]), not {type(body).__name__}")
    for key in body:
        if key not in _SECTION_KEYS:
            raise fail(
                f"{path}.{_quote_key(key)}", f"unknown key; allowed: {', '.join(_SECTION_KEYS)}"
            )
    if kind == "target":
        from tlsmatrix.runner.targets import parse_target

        try:
            match = parse_target(name).name
        except UsageError as exc:
            raise fail(path, f"not a target: {exc}") from None
    else:
        match = name
    clients_table = body.get("clients", {})
    if not isinstance(clients_table, dict):
        raise fail(f"{path}.clients", "must be a table of client = verdict")
    expectations = tuple(
        _parse_client(client, value, f"{path}.clients.{_quote_key(client)}", known, fail)
        for client, value in clients_table.items()
    )
    return Section(kind, name, match, _parse_policy(body, f"{path}.", fail), expectations)


def _parse_client(
    client: str, value: Any, path: str, known: Sequence[str], fail: Any
) -> ClientExpectation:
    if client not in known:
        raise fail(path, f"unknown client {client!r}; known: {', '.join(known)}")
    shorthand = isinstance(value, str)
    if shorthand:
        value = {"verdict": value}
    if not isinstance(value, dict):
        raise fail(path, 'must be a verdict ("accept") or { verdict = "...", reason = "..." }')
    for key in value:
        if key not in _CLIENT_KEYS:
            raise fail(
                f"{path}.{_quote_key(key)}", f"unknown key; allowed: {', '.join(_CLIENT_KEYS)}"
            )
    if not value:
        raise fail(path, "needs a verdict or a reason")
    reason = _enum(Reason, value["reason"], f"{path}.reason", fail) if "reason" in value else None
    if "verdict" not in value:
        assert reason is not None
        return ClientExpectation(client, verdict_for(reason), reason)
    verdict = _enum(Verdict, value["verdict"], path if shorthand else f"{path}.verdict", fail)
    if reason is not None and verdict_for(reason) is not verdict:
        raise fail(
            f"{path}.reason",
            f"reason {reason.value!r} never comes with verdict {verdict.value!r} "
            f"(it means {verdict_for(reason).value!r})",
        )
    return ClientExpectation(client, verdict, reason)


def _enum(kind: Any, value: Any, path: str, fail: Any) -> Any:
    noun = kind.__name__.lower()
    allowed = ", ".join(v.value for v in kind)
    if not isinstance(value, str):
        raise fail(path, f"{noun} must be a string, one of: {allowed}")
    try:
        return kind(value)
    except ValueError:
        raise fail(path, f"unknown {noun} {value!r}; one of: {allowed}") from None


_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)|\(at end of document\)")


def _toml_position(exc: Exception, text: str) -> str:
    """'line 3, column 7: TOML syntax error: Invalid value' from tomllib's message."""
    found = _POSITION.search(str(exc))
    message = _POSITION.sub("", str(exc)).strip()
    if found is None:
        return f"TOML syntax error: {message}"
    if found.group(1) is None:
        last = max(len(text.splitlines()), 1)
        return f"line {last} (end of file): TOML syntax error: {message}"
    return f"line {found.group(1)}, column {found.group(2)}: TOML syntax error: {message}"


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _quote_key(key: str) -> str:
    """A TOML key as it would be written: bare when it can be, quoted otherwise."""
    if _BARE_KEY.match(key):
        return key
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- checking -------------------------------------------------------------------------


def check(
    run: RunResult,
    spec: ExpectationSpec,
    *,
    scenarios: Mapping[str, str] | None = None,
    strict: bool = True,
) -> tuple[Violation, ...]:
    """Every expectation of ``spec`` that ``run`` does not meet, in target order.

    ``scenarios`` maps target names to lab scenario names for ``[scenario.X]`` sections.
    When ``strict``, a section that matches no target of the run and a client expectation
    for a client with no result are violations ("missing"); a sharded run passes
    ``strict=False``, since its other targets live in other parts."""
    scenarios = scenarios or {}
    targets = run.targets()
    found: list[Violation] = []
    for target in targets:
        sections = [s for s in spec.sections if s.matches(target, scenarios)]
        found += _policy_violations(run, target, sections, spec.policy)
        found += _client_violations(run, target, sections, strict)
    if strict:
        for section in spec.sections:
            if not any(section.matches(t, scenarios) for t in targets):
                what = "target" if section.kind == "target" else "target labelled"
                found.append(
                    Violation(
                        section.match,
                        None,
                        "missing",
                        f"a {what} {section.match}",
                        "the run has none",
                        section.path,
                    )
                )
    return tuple(found)


def _policy_violations(
    run: RunResult, target: str, sections: Sequence[Section], base: Policy
) -> list[Violation]:
    """all_accept and consistent for one target; the last section that sets a rule wins."""
    policy, source = base, dict.fromkeys(POLICY_KEYS, "global")
    for section in sections:
        policy = section.policy.over(policy)
        for key in POLICY_KEYS:
            if getattr(section.policy, key) is not None:
                source[key] = section.path
    observed = [o for o in run.results if o.target == target and o.verdict != Verdict.SKIPPED]
    found: list[Violation] = []
    if policy.all_accept:
        if not observed:
            found.append(
                Violation(
                    target,
                    None,
                    "all_accept",
                    "accept",
                    "no client reached a verdict",
                    source["all_accept"],
                )
            )
        found += [
            Violation(target, o.client, "all_accept", "accept", label(o), source["all_accept"])
            for o in observed
            if o.verdict is not Verdict.ACCEPT
        ]
    if policy.consistent:
        groups: dict[str, list[str]] = {}
        for o in observed:
            groups.setdefault(label(o), []).append(o.client)
        if len(groups) > 1:
            summary = "; ".join(f"{', '.join(v)}: {k}" for k, v in sorted(groups.items()))
            found.append(
                Violation(
                    target, None, "consistent", "every client agrees", summary, source["consistent"]
                )
            )
    return found


def _client_violations(
    run: RunResult, target: str, sections: Sequence[Section], strict: bool
) -> list[Violation]:
    cells = {o.client: o for o in run.results if o.target == target}
    ran_clients = set(run.client_names()) | {c.name for c in run.clients}
    found: list[Violation] = []
    for section in sections:
        for want in section.clients:
            obs = cells.get(want.client)
            if obs is None:
                # A client the run never had is only "missing" when the run is complete.
                if strict or want.client in ran_clients:
                    found.append(
                        Violation(
                            target,
                            want.client,
                            "missing",
                            want.describe(),
                            f"{want.client} has no result for it",
                            section.path,
                        )
                    )
            elif obs.verdict is not want.verdict:
                found.append(
                    Violation(
                        target, want.client, "verdict", want.describe(), label(obs), section.path
                    )
                )
            elif want.reason is not None and obs.reason is not want.reason:
                observed = f"{obs.verdict.value} ({obs.reason.value})"
                found.append(
                    Violation(
                        target, want.client, "reason", want.describe(), observed, section.path
                    )
                )
    return found


def scenarios_of(run: RunResult) -> dict[str, str]:
    """{target name: scenario name} from a lab run (``tlsmatrix lab run``), else empty."""
    lab = run.extra.get("lab") if isinstance(run.extra, Mapping) else None
    found = lab.get("scenarios") if isinstance(lab, Mapping) else None
    if not isinstance(found, Mapping):
        return {}
    return {str(k): str(v) for k, v in found.items()}


def evaluate(
    run: RunResult,
    spec: ExpectationSpec,
    *,
    scenarios: Mapping[str, str] | None = None,
    strict: bool = True,
) -> ExpectationResult:
    """:func:`check`, packed with the file name and the cells it named, for the reports.
    Without ``scenarios``, a lab run's own mapping (its ``lab.scenarios`` section) is used."""
    if scenarios is None:
        scenarios = scenarios_of(run)
    named = frozenset(
        (target, want.client)
        for target in run.targets()
        for section in spec.sections
        if section.matches(target, scenarios)
        for want in section.clients
    )
    return ExpectationResult(
        spec.source, check(run, spec, scenarios=scenarios, strict=strict), named
    )


__all__ = [
    "ClientExpectation",
    "ExpectationError",
    "ExpectationResult",
    "ExpectationSpec",
    "Policy",
    "Section",
    "Violation",
    "check",
    "evaluate",
    "load_expectations",
    "parse_expectations",
    "scenarios_of",
]
