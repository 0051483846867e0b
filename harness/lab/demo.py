"""The incident, replayed on the lab in four steps: the broken server, the trust stores
swapped, the diagnosis, the fix. Every client is real; the only choice made for it is
which of the story's two trust stores it gets, and the output says which and why."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tabulate import tabulate
from tlsmatrix.clients.base import Client, Observation, Verdict
from tlsmatrix.explain.explanations import short_name
from tlsmatrix.results.model import RunResult
from tlsmatrix.runner.matrix import TrustPlan, run_matrix

LAPTOP = "workstation"
CERTIFI = "certifi-like"


@dataclass(frozen=True)
class Scene:
    title: str
    run: RunResult
    profiles: dict[str, str]  # client -> trust profile name


def run_demo(
    clients: Sequence[Client], write: Callable[[str], None], timeout: float = 10.0, jobs: int = 8
) -> list[Scene]:
    from tlsmatrix.lab.lab import Lab

    names = [c.name for c in clients]
    scenes: list[Scene] = []
    with Lab(["leaf_only", "good"]) as lab:
        broken, fixed = lab.scenario("leaf_only"), lab.scenario("good")
        stores = lab.trust_profiles

        numbers = iter(range(1, 10))  # the steps actually run are numbered 1, 2, 3...

        def scene(title: str, target, chosen: Sequence[Client], profiles: dict[str, str]) -> Scene:  # type: ignore[no-untyped-def]
            title = f"{next(numbers)}. {title}"
            plan = TrustPlan(per_client={n: stores[p] for n, p in profiles.items()})
            run = run_matrix(
                [target], chosen, trust=plan, timeout=timeout, jobs=jobs, aia_log=lab.aia.log
            )
            found = Scene(title, run, profiles)
            scenes.append(found)
            write(render_scene(found))
            return found

        story = {n: (LAPTOP if n == "curl" else CERTIFI) for n in names}
        write(_intro(broken.url, lab.aia.url, stores))
        first = scene("The broken server: only the leaf is sent", broken.target, clients, story)
        pair = [c for c in clients if c.name in ("curl", "requests")]
        if len(pair) == 2:
            swapped = {"curl": CERTIFI, "requests": LAPTOP}
            swap = scene(
                "Swap the stores: requests gets the laptop's store, curl gets certifi's",
                broken.target,
                pair,
                swapped,
            )
            write(swap_summary(swap.run))
        write(_diagnosis(first.run, next(numbers)))
        scene(
            "The fix: the same leaf and key, now served with Lab Intermediate CA after it",
            fixed.target,
            clients,
            story,
        )
        last = scenes[-1].run
        rejecting = [
            o.client for o in last.results if o.verdict not in (Verdict.ACCEPT, Verdict.SKIPPED)
        ]
        if rejecting:
            write(f"   Still rejecting after the fix: {', '.join(rejecting)} (see the table).\n")
        else:
            write("   Every client accepts the full chain, whichever store it has.\n")
    return scenes


def swap_summary(run: RunResult) -> str:
    """What the store swap showed, from its results: the trust-store sentence only when
    requests really accepted and curl really rejected."""
    verdicts = {o.client: o.verdict for o in run.results}
    requests, curl = verdicts.get("requests"), verdicts.get("curl")
    if requests is Verdict.ACCEPT and curl is Verdict.REJECT:
        return (
            "   requests now accepts and curl now rejects: the difference was the trust "
            "store, not the library.\n"
        )
    shown = ", ".join(
        f"{name} {v.value if v else 'no result'}"
        for name, v in (("requests", requests), ("curl", curl))
    )
    return f"   After the swap: {shown}; the swap alone does not explain the difference.\n"


def _intro(url: str, aia_url: str, stores: dict[str, str]) -> str:
    return (
        "tlsmatrix demo: the missing-intermediate incident, replayed on the local lab\n\n"
        f"The server {url} sends only its leaf certificate ('localhost', issued by\n"
        "'Lab Intermediate CA'); the intermediate is missing. The leaf's AIA URL points at\n"
        f"{aia_url}intermediate.der, which answers.\n\n"
        "Each client gets one of the story's two trust stores (nothing else is staged):\n"
        f"  {LAPTOP:<13} {stores[LAPTOP]}\n"
        "                Lab Root CA + Lab Intermediate CA: the engineer's laptop, which had\n"
        "                the intermediate cached. Given to curl, as in the incident.\n"
        f"  {CERTIFI:<13} {stores[CERTIFI]}\n"
        "                Lab Root CA only, as certifi ships roots only. Given to every other\n"
        "                client, as in production.\n"
    )


def _cell(obs: Observation) -> str:
    if obs.verdict is Verdict.ACCEPT:
        return "ACCEPT"
    if obs.verdict is Verdict.REJECT:
        return "REJECT"
    return obs.verdict.value


def render_scene(scene: Scene) -> str:
    rows = []
    for o in scene.run.results:
        code = "" if o.verify_code is None else str(o.verify_code)
        rows.append(
            (
                o.client,
                _cell(o),
                o.reason.value,
                code,
                scene.profiles.get(o.client, "-"),
                _short(o.detail, 58),
            )
        )
    table = tabulate(
        rows, headers=("client", "verdict", "reason", "code", "trust", "detail"), tablefmt="simple"
    )
    text = f"\n{scene.title}\n{_indent(table)}\n"
    if scene.run.divergences:
        text += f"   Disagreement: {scene.run.divergences[0].summary()}\n"
    return text


def _diagnosis(run: RunResult, number: int = 3) -> str:
    target = run.targets()[0]
    chain = run.chains.get(target) or {}
    certs = chain.get("certificates") or []
    lines = ["", f"{number}. Diagnosis, from what the server sends and what each client trusted"]
    if certs:
        sent = ", ".join(f"'{short_name(c.get('subject'))}'" for c in certs)
        lines.append(f"   The server sends {len(certs)} certificate(s): {sent}.")
    if chain.get("missing_issuer"):
        lines.append(
            f"   Missing: '{short_name(chain['missing_issuer'])}', the issuer of the "
            "leaf. A client accepts only if it already has it or fetches it."
        )
    for clients, text in _grouped(run.results):
        lines.append(f"   {', '.join(clients)}: {text}")
    if chain.get("fix"):
        lines.append(f"   {chain['fix']}")
    return "\n".join(lines) + "\n"


def _grouped(results: Sequence[Observation]) -> list[tuple[list[str], str]]:
    from tlsmatrix.results.model import grouped

    return grouped(results)


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _indent(text: str) -> str:
    return "\n".join("   " + line for line in text.splitlines())
