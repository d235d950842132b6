"""The one way the CLI prints JSON for people and programs: strict, with NaN as null.

Python's ``json`` writes ``NaN`` and ``Infinity`` bare by default, which no
strict parser (JavaScript's ``JSON.parse``, ``jq``, Go) accepts. Every
``--json`` of weft prints through ``json_text``: NaN, Infinity and -Infinity
become ``null`` (the rule outputs already follow, ``weft.protocols.results``),
and ``allow_nan=False`` makes any that slipped through an error rather than
invalid JSON. See docs/cli.md, "JSON output".
"""

from __future__ import annotations

import json
from typing import Any

from weft.protocols.results import finite


def json_text(document: Any, *, indent: int | None = 2) -> str:
    """``document`` as strict JSON text; values JSON has no type for are written as text."""
    return json.dumps(finite(document), indent=indent, allow_nan=False, default=str)
