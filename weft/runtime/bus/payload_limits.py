"""What a received payload may be before anyone decodes it: its size and its JSON depth.

A message on the bus comes from another process, maybe a broken or hostile
one. Two shapes of payload hurt a receiver before any schema is checked:
a huge one (memory, and time in the decoder), and a deeply nested one:
Python's ``json`` decoder recurses once per level and raises
``RecursionError`` near a thousand, and anything that walks the decoded value
afterwards recurses too. Both are measured here on the raw bytes, without
decoding, so that every receiver (the agent host for calls and cancels, the
call client for replies, the registry for cards) refuses them with the same
reason before it spends anything on them.
"""

from __future__ import annotations

import re
from itertools import accumulate

from weft.protocols import DeadLetterReason

DEFAULT_MAX_JSON_DEPTH = 64
"""Deepest nesting of JSON arrays and objects a bus accepts in a received payload.

A call's arguments sit two levels down (call → arguments → value) and a
result's output one level (result → output); workflow outputs are held to
``weft.protocols.results.MAX_OUTPUT_DEPTH`` (48), so every result weft itself
sends fits with room to spare. Deeper data is almost certainly a mistake or
an attack.
"""

#: A JSON string with its escapes (``\\"`` does not end it).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
#: Every byte except the four brackets, for ``bytes.translate`` to delete.
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
#: +1 for an opening bracket, -1 for a closing one.
_STEP = [0] * 256
for _open in b"[{":
    _STEP[_open] = 1
for _close in b"]}":
    _STEP[_close] = -1

Refusal = tuple[DeadLetterReason, str]
"""Why a payload is refused: the dead-letter reason and a sentence for people."""


def json_depth(payload: bytes) -> int:
    """How deeply arrays and objects nest in ``payload``, read without decoding it.

    Brackets inside strings do not count. Runs at C speed (a regex, a
    translate, an accumulate), so a full 1 MiB payload costs milliseconds;
    for malformed JSON the count is a guess, and the decoder refuses it anyway.
    """
    brackets = _STRING.sub(b"", payload).translate(None, _NOT_BRACKET)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def payload_problem(payload: bytes, *, max_bytes: int, max_depth: int) -> Refusal | None:
    """Why ``payload`` must not be decoded (too large, nested too deep), or None if it may."""
    size = len(payload)
    if size > max_bytes:
        return (
            DeadLetterReason.TOO_LARGE,
            f"payload of {size:,} bytes exceeds the limit of {max_bytes:,} bytes (max_payload)",
        )
    # Fewer brackets than the limit cannot nest deeper than it: the usual, free case.
    if payload.count(b"[") + payload.count(b"{") > max_depth:
        depth = json_depth(payload)
        if depth > max_depth:
            return (
                DeadLetterReason.TOO_DEEP,
                f"JSON nested {depth} levels deep exceeds the limit of {max_depth} "
                "(max_json_depth)",
            )
    return None
