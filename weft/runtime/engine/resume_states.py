"""Which saved states (``ActionResult.resume_state``) are journaled, and who sees them.

A call that stops ``needs_input`` may save a state to go on from
(``ActionResult.resume_state``; an ``LLMAgent`` saves its conversation). The
engine journals it with the question and hands it back on resume. Two
things about that record:

- The journal masks secrets (``weft.runtime.support.redaction``): a state
  that holds one (a pending tool call's ``password`` argument, a model
  message quoting a key a tool was called with) would come back with
  ``[REDACTED]`` in place of the secret, and the resumed call would go on
  with the mask: a tool called with the wrong password, a model shown a
  conversation that is not the one it had. Such a state is not journaled
  (``journaled_state``): the call starts again from its beginning on
  resume, with the real values, as it did before states were saved, and a
  warning says so. The secret itself is never written down. It is checked
  when the call finishes and again when the journal encodes the event (a
  secret registered in between by another call would be masked too).
- It is for the engine only: it can be large (a whole conversation) and
  says more than a run's events should. It stays out of what run listeners
  get (``for_listeners``): the CLI's display, ``weft.stream_workflow``, the
  run events published on the bus. Spans never held it.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

from weft.runtime.support.redaction import redactor

log = logging.getLogger("weft.engine")

#: The key of a ``node_finished`` event's data that holds the saved state.
RESUME_STATE: Final = "resume_state"


def journaled_state(state: dict[str, Any] | None, where: str) -> dict[str, Any] | None:
    """``state`` when the journal can keep it as it is; None (with a warning naming
    ``where``, the call's execution key) when masking would change it."""
    if state is None:
        return None
    masker = redactor()
    try:
        text = json.dumps(state)
    except (TypeError, ValueError):
        log.warning("%s: its saved state is not JSON; it is not kept", where)
        return None
    if not masker.needs_walk(text) or masker.value(state) == state:
        return state
    log.warning(
        "%s: its saved state holds a secret, which the journal would mask; it is not "
        "kept, and on resume the call starts again from its beginning with the real values",
        where,
    )
    return None


def journaled_data(data: dict[str, Any], where: str | None) -> dict[str, Any]:
    """An event's ``data`` as the journal encodes it: its saved state dropped if masking
    would change it now (a secret registered since the event was recorded)."""
    state = data.get(RESUME_STATE)
    if state is None or journaled_state(state, where or "a call") is not None:
        return data
    return {key: value for key, value in data.items() if key != RESUME_STATE}


def for_listeners(data: dict[str, Any] | None) -> dict[str, Any]:
    """An event's ``data`` as run listeners get it: without the saved state."""
    if not data:
        return {}
    if RESUME_STATE not in data:
        return data
    return {key: value for key, value in data.items() if key != RESUME_STATE}


__all__ = ["RESUME_STATE", "for_listeners", "journaled_data", "journaled_state"]
