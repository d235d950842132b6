"""Reading an incoming call: size, encoding, schema, each failure with its reason.

Kept apart from the agent host so that what counts as a malformed call (and
therefore a dead letter) is defined in one small, testable place.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from weft.protocols import ActionCall, DeadLetterReason, Message

Parsed = tuple[ActionCall | None, str, DeadLetterReason, str]
"""``(call, call_id, reason, detail)``: the call, or None with why (and its id if readable)."""


def parse_call(message: Message, max_payload: int) -> Parsed:
    """The ``ActionCall`` in ``message``; never raises, whatever the payload holds."""
    size = len(message.payload)
    if size > max_payload:
        detail = f"payload of {size:,} bytes exceeds this agent's limit of {max_payload:,} bytes"
        return None, "", DeadLetterReason.TOO_LARGE, detail
    try:
        data = json.loads(message.payload)
    except (UnicodeDecodeError, ValueError) as exc:
        return None, "", DeadLetterReason.UNDECODABLE, f"payload is not UTF-8 JSON: {exc}"
    call_id = data.get("call_id") if isinstance(data, dict) else None
    call_id = call_id if isinstance(call_id, str) else ""
    try:
        return ActionCall.model_validate(data), call_id, DeadLetterReason.INVALID_CALL, ""
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}"
            for e in exc.errors()[:5]
        )
        return None, call_id, DeadLetterReason.INVALID_CALL, f"not an ActionCall: {problems}"
