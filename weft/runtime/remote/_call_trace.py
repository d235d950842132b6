"""What a served call reports besides its result: its spans, and its progress while it runs.

Both go to the caller, who asks for them with user properties on the call:

- ``weft-spans: 1``: the spans the agent recorded for the call (its own span
  of the call and everything under it: nested ``ctx.invoke`` calls, LLM
  requests, remote calls it made) travel back in the result
  (``ServedResult.spans``), so that they land in the *caller's* trace store,
  wherever the agent runs. They leave the agent cleaned as the trace store
  cleans spans (``SpanCodec``: secrets masked, long values cut) and bounded:
  at most ``MAX_SPANS`` are kept, and only as many as fit ``SPAN_BYTES``
  (less when the result itself is large, so the reply stays under the bus's
  ``max_payload``); the agent's own span of the call goes first, and
  ``spans_dropped`` counts what was left out.
- ``weft-progress: 1``: each ``ctx.progress`` report is sent at once as a
  ``ProgressEvent`` reply (``weft-kind: progress``, the call's Correlation
  Data), in order, by one sender per call; the result waits until they are
  out (at most ``FLUSH_TIMEOUT``), so a caller sees them before it. Past
  ``MAX_LIVE_PROGRESS`` reports a call's progress is no longer sent live (it
  is still in ``ActionResult.progress``).
- ``weft-stream: 1`` (with ``weft-progress``): the call's LLM agents stream
  their text (``weft.agents.streaming``), sent as progress too. Streamed text
  is not kept in the result and does not count towards ``MAX_LIVE_PROGRESS``;
  pieces waiting behind a slow send are merged into one reply, so the number
  of messages stays bounded by how fast the bus takes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from weft.protocols import (
    ActionResult,
    BusError,
    Message,
    MessageProperties,
    ProgressEvent,
    ServedResult,
    ServedSpan,
)
from weft.protocols.remote import (
    KIND_PROGRESS,
    KIND_PROPERTY,
    PROGRESS_PROPERTY,
    SPANS_PROPERTY,
)
from weft.protocols.streaming import DELTA_FIELD, STREAM_PROPERTY, is_text_delta
from weft.runtime.bus.base import Bus
from weft.runtime.support.secrets import scrub
from weft.runtime.tracing.span_codec import SpanCodec, encode_json
from weft.runtime.tracing.spans import SpanRecord

log = logging.getLogger(__name__)

#: Most spans one call keeps to send back.
MAX_SPANS = 512
#: Most bytes of spans (as JSON) one result carries.
SPAN_BYTES = 256 * 1024
#: Longest attribute value (JSON chars) in a returned span; an LLM span's messages get more.
SPAN_MAX_CHARS = 2048
SPAN_MAX_CONTENT_CHARS = 8192
#: Most progress reports of one call sent live.
MAX_LIVE_PROGRESS = 1000
#: Longest wait for the progress still being sent before the result goes out (seconds).
FLUSH_TIMEOUT = 5.0

Sender = Callable[[ProgressEvent], Awaitable[None]]

_codec: SpanCodec | None = None


def _span_codec() -> SpanCodec:
    global _codec
    if _codec is None:
        _codec = SpanCodec(max_chars=SPAN_MAX_CHARS, max_content_chars=SPAN_MAX_CONTENT_CHARS)
    return _codec


class CallTrace:
    """The spans and progress of one served call (shared by the contexts of its nested calls)."""

    def __init__(
        self, *, keep_spans: bool = False, send: Sender | None = None, stream: bool = False
    ) -> None:
        self.keep_spans = keep_spans
        #: Whether the caller asked for the text of the call's LLM agents as it comes.
        self.stream = stream and send is not None
        self.spans: list[SpanRecord] = []
        self.dropped = 0
        self._send = send
        self._queue: list[ProgressEvent] = []
        self._sender: asyncio.Task[None] | None = None
        self._sent = 0
        self._loop = asyncio.get_running_loop()

    @classmethod
    def for_message(cls, bus: Bus, message: Message) -> CallTrace | None:
        """The trace the call in ``message`` asked for, or None when it asked for neither."""
        user = message.properties.user_properties
        keep_spans = user.get(SPANS_PROPERTY) == "1"
        live = user.get(PROGRESS_PROPERTY) == "1" and bool(message.properties.response_topic)
        if not keep_spans and not live:
            return None
        properties = MessageProperties(user_properties={KIND_PROPERTY: KIND_PROGRESS})

        async def send(event: ProgressEvent) -> None:  # secrets masked, as in the result
            await bus.reply(message, scrub(event).model_dump_json(), properties=properties)

        stream = user.get(STREAM_PROPERTY) == "1"
        return cls(keep_spans=keep_spans, send=send if live else None, stream=stream)

    # -- spans ------------------------------------------------------------------------

    def record(self, span: SpanRecord) -> None:
        if not self.keep_spans:
            return
        if len(self.spans) >= MAX_SPANS:
            self.dropped += 1
            return
        self.spans.append(span)

    def attach(self, result: ActionResult, max_payload: int) -> ActionResult:
        """``result`` with the call's spans, as many as fit (see the module docstring)."""
        if not self.keep_spans or not (self.spans or self.dropped):
            return result
        budget = min(SPAN_BYTES, max_payload - len(result.model_dump_json()) - 4096)
        spans, dropped = served_spans(self.spans, budget)
        return ServedResult(
            **{name: getattr(result, name) for name in ActionResult.model_fields},
            spans=spans,
            spans_dropped=dropped + self.dropped,
        )

    # -- progress ---------------------------------------------------------------------

    def progress(self, event: ProgressEvent) -> None:
        """Send ``event`` to the caller soon, after those before it; safe from any thread."""
        delta = is_text_delta(event.data)
        if self._send is None or (self._sent >= MAX_LIVE_PROGRESS and not delta):
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not self._loop:
            self._loop.call_soon_threadsafe(self.progress, event)
            return
        last = self._queue[-1] if self._queue else None
        if (
            delta
            and last is not None
            and is_text_delta(last.data)
            and last.call_id == event.call_id
        ):
            joined = str(last.data.get(DELTA_FIELD, "")) + str(event.data.get(DELTA_FIELD, ""))
            last.data = {**last.data, DELTA_FIELD: joined}  # merged: behind a slow send
            return
        self._sent += 0 if delta else 1
        self._queue.append(event)
        if self._sender is None or self._sender.done():
            self._sender = self._loop.create_task(self._drain(), name="weft-call-progress")

    async def _drain(self) -> None:
        assert self._send is not None
        while self._queue:
            event = self._queue.pop(0)
            try:
                await self._send(event)
            except BusError as exc:  # progress is best effort: the result still goes out
                log.debug("progress of call %s not sent: %s", event.call_id, exc)

    async def flush(self, timeout: float = FLUSH_TIMEOUT) -> None:
        """Wait until the progress reported so far is sent (or ``timeout`` passed)."""
        sender = self._sender
        if sender is None or sender.done():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.shield(sender)


def served_spans(spans: list[SpanRecord], budget: int) -> tuple[list[ServedSpan], int]:
    """``spans`` cleaned for the wire, the call's own span first, within ``budget`` bytes.

    The call's own span is the last one recorded (it ends after what it
    contains); the others follow in the order they started. Returns the
    spans kept and how many were left out.
    """
    if not spans:
        return [], 0
    ordered = [spans[-1], *sorted(spans[:-1], key=lambda s: s.start)]
    codec = _span_codec()
    kept: list[ServedSpan] = []
    used = 0
    for index, span in enumerate(ordered):
        fields, attributes = codec.clean_fields(span)
        span_id, parent_id, name, kind, start, end, status, node, agent = fields[:9]
        served = ServedSpan(
            span_id=span_id,
            parent_id=parent_id,
            name=name,
            kind=kind,
            start=start / 1e6,
            end=end / 1e6,
            status=status,
            node=node,
            agent=agent,
            attributes=attributes,
        )
        used += len(encode_json([fields, attributes]))
        if used > budget:
            return kept, len(ordered) - index
        kept.append(served)
    return kept, 0
