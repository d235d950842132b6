"""A served call's progress (``ctx.progress``) sent to the MCP client as it is made.

An MCP client that wants progress puts a ``progressToken`` in the request's
``_meta``; the server may then send ``notifications/progress`` with that
token, a ``progress`` that MUST increase with each notification, an optional
``total`` and a ``message``. A weft report is a message and a fraction that
may be missing, repeated or smaller than the last. So report number ``n``
(1, 2, 3, ...) is sent with ``progress`` ``n``, always increasing, and a
``total`` chosen so that ``progress / total`` is its fraction (``n / f``);
a report without a fraction (or with 0) has no total. A client showing
``progress / total`` shows the action's fraction, and weft's own MCP client
reads that fraction back. A piece of streamed text (``ctx.progress`` with
``stream="text"``) has no progress of its own and is not sent.

The SDK sends nothing for a request without a token. Reports go out in the
order they were made, from one task per call, and those made before the call
ends go out before its result. Registered secrets are masked in the message,
as in the result (``mcp_server``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from weft.protocols import ActionCall, ActionResult
from weft.protocols.results import json_result
from weft.protocols.streaming import is_text_delta
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.interop.served_trace import ServedContext, ServedRun
from weft.runtime.support.redaction import redactor

__all__ = ["McpCallContext", "ProgressRelay", "invoke_reporting"]

_log = logging.getLogger(__name__)

#: ``send(progress, total, message)``: one ``notifications/progress`` to the client.
Send = Callable[[float, float | None, str | None], Awaitable[None]]

#: Seconds a finished call waits for its last reports to be sent before its result.
FLUSH_TIMEOUT = 5.0


class ProgressRelay:
    """The progress reports of one call, numbered and sent in order (module docstring).

    ``report`` is called on the event loop (a plain ``def`` tool's reports are
    handed to it); use it as an ``async with`` block around the call: leaving
    it normally sends what is still queued, leaving with an error drops it.
    """

    def __init__(self, send: Send) -> None:
        self._send = send
        self._count = 0
        self._queue: asyncio.Queue[tuple[float, float | None, str | None]] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self._closed = False

    def report(self, message: str, fraction: float | None) -> None:
        if self._closed:
            return
        self._count += 1
        total = None
        if fraction is not None and fraction > 0:
            total = self._count / min(float(fraction), 1.0)
        text = redactor().replace_secrets(message) if message else None
        self._queue.put_nowait((float(self._count), total, text))
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(
                self._run(), name="mcp progress relay"
            )

    async def _run(self) -> None:
        while True:
            progress, total, message = await self._queue.get()
            try:
                await self._send(progress, total, message)
            except Exception as exc:  # the client is gone: the call goes on without it
                _log.debug("MCP progress notification not sent: %s", exc)
            finally:
                self._queue.task_done()

    async def __aenter__(self) -> ProgressRelay:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closed = True
        pump, self._pump = self._pump, None
        if pump is None:
            return
        if exc_type is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FLUSH_TIMEOUT):
                    await self._queue.join()
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)


class McpCallContext(ServedContext):
    """The context of a call an MCP client makes: nested calls by name, no journal
    (as ``invoke_action`` gives), traced when ``served`` (``served_trace``), and its
    progress reports to the client."""

    def __init__(
        self,
        registry: ActionTable,
        call: ActionCall,
        relay: ProgressRelay,
        served: ServedRun | None = None,
    ) -> None:
        super().__init__(registry, call, served)
        self._relay = relay

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        if not is_text_delta(data):
            self._relay.report(message, fraction)


async def invoke_reporting(
    action: Any,
    call: ActionCall,
    registry: ActionTable,
    relay: ProgressRelay,
    served: ServedRun | None = None,
) -> ActionResult:
    """``invoke_action`` with the call's progress going to ``relay``: one attempt of
    ``call``, an exception the action raises an error result; traced in ``served``."""
    try:
        result = await action.invoke(call, McpCallContext(registry, call, relay, served))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        result = ActionResult.from_exception(call.call_id, exc, source=call.action)
    return json_result(result, action.spec.name)
