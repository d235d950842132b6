"""Telling an agent to stop a call (``CallCancel``), in the background, best effort.

``RemoteAction`` sends a cancel when its caller is cancelled and when it
moves a call away from a silent agent. Neither waits for the publish: a
call that moves is sent on at once, and a cancelled caller returns as soon
as it has the agent's spans of the call, or after ``SPANS_AFTER_CANCEL``
seconds at most. A cancel that is lost changes what the agent spends, never
a result: whatever the agent sends for the call later is ignored.

The spans: an agent answers a cancelled call with a ``cancelled`` result
that carries the spans it recorded for it (its span of the call, the LLM
request it was waiting on). A caller that asked for spans waits that long
for them, so a run stopped mid-request (Ctrl-C) keeps in its trace what the
agent was doing, as a run whose agent runs in-process does (its ``llm``
span, ``cancelled``). The wait costs one round trip through the broker
while the agent lives; a caller that did not ask for spans does not wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from weft.protocols import BusError, CallCancel, ServedResult
from weft.runtime.bus.base import Bus
from weft.runtime.remote._call_state import CallState
from weft.runtime.remote._remote_trace import record_served, wants_spans
from weft.runtime.remote.call_client import HANDED_BACK, Waiter

#: The calls' own logger: what becomes of a call is read in one place.
log = logging.getLogger("weft.runtime.remote.remote_action")

_background: set[asyncio.Task[Any]] = set()

#: Longest a cancelled caller waits for the agent's spans of the call (seconds).
SPANS_AFTER_CANCEL = 0.5

#: What a cancelled call's late result is given to (its spans, recorded by the caller).
OnResult = Callable[[ServedResult], None]


def publish_cancel(bus: Bus, name: str, agent: str, call_id: str, reason: str) -> None:
    """Tell ``agent`` to stop ``call_id`` of action ``name``."""

    async def cancel() -> None:
        payload = CallCancel(call_id=call_id, reason=reason).model_dump_json()
        try:
            await bus.publish(bus.topics.agent_cancel(agent), payload, qos=1)
        except BusError as exc:
            log.debug("%s: cancelling call %s failed: %s", name, call_id, exc)

    _in_background(cancel())


async def cancel_keeping_spans(
    bus: Bus, name: str, state: CallState, waiter: Waiter, ack_timeout: float, ctx: Any
) -> None:
    """``cancel_held``; when ``ctx`` takes spans, first wait up to ``SPANS_AFTER_CANCEL``
    for the agent's answer and record its spans under the call's span (``_remote_trace``).

    Called while the caller's task is being cancelled: a second cancel ends the wait.
    """
    if not wants_spans(ctx):
        cancel_held(bus, name, state, waiter, ack_timeout)
        return
    sent = state.attempt_sent_at or state.sent_at or time.time()

    def keep(result: ServedResult) -> None:
        record_served(ctx, state.call, result.spans, sent, time.time())

    job = cancel_held(bus, name, state, waiter, ack_timeout, keep)
    if job is not None:
        await asyncio.wait({job}, timeout=SPANS_AFTER_CANCEL)


def cancel_held(
    bus: Bus,
    name: str,
    state: CallState,
    waiter: Waiter,
    ack_timeout: float,
    on_result: OnResult | None = None,
) -> asyncio.Task[None] | None:
    """Tell the holder of ``state``'s call to stop, because the caller was cancelled.

    Sent through a pool and not acknowledged yet, wait up to ``ack_timeout``
    for the ack that may be on its way, so a call cancelled right after it
    was sent is still stopped where it runs. With ``on_result``, the agent's
    answer to the cancel is given to it if it comes within
    ``SPANS_AFTER_CANCEL`` (the caller awaits the returned task that long).
    Closes ``waiter`` when done; returns None when the call was never sent.
    """
    if state.sent_at is None:
        waiter.close()
        return None
    known = state.holder if state.returning is None else state.returning
    until = time.monotonic() + SPANS_AFTER_CANCEL

    async def cancel() -> None:
        try:
            holder = known
            async with asyncio.timeout(ack_timeout):
                while holder is None:
                    event = await waiter.next(ack_timeout)
                    if event is not None and event[0] == "result" and on_result is not None:
                        on_result(event[1])  # done before the cancel: its spans all the same
                    if event is None or event[0] in ("result", HANDED_BACK):
                        return  # never taken, or already done
                    if event[0] == "accepted":
                        holder = event[1].agent_id
                payload = CallCancel(call_id=state.call.call_id).model_dump_json()
                await bus.publish(bus.topics.agent_cancel(holder), payload, qos=1)
            if on_result is not None:
                await _answer(waiter, until, on_result)
        except (BusError, TimeoutError) as exc:
            log.debug("%s: cancelling call %s failed: %s", name, state.call.call_id, exc)
        finally:
            waiter.close()

    return _in_background(cancel())


async def _answer(waiter: Waiter, until: float, on_result: OnResult) -> None:
    """Give the agent's result to ``on_result`` if it comes before ``until`` (monotonic)."""
    while (left := until - time.monotonic()) > 0:
        event = await waiter.next(left)
        if event is None or event[0] == HANDED_BACK:
            return
        if event[0] == "result":
            on_result(event[1])
            return


def _in_background(job: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    task = asyncio.get_running_loop().create_task(job)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task
