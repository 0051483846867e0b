"""The HTML report: one self-contained file (inline CSS, no script, no external fetch —
a Content-Security-Policy forbids any) to attach to a CI run or mail to a colleague.

It shows the matrix of targets x clients coloured by verdict, then per target the chain
the server presented drawn as boxes (leaf -> intermediate -> root), the chain's issues,
who disagrees and why, and every result with its detail and explanation.

Every string that comes from a server, a client or the user goes through ``esc``: a
detail such as ``<script>`` appears as text, never as markup."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from tlsmatrix.clients.base import Observation, Reason, ReasonSource, Verdict
from tlsmatrix.reports import grid
from tlsmatrix.results.expectations import ExpectationResult
from tlsmatrix.results.model import (
    INFERRED_NOTE,
    SHORT_REASONS,
    RunResult,
    judged_at_line,
    reason_text,
)

# Solid fills, also checked by the screenshot test (pixels of the matrix).
COLOURS = {
    Verdict.ACCEPT: ("#1f883d", "#ffffff"),
    Verdict.REJECT: ("#cf222e", "#ffffff"),
    Verdict.ERROR: ("#bf8700", "#ffffff"),
    Verdict.TIMEOUT: ("#8250df", "#ffffff"),
    Verdict.SKIPPED: ("#d0d7de", "#24292f"),
}
SYMBOLS = {
    Verdict.ACCEPT: "✔",
    Verdict.REJECT: "✘",
    Verdict.ERROR: "!",
    Verdict.TIMEOUT: "◷",
    Verdict.SKIPPED: "–",
}

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'"

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  margin: 0; padding: 20px 28px 40px; color: #24292f; background: #ffffff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 10px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 8px; }
.meta { color: #57606a; margin: 0 0 16px; }
.banner { padding: 8px 12px; border-radius: 6px; margin: 8px 0 16px; font-weight: 600; }
.banner.ok { background: #dafbe1; color: #116329; }
.banner.bad { background: #ffebe9; color: #a40e26; }
.banner.warn { background: #fff8c5; color: #7d4e00; }
table { border-collapse: collapse; }
.matrixwrap { overflow: auto; max-height: 85vh; max-width: 100%; border: 1px solid #d0d7de; }
table.matrix { font-size: 12px; line-height: 1.25; }
table.matrix td { font-size: 11px; }
table.matrix th, table.matrix td { border: 1px solid #ffffff; padding: 2px 4px; }
table.matrix thead th { position: sticky; top: 0; z-index: 2; background: #f6f8fa;
  font-weight: 600; vertical-align: bottom; }
table.matrix thead th span { writing-mode: vertical-rl; transform: rotate(180deg);
  white-space: nowrap; }
table.matrix thead th.corner { left: 0; z-index: 3; text-align: left; }
table.matrix tbody th { position: sticky; left: 0; z-index: 1; background: #f6f8fa;
  text-align: left; font-weight: 600; max-width: 190px; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
table.matrix tbody th a { color: #0969da; text-decoration: none; }
table.matrix td { text-align: center; font-weight: 600; white-space: nowrap; }
td.unexpected { box-shadow: inset 0 0 0 3px #24292f; }
td.none { background: #f6f8fa; color: #8c959f; }
.legend { margin: 10px 0 0; color: #57606a; font-size: 12px; }
.legend span { display: inline-block; padding: 1px 8px; border-radius: 4px; margin-right: 6px; }
section.target { margin-top: 24px; }
.chain { display: flex; flex-wrap: wrap; align-items: stretch; gap: 0; margin: 8px 0 12px; }
.cert { border: 2px solid #57606a; border-radius: 8px; padding: 8px 12px; width: 250px;
  background: #f6f8fa; overflow-wrap: anywhere; }
.cert.leaf { border-color: #0969da; }
.cert.root { border-color: #1a7f37; }
.cert.missing { border-style: dashed; border-color: #cf222e; background: #fff5f5; }
.cert.store { border-style: dotted; border-color: #57606a; background: #ffffff; }
.cert .role { font-size: 11px; text-transform: uppercase; letter-spacing: .05em; color: #57606a; }
.cert .cn { font-weight: 700; margin: 2px 0 4px; }
.cert .facts { font-size: 12px; color: #57606a; }
.cert .flag { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 10px;
  background: #ddf4ff; color: #0969da; margin: 4px 4px 0 0; }
.cert .flag.bad { background: #ffebe9; color: #cf222e; }
.arrow { align-self: center; font-size: 22px; color: #57606a; padding: 0 8px; text-align: center; }
.arrow small { display: block; font-size: 10px; }
ul.issues li { margin: 2px 0; }
ul.issues code { background: #fff8c5; padding: 0 4px; border-radius: 3px; }
.divergence { background: #fff8c5; border-left: 4px solid #bf8700; padding: 8px 12px;
  margin: 8px 0; }
table.results { width: 100%; font-size: 13px; margin-top: 8px; }
table.results th, table.results td { border: 1px solid #d0d7de; padding: 5px 8px;
  text-align: left; vertical-align: top; }
table.results th { background: #f6f8fa; }
table.results td.detail { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px;
  overflow-wrap: anywhere; max-width: 520px; }
.pill { display: inline-block; padding: 0 8px; border-radius: 10px; font-weight: 600; }
.explanation { color: #0a3069; font-family: system-ui, -apple-system, "Segoe UI", Roboto,
  "DejaVu Sans", sans-serif; font-size: 13px; }
.fix { background: #ddf4ff; border-left: 4px solid #0969da; padding: 8px 12px; margin: 8px 0; }
footer { margin-top: 32px; color: #57606a; font-size: 12px; }
footer table td, footer table th { border: 1px solid #d0d7de; padding: 3px 6px; text-align: left; }
"""


