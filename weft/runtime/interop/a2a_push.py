"""A2A push notifications from weft's HTTP server: each task update POSTed to the client's webhook.

A client registers a webhook for a task (``CreateTaskPushNotificationConfig``,
or ``configuration.taskPushNotificationConfig`` of its ``SendMessage``), and
every update of that task is POSTed there as A2A's spec has it: the body a
``StreamResponse`` (``task``, ``statusUpdate`` or ``artifactUpdate``, as a
stream carries them), ``Content-Type: application/a2a+json``, the config's
``authentication`` as ``Authorization: <scheme> <credentials>`` and its
``token`` as ``X-A2A-Notification-Token``. The configs and the POST are
``a2a-sdk``'s (``InMemoryPushNotificationConfigStore``,
``BasePushNotificationSender``); weft adds:

- which URLs are allowed (``PushPolicy``: public addresses only unless an
  allow-list names the hosts);
- delivery beside the task, not in its way (``PushRelay``): the SDK awaits
  each POST before it takes the task's next event, so a slow webhook would
  hold the task and its caller up to the timeout per update. Here each
  task's updates queue and one background task per task POSTs them in
  order. A webhook that fails (refused, down, not 2xx, timed out after 10 s)
  is logged and never fails, slows or reorders the task;
- a connection that cannot be made is tried again up to three times (at
  once, then 0.5 s and 1 s later: httpx's connect retries; nothing was sent,
  so the webhook never sees a notification twice); nothing else is retried.

Delivery is at most once per webhook and update; a server that stops waits
``grace`` seconds for what is still queued, then drops it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import httpx
from a2a.server.tasks import (
    BasePushNotificationSender,
    InMemoryPushNotificationConfigStore,
    PushNotificationConfigStore,
    PushNotificationEvent,
    PushNotificationSender,
)

from weft.runtime.interop.a2a_push_policy import PushPolicy

__all__ = ["A2aPush", "PushRelay"]

_log = logging.getLogger(__name__)

#: The spec's media type for A2A JSON (section 4.3.3 shows it on the webhook POST).
A2A_JSON = "application/a2a+json"


class PushRelay(PushNotificationSender):
    """``sender`` run in the background: each task's notifications in order, none waited for.

    ``send_notification`` (called by the SDK for every task event) returns at
    once; a task with no push config costs one look-up in ``store``.
    """

    def __init__(self, sender: PushNotificationSender, store: PushNotificationConfigStore) -> None:
        self._sender = sender
        self._store = store
        self._pending: dict[str, deque[PushNotificationEvent]] = {}
        self._drains: dict[str, asyncio.Task[None]] = {}

    async def send_notification(self, task_id: str, event: PushNotificationEvent) -> None:
        if not await self._store.get_info_for_dispatch(task_id):
            return
        snapshot = type(event)()
        snapshot.CopyFrom(event)  # the SDK may go on changing its own copy
        queue = self._pending.setdefault(task_id, deque())
        queue.append(snapshot)
        if task_id not in self._drains:
            self._drains[task_id] = asyncio.create_task(
                self._drain(task_id, queue), name=f"a2a push {task_id}"
            )

    async def _drain(self, task_id: str, queue: deque[PushNotificationEvent]) -> None:
        try:
            while queue:  # no await between the last check and the finally: nothing is lost
                event = queue.popleft()
                try:
                    await self._sender.send_notification(task_id, event)
                except Exception:  # the SDK's sender logs its own failures; this is a backstop
                    _log.warning(
                        "A2A push notification of task %s not sent", task_id, exc_info=True
                    )
        finally:
            self._drains.pop(task_id, None)
            self._pending.pop(task_id, None)

    async def idle(self) -> None:
        """Wait until every notification queued so far was delivered or given up."""
        while self._drains:
            await asyncio.wait(set(self._drains.values()))

    async def aclose(self, grace: float) -> None:
        """Give queued notifications ``grace`` seconds, then drop the rest."""
        drains = set(self._drains.values())
        if drains:
            _, late = await asyncio.wait(drains, timeout=grace)
            for drain in late:
                drain.cancel()
            if late:
                _log.warning(
                    "A2A push: %d task(s) had notifications left unsent at stop", len(late)
                )
                await asyncio.gather(*late, return_exceptions=True)


class A2aPush:
    """Push notifications of one A2A HTTP server: its policy, config store and sender.

    ``store``, ``relay`` (the sender) and ``policy.check`` (screening a URL a
    client sets) are what ``DefaultRequestHandler`` takes to turn them on;
    ``aclose`` when the server stops. ``timeout`` bounds each
    POST (A2A recommends 10 to 30 seconds).
    """

    def __init__(
        self, policy: PushPolicy | None = None, *, timeout: float = 10.0, connect_retries: int = 3
    ) -> None:
        self.policy = policy or PushPolicy()
        self.store = InMemoryPushNotificationConfigStore()
        self._client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            headers={"Content-Type": A2A_JSON},
            # an explicit transport: no proxy from the environment reroutes a webhook
            transport=httpx.AsyncHTTPTransport(retries=connect_retries),
        )
        sender = BasePushNotificationSender(
            self._client, self.store, push_url_validator=self.policy.allows
        )
        self.relay = PushRelay(sender, self.store)

    async def idle(self) -> None:
        """Wait until every notification queued so far was delivered or given up."""
        await self.relay.idle()

    async def aclose(self, grace: float = 5.0) -> None:
        """Let queued notifications go for up to ``grace`` seconds, then close the client."""
        try:
            await self.relay.aclose(grace)
        finally:
            await self._client.aclose()
