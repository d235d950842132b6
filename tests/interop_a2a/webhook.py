"""A real webhook on loopback for the push notification tests: a Starlette app in uvicorn
that keeps every POST it gets (headers and JSON body), in order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from weft.runtime.interop.http_listen import listening_socket

Post = tuple[dict[str, str], dict[str, Any]]


class WebhookReceiver:
    """POSTs to ``url`` (``http://127.0.0.1:PORT/hook``) are answered 200 and kept in
    ``posts``; ``wait_for(predicate)`` returns the first one it matches. While ``gate`` is
    an unset event, POSTs wait for it before they are kept and answered."""

    def __init__(self) -> None:
        self._sock = listening_socket("127.0.0.1", 0)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.posts: list[Post] = []
        self.gate: asyncio.Event | None = None
        self._arrived = asyncio.Condition()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def _hook(self, request: Request) -> Response:
        post = (dict(request.headers), await request.json())
        if self.gate is not None:
            await self.gate.wait()
        async with self._arrived:
            self.posts.append(post)
            self._arrived.notify_all()
        return Response(status_code=200)

    async def wait_for(self, predicate: Callable[[Post], bool], timeout: float = 10.0) -> Post:
        async def first() -> Post:
            async with self._arrived:
                while True:
                    for post in self.posts:
                        if predicate(post):
                            return post
                    await self._arrived.wait()

        return await asyncio.wait_for(first(), timeout)

    def states(self) -> list[str]:
        """The task state each status update and task POSTed so far says, in order."""
        found = []
        for _, body in self.posts:
            event = body.get("statusUpdate") or body.get("task")
            if event is not None:
                found.append(event["status"]["state"])
        return found

    async def __aenter__(self) -> Self:
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        config.load()
        self._server = uvicorn.Server(config)
        self._server.lifespan = config.lifespan_class(config)
        await self._server.startup(sockets=[self._sock])
        self._task = asyncio.create_task(self._server.main_loop(), name="webhook")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        await self._task
        await self._server.shutdown(sockets=[self._sock])
        self._sock.close()


def status_is(state: str) -> Callable[[Post], bool]:
    """Matches a POSTed status update (or task) in ``state`` (``TASK_STATE_...``)."""

    def matches(post: Post) -> bool:
        event = post[1].get("statusUpdate") or post[1].get("task")
        return event is not None and event["status"]["state"] == state

    return matches