def esc(value: Any) -> str:
    """Any value as HTML text (quotes escaped too, so it is safe in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def _verdict_style(verdict: Verdict) -> str:
    background, colour = COLOURS[verdict]
    return f"background:{background};color:{colour}"


def render_html(run: RunResult, expectations: ExpectationResult | None = None) -> str:
    targets, clients, cells = grid(run)
    anchors = {target: f"t{i + 1}" for i, target in enumerate(targets)}
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>tlsmatrix report</title>",
        f"<style>{_CSS}</style>",
        "</head><body>",
        "<h1>tlsmatrix report</h1>",
        f'<p class="meta">{esc(run.generated_at)} · {len(targets)} target(s) × '
        f"{len(clients)} client(s) · {len(run.divergences)} disagreement(s)</p>",
    ]
    judged = judged_at_line(run)
    if judged:
        out.append(f'<p class="banner">{esc(judged)}</p>')
    if run.partial:
        out.append(
            '<p class="banner warn">Partial results: the run was interrupted or a shard is '
            "missing.</p>"
        )
    if expectations is not None:
        if expectations.passed:
            out.append(
                f'<p class="banner ok">Expectations ({esc(expectations.source)}): all met.</p>'
            )
        else:
            out.append(
                f'<p class="banner bad">Expectations ({esc(expectations.source)}): '
                f"{len(expectations.violations)} violated.</p>"
            )
    out += _matrix(run, targets, clients, cells, anchors, expectations)
    if expectations is not None and expectations.violations:
        out.append('<h2 id="expectations">Unmet expectations</h2><ul class="violations">')
        out += [f"<li>{esc(v.message())}</li>" for v in expectations.violations]
        out.append("</ul>")
    for target in targets:
        out += _target_section(run, target, anchors[target], clients, cells)
    out += _footer(run)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def short_target(run: RunResult, target: str) -> str:
    """A matrix row's label: the lab scenario's name, else host:port (and path)."""
    label = run.target_label(target)
    if label != target:
        return label
    return target.removeprefix("https://").rstrip("/")


# The matrix's reasons in at most 7 letters (the legend spells them out).
SHORT = {
    **SHORT_REASONS,
    Reason.UNKNOWN_ISSUER: "issuer",
    Reason.BAD_SIGNATURE: "badsig",
    Reason.NOT_A_CA: "notca",
    Reason.PATH_LENGTH: "pathlen",
    Reason.NAME_CONSTRAINTS: "names",
    Reason.WRONG_USAGE: "usage",
    Reason.CRITICAL_EXTENSION: "critext",
    Reason.MALFORMED_CERTIFICATE: "malform",
    Reason.INVALID_CERTIFICATE: "invalid",
    Reason.CONNECTION_REFUSED: "refused",
    Reason.DNS_FAILURE: "dns",
    Reason.TIMEOUT: "",
    Reason.CLIENT_UNAVAILABLE: "",
    Reason.CLIENT_ERROR: "crash",
}


def compact_reason(o: Observation) -> str:
    """A cell's text: the verdict's symbol and a reason of a few letters."""
    if o.verdict in (Verdict.ACCEPT, Verdict.SKIPPED):
        return SYMBOLS[o.verdict]
    text = SHORT.get(o.reason, o.reason.value)
    text = text if len(text) <= 7 else text[:6] + "…"
    if o.reason_source is ReasonSource.INFERRED:
        text += "?"
    return f"{SYMBOLS[o.verdict]} {text}".rstrip()


def _matrix(
    run: RunResult,
    targets: list[str],
    clients: list[str],
    cells: Mapping[tuple[str, str], Observation],
    anchors: Mapping[str, str],
    expectations: ExpectationResult | None,
) -> list[str]:
    """Targets down, clients across, one compact cell each: the full text is on hover
    (title) and in the target's section below. Header row and first column stay put."""
    if not targets:
        return ["<p>No targets in this run.</p>"]
    out = [
        '<h2 id="matrix">Matrix</h2>',
        '<div class="matrixwrap"><table class="matrix"><thead><tr><th class="corner">target</th>',
    ]
    out += [f'<th scope="col" title="{esc(c)}"><span>{esc(c)}</span></th>' for c in clients]
    out.append("</tr></thead><tbody>")
    for target in targets:
        label = short_target(run, target)
        full = target if run.target_label(target) == target else f"{label}: {target}"
        row = [
            f'<tr><th scope="row" title="{esc(full)}">'
            f'<a href="#{anchors[target]}">{esc(label)}</a></th>'
        ]
        for client in clients:
            o = cells.get((target, client))
            if o is None:
                row.append('<td class="none">·</td>')
                continue
            classes = ["cell", o.verdict.value]
            violated = expectations.for_cell(target, client) if expectations else ()
            if violated:
                classes.append("unexpected")
            title = f"{client} on {label}: {o.verdict.value} ({reason_text(o)})"
            if o.detail:
                title += f" — {o.detail}"
            if violated:
                title = "; ".join(v.message() for v in violated) + " — " + title
            row.append(
                f'<td class="{" ".join(classes)}" style="{_verdict_style(o.verdict)}" '
                f'title="{esc(title)}">{esc(compact_reason(o))}</td>'
            )
        row.append("</tr>")
        out.append("".join(row))
    out.append("</tbody></table></div>")
    legend = " ".join(
        f'<span style="{_verdict_style(v)}">{SYMBOLS[v]} {v.value}</span>' for v in Verdict
    )
    shorts = ", ".join(f"{v} = {k.value}" for k, v in SHORT.items() if v)
    note = f" Reasons: {esc(shorts)}. Hover a cell for its detail."
    if expectations is not None:
        note += " A framed cell broke an expectation."
    if any(o.reason_source is ReasonSource.INFERRED for o in cells.values()):
        note += " " + esc(INFERRED_NOTE)
    out.append(f'<p class="legend">{legend}{note}</p>')
    return out


