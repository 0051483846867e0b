"""The JSON report (schema tlsmatrix/2): the complete, reloadable record of a run."""

from __future__ import annotations

import json

from tlsmatrix.results.model import RunResult, to_dict


def render_json(run: RunResult) -> str:
    return json.dumps(to_dict(run), indent=2, ensure_ascii=False) + "\n"
