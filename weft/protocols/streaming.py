"""Text streamed while an action runs: how a piece of an LLM's answer travels as progress.

A streamed piece of text is an ordinary progress report (``ctx.progress``)
whose data says what it is: ``{"stream": "text", "delta": "..."}`` with an
empty message. It reuses the path progress already takes (the run's
listeners as a ``RunEvent`` of kind ``PROGRESS``; a remote agent's caller as
a ``ProgressEvent`` reply over MQTT), and everything that keeps progress for
later (the run journal, ``ActionResult.progress``, span attributes) leaves
these reports out: a 2,000-token answer must not add 2,000 records to a run.
They are coalesced where they are made (a few per 100 ms), so the rate on
the bus does not follow the model's token rate either.

A listener asks ``text_delta(event)`` for the text; ``None`` means the
event is something else. Pieces of one request arrive in order; a request
that is retried after part of its answer was streamed streams again from
its start (a progress message says that it was retried).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The ``data`` field that marks a progress report as a piece of a stream, and its value.
STREAM_FIELD = "stream"
TEXT_STREAM = "text"
#: The ``data`` field holding the piece of text.
DELTA_FIELD = "delta"
#: User property a caller sets to ``1`` to ask a remote agent to stream its LLMs' text
#: (as ``weft-progress`` replies: ``PROGRESS_PROPERTY`` must be set too).
STREAM_PROPERTY = "weft-stream"


def is_text_delta(data: Mapping[str, Any] | None) -> bool:
    """True when progress ``data`` is a piece of streamed text (kept by nothing)."""
    return bool(data) and data.get(STREAM_FIELD) == TEXT_STREAM  # type: ignore[union-attr]


def text_delta(event: Any) -> str | None:
    """The streamed text an event carries, or ``None`` when it carries none.

    ``event`` is a ``RunEvent`` (what run listeners get) or a ``ProgressEvent``
    (what a remote call's progress is): anything with a ``data`` mapping.
    """
    data = getattr(event, "data", None)
    if not isinstance(data, Mapping) or not is_text_delta(data):
        return None
    delta = data.get(DELTA_FIELD)
    return delta if isinstance(delta, str) else None


def delta_data(text: str, **extra: Any) -> dict[str, Any]:
    """The progress ``data`` that carries ``text`` as a piece of a stream."""
    return {STREAM_FIELD: TEXT_STREAM, DELTA_FIELD: text, **extra}
