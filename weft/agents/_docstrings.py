"""Parameter descriptions read from a tool's docstring, for its input schema.

A model chooses arguments from the schema alone, so what a docstring says of
each parameter belongs in the schema's ``description`` of it, as the OpenAI
Agents SDK and pydantic-ai do. The three styles Python users write are read:

- Google: an ``Args:`` (or ``Arguments:``, ``Parameters:``, ``Keyword Args:``)
  section of ``name (type): text`` or ``name: text`` lines;
- NumPy: a ``Parameters`` section underlined with dashes, of ``name : type``
  lines with the text indented below;
- Sphinx: ``:param name: text`` or ``:param type name: text`` fields.

Continuation lines are joined into one line. A docstring in none of these
styles gives nothing, never an error: the descriptions are a help to the
model, not part of the contract.
"""

from __future__ import annotations

import inspect
import re

__all__ = ["parameter_docs"]

_GOOGLE_HEADERS = frozenset(
    {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments",
     "other parameters", "kwargs"}
)  # fmt: skip
_NUMPY_HEADERS = frozenset({"parameters", "other parameters", "keyword arguments"})
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_NUMPY_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?::.*)?$")
_SPHINX_PARAM = re.compile(
    r"^:(?:param|parameter|arg|argument|key|keyword)\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$"
)
_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _joined(parts: list[str]) -> str:
    return " ".join(p.strip() for p in parts if p.strip())


def _google(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    i = 0
    while i < len(lines):
        header = lines[i].strip()
        if not (header.endswith(":") and header[:-1].strip().lower() in _GOOGLE_HEADERS):
            i += 1
            continue
        base = _indent(lines[i])
        i += 1
        entry_indent: int | None = None
        name: str | None = None
        text: list[str] = []
        while i < len(lines):
            line = lines[i]
            if line.strip() and _indent(line) <= base:
                break  # the section ended: back at the header's indent
            if not line.strip():
                i += 1
                continue
            indent = _indent(line)
            entry_indent = indent if entry_indent is None else entry_indent
            match = _GOOGLE_ENTRY.match(line.strip()) if indent == entry_indent else None
            if match:
                if name:
                    found[name] = _joined(text)
                name, text = match.group(1), [match.group(2)]
            elif name:
                text.append(line)
            i += 1
        if name:
            found[name] = _joined(text)
    return found


def _numpy(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    i = 0
    while i + 1 < len(lines):
        if not (lines[i].strip().lower() in _NUMPY_HEADERS and _UNDERLINE.match(lines[i + 1])):
            i += 1
            continue
        base = _indent(lines[i])
        i += 2
        name: str | None = None
        text: list[str] = []
        while i < len(lines):
            line = lines[i]
            if i + 1 < len(lines) and line.strip() and _UNDERLINE.match(lines[i + 1]):
                break  # the next section's header
            if line.strip() and _indent(line) <= base:
                match = _NUMPY_ENTRY.match(line.strip())
                if not match:
                    break
                if name:
                    found[name] = _joined(text)
                name, text = match.group(1), []
            elif name and line.strip():
                text.append(line)
            i += 1
        if name:
            found[name] = _joined(text)
    return found


def _sphinx(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    name: str | None = None
    text: list[str] = []
    for line in lines:
        stripped = line.strip()
        match = _SPHINX_PARAM.match(stripped)
        if match or stripped.startswith(":") or not stripped:
            if name:
                found[name] = _joined(text)
            name, text = (match.group(1), [match.group(2)]) if match else (None, [])
        elif name:
            text.append(line)
    if name:
        found[name] = _joined(text)
    return found


def parameter_docs(doc: str | None) -> dict[str, str]:
    """``{parameter: description}`` from a docstring in any of the three styles."""
    if not doc:
        return {}
    lines = inspect.cleandoc(doc).splitlines()
    found: dict[str, str] = {}
    for style in (_sphinx, _numpy, _google):
        for name, text in style(lines).items():
            if text:
                found.setdefault(name, text)
    return found
