"""``tlsmatrix demo --story partial-chain``: the seed story's other half, on the lab.

The store holds Lab Intermediate CA but not Lab Root CA (the lab's ``intermediate-only``
store) and the server sends only its leaf. curl takes the trusted intermediate as an
anchor (libcurl sets X509_V_FLAG_PARTIAL_CHAIN); Python 3.11's ``ssl`` default needs a
self-signed root; Python 3.13's default context sets VERIFY_X509_PARTIAL_CHAIN and so
accepts, and VERIFY_X509_STRICT too, which the second scene shows on the lab's
``strict_x509`` chain. Every client is real; Python 3.13 runs as ``stdlib@3.13`` (see
:mod:`tlsmatrix.clients.interpreter`), and when it cannot be had the story says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tlsmatrix.clients.base import Client, ClientInfo, Verdict
from tlsmatrix.lab.demo import Scene, render_scene
from tlsmatrix.runner.matrix import TrustPlan, run_matrix

__all__ = ["STORY_CLIENTS", "load_story_clients", "run_partial_chain_story"]

STORE = "intermediate-only"
CERTIFI = "certifi-like"
# curl, the Python tlsmatrix runs on, Python 3.11 and Python 3.13 (the last two through
# clients/interpreter; a missing interpreter shows as skipped with its reason).
STORY_CLIENTS = ("curl", "stdlib", "stdlib@3.11", "stdlib@3.13")


def load_story_clients(
    names: Sequence[str] = STORY_CLIENTS,
) -> tuple[list[Client], list[str]]:
    """The story's clients, and one note per client that could not be loaded at all."""
    from tlsmatrix.runner.pool import load_clients

    loaded: list[Client] = []
    notes: list[str] = []
    for name in names:
        try:
            loaded.extend(load_clients([name]))
        except Exception as exc:  # an interpreter adapter that cannot even be imported
            notes.append(f"{name} could not be loaded ({type(exc).__name__}: {exc})")
    return loaded, notes


def run_partial_chain_story(
    clients: Sequence[Client],
    write: Callable[[str], None],
    *,
    notes: Sequence[str] = (),
    timeout: float = 15.0,
    jobs: int = 4,
) -> list[Scene]:
    from tlsmatrix.lab.behaviours import behaviour_props
    from tlsmatrix.lab.lab import Lab

    scenes: list[Scene] = []
    with Lab(["leaf_only", "strict_x509"]) as lab:
        stores = lab.trust_profiles
        broken, strict = lab.scenario("leaf_only"), lab.scenario("strict_x509")
        write(_intro(broken.url, stores[STORE]))
        for note in notes:
            write(f"   Note: {note}.\n")

        def scene(title: str, target, profile: str) -> Scene:  # type: ignore[no-untyped-def]
            plan = TrustPlan(
                per_client={c.name: stores[profile] for c in clients},
                known_stores=tuple(stores.values()),
            )
            run = run_matrix([target], clients, trust=plan, timeout=timeout, jobs=jobs)
            found = Scene(title, run, {c.name: profile for c in clients})
            scenes.append(found)
            write(render_scene(found))
            return found

        first = scene(
            "1. Only the leaf is sent; the store holds the intermediate, not the root",
            broken.target,
            STORE,
        )
        write(_why(first, behaviour_props, "partial_chain", _ANCHOR_RULES))
        second = scene(
            "2. Python 3.13's other new default: a CA whose basicConstraints is not critical",
            strict.target,
            CERTIFI,
        )
        write(_why(second, behaviour_props, "strict_x509", _STRICT_RULES))
    _missing_python(scenes, write)
    return scenes


_ANCHOR_RULES = {
    True: "takes a trusted intermediate as its anchor (partial chain)",
    False: "anchors only at a self-signed root, which this store lacks",
}
_STRICT_RULES = {
    True: "checks X.509 strictly: a CA's basicConstraints must be critical",
    False: "does not insist on a critical basicConstraints",
}


def _why(
    scene: Scene,
    behaviour_props: Callable[[ClientInfo], dict[str, bool]],
    field: str,
    rules: dict[bool, str],
) -> str:
    """One line per client: its measured rule and whether its verdict follows from it."""
    infos = {i.name: i for i in scene.run.clients}
    lines = []
    for obs in scene.run.results:
        info = infos.get(obs.client)
        if info is None or not info.available or obs.verdict is Verdict.SKIPPED:
            continue
        rule = behaviour_props(info)[field]
        version = f" ({info.version})" if info.version else ""
        lines.append(f"   {obs.client}{version}: {rules[rule]} -> {obs.verdict.value}")
    return "\n".join(lines) + "\n" if lines else ""


def _missing_python(scenes: Sequence[Scene], write: Callable[[str], None]) -> None:
    if not scenes:
        return
    infos = {i.name: i for i in scenes[0].run.clients}
    for name in ("stdlib@3.11", "stdlib@3.13"):
        info = infos.get(name)
        if info is not None and not info.available:
            write(f"\n   {name} is not available here: {info.unavailable_reason}.\n")


def _intro(url: str, store: str) -> str:
    return (
        "tlsmatrix demo: the partial-chain store, curl vs Python 3.11 vs Python 3.13\n\n"
        f"The server {url} sends only its leaf ('localhost', issued by 'Lab Intermediate\n"
        "CA'). Every client trusts the same store, which holds Lab Intermediate CA and not\n"
        f"Lab Root CA:\n  {STORE:<17} {store}\n"
        "Whether that is enough depends on the client's anchor rule, not on the chain.\n"
    )
