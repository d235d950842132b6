"""Telling an agent to stop a call (``CallCancel``), in the background, best effort.

``RemoteAction`` sends a cancel when its caller is cancelled and when it
moves a call away from a silent agent. Neither may wait for the publish: a
cancelled caller must return at once, and a call that moves is sent on at
once. A cancel that is lost changes what the agent spends, never a result:
whatever the agent sends for the call later is ignored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from weft.protocols import BusError, CallCancel
from weft.runtime.bus.base import Bus
from weft.runtime.remote._call_state import CallState
from weft.runtime.remote.call_client import HANDED_BACK, Waiter

#: The calls' own logger: what becomes of a call is read in one place.
log = logging.getLogger("weft.runtime.remote.remote_action")

_background: set[asyncio.Task[Any]] = set()


def publish_cancel(bus: Bus, name: str, agent: str, call_id: str, reason: str) -> None:
    """Tell ``agent`` to stop ``call_id`` of action ``name``."""

    async def cancel() -> None:
        payload = CallCancel(call_id=call_id, reason=reason).model_dump_json()
        try:
            await bus.publish(bus.topics.agent_cancel(agent), payload, qos=1)
        except BusError as exc:
            log.debug("%s: cancelling call %s failed: %s", name, call_id, exc)

    _in_background(cancel())


def cancel_held(bus: Bus, name: str, state: CallState, waiter: Waiter, ack_timeout: float) -> None:
    """Tell the holder of ``state``'s call to stop, because the caller was cancelled.

    Sent through a pool and not acknowledged yet, wait up to ``ack_timeout``
    for the ack that may be on its way, so a call cancelled right after it
    was sent is still stopped where it runs. Closes ``waiter`` when done.
    """
    if state.sent_at is None:
        waiter.close()
        return
    known = state.holder if state.returning is None else state.returning

    async def cancel() -> None:
        try:
            holder = known
            async with asyncio.timeout(ack_timeout):
                while holder is None:
                    event = await waiter.next(ack_timeout)
                    if event is None or event[0] in ("result", HANDED_BACK):
                        return  # never taken, or already done
                    if event[0] == "accepted":
                        holder = event[1].agent_id
                payload = CallCancel(call_id=state.call.call_id).model_dump_json()
                await bus.publish(bus.topics.agent_cancel(holder), payload, qos=1)
        except (BusError, TimeoutError) as exc:
            log.debug("%s: cancelling call %s failed: %s", name, state.call.call_id, exc)
        finally:
            waiter.close()

    _in_background(cancel())


def _in_background(job: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(job)
    _background.add(task)
    task.add_done_callback(_background.discard)