def _target_section(
    run: RunResult,
    target: str,
    anchor: str,
    clients: list[str],
    cells: Mapping[tuple[str, str], Observation],
) -> list[str]:
    label = run.target_label(target)
    heading = esc(target) if label == target else f"{esc(label)} <small>({esc(target)})</small>"
    out = [f'<section class="target" id="{anchor}"><h2>{heading}</h2>']
    out += _chain(run.chains.get(target))
    divergence = next((d for d in run.divergences if d.target == target), None)
    if divergence is not None:
        text = f"<strong>Disagreement:</strong> {esc(divergence.summary())}"
        if divergence.explanation:
            text += f'<br><span class="explanation">Why: {esc(divergence.explanation)}</span>'
        out.append(f'<div class="divergence">{text}</div>')
    out.append(
        '<table class="results"><thead><tr><th>client</th><th>verdict</th><th>reason</th>'
        "<th>detail</th><th>TLS</th><th>trusted</th><th>time</th></tr></thead><tbody>"
    )
    for client in clients:
        o = cells.get((target, client))
        if o is None:
            continue
        trust = "-"
        if o.trust is not None:
            trust = f"{o.trust.kind}: {o.trust.origin}" + (
                f" ({o.trust.path})" if o.trust.path else ""
            )
        detail = esc(o.detail)
        if o.verify_code is not None:
            detail += f" <small>(code {o.verify_code})</small>"
        if o.explanation:
            detail += f'<br><span class="explanation">{esc(o.explanation)}</span>'
        out.append(
            f"<tr><td>{esc(o.client)}</td>"
            f'<td><span class="pill" style="{_verdict_style(o.verdict)}">{esc(o.verdict.value)}'
            f"</span></td><td>{esc(reason_text(o))}</td>"
            f'<td class="detail">{detail}</td><td>{esc(o.tls_version or "-")}</td>'
            f"<td>{esc(trust)}</td><td>{o.elapsed_ms / 1000:.2f}s</td></tr>"
        )
    out.append("</tbody></table></section>")
    return out


