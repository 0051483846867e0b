"""The JSON Schema (draft 2020-12) of the ``tlsmatrix/2`` report, shipped as package data
(``harness/results/schemas/tlsmatrix-2.json``; the /1 schema stays beside it for the old
reports ``diff`` and ``merge`` still read) so ``tlsmatrix schema`` prints what ``run``
writes. A test validates real runs against it, which keeps the two in sync."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_FILE = "schemas/tlsmatrix-2.json"


def schema_text() -> str:
    """The schema exactly as shipped."""
    return resources.files("tlsmatrix.results").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


@cache
def _schema() -> str:
    return schema_text()


def load_schema() -> dict[str, Any]:
    """The schema as a fresh dict (callers may change theirs)."""
    return json.loads(_schema())


def validate(document: Any) -> list[str]:
    """Every way ``document`` breaks the schema, as 'path: message' lines (empty when
    valid). Needs the ``jsonschema`` package."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema())
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in sorted(
            validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path]
        )
    ]
