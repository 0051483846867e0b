"""Corpus families about building the path: which certificates are sent, which anchor
the client holds. Each family function returns its cases; ``new`` makes a Kit."""

from __future__ import annotations

from collections.abc import Callable

from tlsmatrix.clients.base import Reason
from tlsmatrix.lab.corpus.kit import Kit
from tlsmatrix.lab.corpus.model import Alternative, Case, expect

NewKit = Callable[[str, str], Kit]

# Without AIA (no corpus certificate carries a caIssuers URL) a gap right under the anchor
# and an untrusted root look the same to anyone who sees only the chain and the store.
LOOKS_LIKE_UNTRUSTED_ROOT = Alternative(
    Reason.UNKNOWN_ISSUER,
    "no sent certificate is issued by an anchor, so the evidence cannot separate a "
    "missing intermediate from an untrusted root (issue 12: say unknown_issuer, not a guess)",
    by_evidence=True,
)
LOOKS_LIKE_MISSING_LINK = Alternative(
    Reason.UNKNOWN_ISSUER,
    "the root is not sent, so the evidence cannot separate an untrusted root from a "
    "missing intermediate (issue 12: say unknown_issuer, not a guess)",
    by_evidence=True,
)


def missing_link(new: NewKit) -> list[Case]:
    """root -> I1 -> ... -> I<d> -> leaf for d = 1..4, the root trusted and never sent; the
    server omits one intermediate, or all of them. Each depth has its complete control."""
    cases = []
    for depth in range(1, 5):
        labels = [f"I{n}" for n in range(depth, 0, -1)]  # as sent: nearest the leaf first
        omissions = [[label] for label in labels]
        if depth > 1:
            omissions.append(list(labels))
        for omitted in [[], *omissions]:
            if not omitted:
                variation = f"d{depth}-complete"
            elif len(omitted) == depth and depth > 1:
                variation = f"d{depth}-leaf-only"
            else:
                variation = f"d{depth}-without-{omitted[0]}"
            kit = new("missing_link", variation)
            chain = kit.intermediates(depth)
            kit.leaf(chain[-1])
            sent = ["leaf", *(label for label in labels if label not in omitted)]
            if not omitted:
                expectation = expect(Reason.OK)
                what = "all intermediates sent"
            else:
                # the gap reaches the anchor when I1 (the root's child) is not sent
                alternatives = (LOOKS_LIKE_UNTRUSTED_ROOT,) if "I1" in omitted else ()
                expectation = expect(Reason.INCOMPLETE_CHAIN, None, *alternatives)
                what = f"server omits {', '.join(omitted)}"
            cases.append(
                kit.case(
                    f"root -> {' -> '.join(reversed(labels))} -> leaf, root trusted; {what}",
                    sent,
                    ["root"],
                    expectation,
                    depth=depth,
                    omitted=tuple(omitted),
                )
            )
    return cases


def root_issued(new: NewKit) -> list[Case]:
    """A leaf issued directly by the trusted root: a complete chain with or without the root."""
    cases = []
    for variation, sent, what in (
        ("root-not-sent", ["leaf"], "the server sends the leaf only"),
        ("root-sent", ["leaf", "root"], "the server sends the leaf and the root"),
    ):
        kit = new("root_issued", variation)
        kit.leaf(kit.root)
        description = f"leaf issued by the trusted root; {what}"
        cases.append(kit.case(description, sent, ["root"], expect(Reason.OK)))
    return cases


def anchors(new: NewKit) -> list[Case]:
    """Which certificate is the anchor: a self-signed root, or only an intermediate in the
    store (a partial chain, accepted only by clients that take an intermediate as anchor)."""
    cases = []
    kit = new("anchors", "root-trusted-and-sent")
    (i1,) = kit.intermediates(1)
    kit.leaf(i1)
    cases.append(
        kit.case(
            "root -> I1 -> leaf, the self-signed root trusted and sent too",
            ["leaf", "I1", "root"],
            ["root"],
            expect(Reason.OK),
        )
    )
    for variation, sent in (
        ("intermediate-only-full-chain", ["leaf", "I1"]),
        ("intermediate-only-leaf-only", ["leaf"]),
        ("intermediate-only-root-sent", ["leaf", "I1", "root"]),
    ):
        kit = new("anchors", variation)
        (i1,) = kit.intermediates(1)
        kit.leaf(i1)
        cases.append(
            kit.case(
                f"root -> I1 -> leaf, the store holds I1 but not the root; sent: "
                f"{' + '.join(sent)}",
                sent,
                ["I1"],
                expect(Reason.UNTRUSTED_ROOT, "not partial_chain"),
                position="I1",
            )
        )
    return cases


def untrusted(new: NewKit) -> list[Case]:
    """Chains that end at an anchor the client does not hold."""
    cases = []
    # root' -> I1 -> leaf under a root the store does not hold, sent with or without it.
    for variant, sent, what, expectation in (
        ("root-sent", ["leaf", "I1", "other-root"], "all three", expect(Reason.UNTRUSTED_ROOT)),
        (
            "root-not-sent",
            ["leaf", "I1"],
            "leaf + I1",
            expect(Reason.UNTRUSTED_ROOT, None, LOOKS_LIKE_MISSING_LINK),
        ),
    ):
        kit = new("untrusted", variant)
        other = kit.forge.issue("other-root", "root")
        (i1,) = kit.intermediates(1, issuer=other)
        kit.leaf(i1)
        description = f"root' -> I1 -> leaf, {what} sent; the store holds an unrelated root"
        cases.append(kit.case(description, sent, ["root"], expectation, position="other-root"))
    kit = new("untrusted", "self-signed-leaf")
    kit.leaf(None)
    cases.append(
        kit.case(
            "a self-signed leaf, not in the store",
            ["leaf"],
            ["root"],
            expect(Reason.SELF_SIGNED),
            position="leaf",
        )
    )
    return cases


def cross_sign(new: NewKit) -> list[Case]:
    """A new root cross-signed by an old one: new-root -> I1 -> leaf, and X (the new root's
    name and key, issued by the old root). Sent: leaf + I1 + X unless said otherwise."""
    cases = []
    for variation, trust, sent, expectation in (
        ("trust-old", ["old-root"], ["leaf", "I1", "X"], expect(Reason.OK)),
        ("trust-new", ["root"], ["leaf", "I1", "X"], expect(Reason.OK)),
        ("trust-both", ["old-root", "root"], ["leaf", "I1", "X"], expect(Reason.OK)),
        (
            "trust-old-cross-not-sent",
            ["old-root"],
            ["leaf", "I1"],
            expect(Reason.INCOMPLETE_CHAIN, None, LOOKS_LIKE_UNTRUSTED_ROOT),
        ),
    ):
        kit = new("cross_sign", variation)
        new_root = kit.own_root()
        old_root = kit.forge.issue("old-root", "root")
        kit.forge.issue("X", "ca", old_root, key=new_root.key, subject=new_root.subject)
        (i1,) = kit.intermediates(1)
        kit.leaf(i1)
        cases.append(
            kit.case(
                f"new root cross-signed by the old (X); trusted: {' + '.join(trust)}; "
                f"sent: {' + '.join(sent)}",
                sent,
                trust,
                expectation,
            )
        )
    return cases


FAMILIES = (missing_link, root_issued, anchors, untrusted, cross_sign)