def _chain(chain: Any) -> list[str]:
    """The presented chain as boxes with arrows; tolerant of missing or partial data."""
    out = ["<h3>Presented chain</h3>"]
    if not isinstance(chain, Mapping):
        return out + ['<p class="meta">No chain was captured for this target.</p>']
    certs = [c for c in chain.get("certificates") or () if isinstance(c, Mapping)]
    if chain.get("error"):
        out.append(f'<p class="meta">Capture: {esc(chain.get("error"))}</p>')
    if not certs:
        return out + ['<p class="meta">The server presented no certificate we could read.</p>']
    path = [i for i in chain.get("path") or () if isinstance(i, int) and 0 <= i < len(certs)]
    order = path or list(range(len(certs)))
    boxes = [_cert_box(certs[i], i, position) for position, i in enumerate(order)]
    missing = chain.get("missing_issuer")
    anchor = chain.get("expected_anchor")
    last = certs[order[-1]]
    if missing:
        boxes.append(
            '<div class="cert missing"><div class="role">not sent</div>'
            f'<div class="cn">{esc(missing)}</div>'
            '<div class="facts">missing intermediate: the client must have it in its store '
            "or fetch it (AIA)</div></div>"
        )
    elif anchor and not last.get("self_signed"):
        boxes.append(
            '<div class="cert store"><div class="role">from the trust store</div>'
            f'<div class="cn">{esc(anchor)}</div></div>'
        )
    arrow = '<div class="arrow">→<small>issued by</small></div>'
    out.append('<div class="chain">' + arrow.join(boxes) + "</div>")
    extra = [i for i in range(len(certs)) if path and i not in path]
    if extra:
        names = ", ".join(esc(_name(certs[i])) for i in extra)
        out.append(f'<p class="meta">Also sent, not on the path: {names}</p>')
    issues = [i for i in chain.get("issues") or () if isinstance(i, Mapping)]
    if issues:
        out.append('<ul class="issues">')
        out += [
            f"<li><code>{esc(i.get('code'))}</code> {esc(i.get('message'))}</li>" for i in issues
        ]
        out.append("</ul>")
    else:
        out.append('<p class="meta">No chain issues found.</p>')
    if chain.get("fix"):
        out.append(f'<p class="fix">{esc(chain.get("fix"))}</p>')
    return out


def _name(cert: Mapping[str, Any]) -> str:
    """The common name, else the first part of the subject ('OU=Testing CA,O=x' gives
    'Testing CA'), else the index."""
    if cert.get("common_name"):
        return str(cert["common_name"])
    subject = str(cert.get("subject") or "")
    first = re.split(r"(?<!\\),", subject, maxsplit=1)[0]
    _, sep, value = first.partition("=")
    return value if sep and value else subject or f"certificate {cert.get('index')}"


def _cert_box(cert: Mapping[str, Any], index: int, position: int) -> str:
    if position == 0 and index == 0:
        role, kind = ("self-signed leaf" if cert.get("self_signed") else "leaf"), "leaf"
    elif cert.get("self_signed"):
        role, kind = "root (self-signed)", "root"
    elif cert.get("is_ca"):
        role, kind = "intermediate", "intermediate"
    else:
        role, kind = f"certificate #{index}", "other"
    facts = []
    issuer = cert.get("issuer")
    if issuer:
        facts.append(f"issuer: {esc(issuer)}")
    if cert.get("not_after"):
        facts.append(f"expires: {esc(cert.get('not_after'))}")
    key = " ".join(str(x) for x in (cert.get("key_type"), cert.get("key_bits")) if x)
    if key:
        facts.append(f"key: {esc(key)}")
    flags = []
    if cert.get("is_ca"):
        flags.append('<span class="flag">CA</span>')
    if cert.get("self_signed"):
        flags.append('<span class="flag">self-signed</span>')
    if cert.get("error"):
        flags.append(f'<span class="flag bad">{esc(cert.get("error"))}</span>')
    return (
        f'<div class="cert {kind}"><div class="role">{esc(role)} · sent #{index}</div>'
        f'<div class="cn">{esc(_name(cert))}</div>'
        f'<div class="facts">{"<br>".join(facts)}</div>{"".join(flags)}</div>'
    )


def _footer(run: RunResult) -> list[str]:
    env = run.environment or {}
    out = ["<footer><h3>Environment</h3><p>"]
    out.append(
        " · ".join(
            f"{esc(k)}: {esc(env.get(k))}" for k in ("os", "python", "openssl") if env.get(k)
        )
    )
    variables = env.get("env") or {}
    if isinstance(variables, Mapping) and variables:
        out.append(
            "<br>trust variables: " + ", ".join(f"{esc(k)}={esc(v)}" for k, v in variables.items())
        )
    out.append("</p>")
    if run.clients:
        out.append(
            "<table><thead><tr><th>client</th><th>version</th><th>TLS library</th>"
            "<th>fetches AIA</th></tr></thead><tbody>"
        )
        for c in run.clients:
            version = c.version if c.available else f"unavailable: {c.unavailable_reason}"
            library = " ".join(x for x in (c.tls_library, c.tls_library_version) if x)
            out.append(
                f"<tr><td>{esc(c.name)}</td><td>{esc(version or '-')}</td>"
                f"<td>{esc(library or '-')}</td><td>{'yes' if c.fetches_aia else 'no'}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</footer>")
    return out
