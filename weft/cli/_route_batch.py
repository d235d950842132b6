"""``weft route --batch``: the evaluation contract other tools call.

Input: a JSONL file with one ``{"text": ...}`` per line (other keys are
ignored, so a labelled file can be passed as is); optional feedback JSONL with
``{"text": ..., "agent": ..., "success": true|false}`` per line, recorded as
outcomes *before* routing. Output: one JSON object per input line, in order::

    {"text": ..., "chosen": AGENT_ID or null, "candidates": [{"agent_id": ..., "score": ...}]}

``chosen`` is null when no agent fits (best score under the router's minimum).
With the likelihood stage (``weft route``'s default when installed), the top
candidates also carry their ``likelihood`` and are ordered by score + weight x
likelihood.
Errors name the file and line and exit 2, like every CLI user mistake.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from weft.protocols import DefinitionError


def read_jsonl(path: str, required: tuple[str, ...]) -> list[dict[str, Any]]:
    """Objects of a JSONL file; blank lines are skipped; errors name file and line."""
    return [row for _, row in _numbered_rows(path, required)]


def read_feedback(path: str) -> list[tuple[str, str, bool]]:
    """(text, agent, success) triples from a feedback JSONL file."""
    out: list[tuple[str, str, bool]] = []
    for number, row in _numbered_rows(path, ("text", "agent", "success")):
        if not isinstance(row["success"], bool) or not isinstance(row["agent"], str):
            raise DefinitionError.single(
                f"{path}:{number}: 'agent' must be a string and 'success' true or false"
            )
        out.append((row["text"], row["agent"], row["success"]))
    return out


def _numbered_rows(path: str, required: tuple[str, ...]) -> list[tuple[int, dict[str, Any]]]:
    """Each object of a JSONL file with its line in the file, for errors a user can find.

    A byte-order mark is read as none: editors on Windows (and PowerShell's
    ``Out-File``) write one, and the file is no less JSONL for it. Lines end at
    ``\n`` alone (``\r\n`` too): ``str.splitlines`` would also cut at U+2028 and
    other separators that JSON allows raw inside a string
    (``json.dumps(..., ensure_ascii=False)`` writes them so).
    """
    if not Path(path).is_file():
        raise DefinitionError.single(f"{path}: no such file")
    try:
        lines = Path(path).read_bytes().decode("utf-8-sig").split("\n")
    except UnicodeDecodeError as exc:
        raise DefinitionError.single(
            f"{path}: not UTF-8 text (byte {exc.start}): expected one JSON object per line"
        ) from None
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DefinitionError.single(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DefinitionError.single(f"{path}:{number}: expected a JSON object")
        for key in required:
            if key not in row:
                raise DefinitionError.single(f"{path}:{number}: missing field '{key}'")
        if not isinstance(row["text"], str) or not row["text"].strip():
            raise DefinitionError.single(f"{path}:{number}: 'text' must be a non-empty string")
        rows.append((number, row))
    return rows


#: Subtasks routed (and printed) together: a batch's lines come out as each chunk is
#: decided, so a long batch shows progress and Ctrl-C keeps what was printed. A chunk
#: is one ``route_many`` (one embedding batch; with ``--rerank-model``, each card prompt
#: run once per chunk: about 10% more model time than one chunk for all).
BATCH_CHUNK = 64


async def route_batch(
    router: Any,
    texts: list[str],
    feedback: list[tuple[str, str, bool]],
    k: int,
    emit: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Record ``feedback`` then route ``texts``; the contract's output objects, in order,
    each also given to ``emit`` as soon as its chunk of ``BATCH_CHUNK`` is decided."""
    from weft.protocols import RouteRequest

    for text, agent, success in feedback:
        await router.record_outcome(RouteRequest(text=text), agent, success, source="feedback")
    lines: list[dict[str, Any]] = []
    for start in range(0, len(texts), BATCH_CHUNK):
        chunk = texts[start : start + BATCH_CHUNK]
        decisions = await router.route_many(RouteRequest(text=t, k=k) for t in chunk)
        for text, decision in zip(chunk, decisions, strict=True):
            line = {
                "text": text,
                "chosen": decision.chosen.agent_id if decision.chosen else None,
                "candidates": [_candidate(c) for c in decision.candidates if c.excluded is None],
            }
            lines.append(line)
            if emit is not None:
                emit(line)
    return lines


def _candidate(candidate: Any) -> dict[str, Any]:
    """One candidate of the contract: its router score, and its likelihood when the
    likelihood stage re-ranked it (the list is then ordered by score + weight x
    likelihood, so a score below the next one's is not a mistake)."""
    out: dict[str, Any] = {"agent_id": candidate.agent_id, "score": candidate.score}
    likelihood = candidate.parts.get("likelihood")
    if likelihood is not None:
        out["likelihood"] = likelihood
    return out
