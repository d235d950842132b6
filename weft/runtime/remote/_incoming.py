"""Reading an incoming call: size, encoding, schema, each failure with its reason.

Kept apart from the agent host so that what counts as a malformed call (and
therefore a dead letter) is defined in one small, testable place.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from weft.protocols import ActionCall, DeadLetterReason, Message
from weft.runtime.bus.base import Bus

Parsed = tuple[ActionCall | None, str, DeadLetterReason, str]
"""``(call, call_id, reason, detail)``: the call, or None with why (and its id if readable)."""


def parse_call(message: Message, bus: Bus) -> Parsed:
    """The ``ActionCall`` in ``message``; never raises, whatever the payload holds.

    Size and JSON depth are checked on the bytes first (``Bus.refuse``), so
    a huge or deeply nested payload is refused before it is decoded.
    """
    refused = bus.refuse(message.payload)
    if refused is not None:
        return None, "", refused[0], refused[1]
    try:
        data = json.loads(message.payload)
    except (UnicodeDecodeError, ValueError) as exc:
        return None, "", DeadLetterReason.UNDECODABLE, f"payload is not UTF-8 JSON: {exc}"
    except RecursionError:  # only when max_json_depth was set above what Python can decode
        return None, "", DeadLetterReason.TOO_DEEP, "JSON nested too deeply to decode"
    call_id = data.get("call_id") if isinstance(data, dict) else None
    call_id = call_id if isinstance(call_id, str) else ""
    try:
        return ActionCall.model_validate(data), call_id, DeadLetterReason.INVALID_CALL, ""
    except ValidationError as exc:
        problems = validation_problems(exc)
        return None, call_id, DeadLetterReason.INVALID_CALL, f"not an ActionCall: {problems}"


def validation_problems(exc: ValidationError) -> str:
    """``field: problem; ...`` for the first five, on one line (no pydantic URL)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}"
        for e in exc.errors(include_url=False)[:5]
    )
