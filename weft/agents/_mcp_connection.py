"""One connection to an MCP server, held open by weft's MCP thread and shared by the process.

Why a thread of its own: the SDK's ``mcp.Client`` is an anyio context manager
whose task group must be entered and left by one task, on one event loop. A
weft action, though, is listed when a workflow is *compiled* (synchronously,
maybe inside a running loop) and called later from whatever loop runs the
workflow, possibly a different one for each ``run_sync``. So every connection
lives on one daemon thread's loop (``_McpThread``), which opens it, keeps it
for the life of the process and closes it; callers on any loop reach it
through ``asyncio.wrap_future``. Cancelling a caller cancels the request on
the MCP loop, and the SDK stops the call there. Starting and listing a
server has both doors: ``catalog_sync`` blocks the calling thread (for
``from_mcp`` and the compiler), ``catalog`` awaits it (``from_mcp_async``),
so async code never stalls its own loop while a server starts.

Connections are shared by target (command line or URL, with its environment
and folder): compiling the same workflow twice, or two workflows that name the
same server, start the server once. A connection that broke (the server
process died, the HTTP endpoint closed) is opened again on the next call.
``close_all`` runs at interpreter exit, so a stdio server is shut down the
way the SDK does it (stdin closed, then terminated) and never outlives weft.

A connection follows its server: when the server says its tools, resources
or prompts changed, it is listed again (``_mcp_changes``), and ``listed``
and ``generation`` are always the latest listing; ``follow_resource``
follows one resource's updates.

A server's questions during a request (elicitation, in ``tools/call``,
``prompts/get`` or ``resources/read``) reach the call that made it, whose
answers reply (``_mcp_elicit``): the client declares elicitation.

An HTTP server is reached through an HTTP client made by ``_mcp_target`` (the
SDK's own defaults), which sends the target's bearer token on every request and
notices a 401 answer, so "the server wants a token" is said as such
(``refusal``) instead of as the SDK's generic "error response".
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from weft.agents._mcp_changes import (
    ResourceWatchers,
    follow_resource,
    listen_for_changes,
    message_handler,
)
from weft.agents._mcp_elicit import Asker, Askers
from weft.agents._mcp_target import McpServerError, McpTarget, McpUnauthorized
from weft.protocols.bearer import refusal

__all__ = [
    "McpCatalog",
    "McpConnection",
    "McpServerError",
    "McpTarget",
    "McpUnauthorized",
    "close_all",
    "connection_for",
]

log = logging.getLogger("weft.mcp")

T = TypeVar("T")

#: ``(done, total, message)`` of a progress notification about a call.
Progress = Callable[[float, float | None, str | None], None]

#: Seconds to start a server and list its tools before giving up.
DEFAULT_CONNECT_TIMEOUT = 30.0
#: Seconds ``close_all`` waits at exit for the servers to shut down.
_CLOSE_TIMEOUT = 10.0


def _require_mcp() -> None:
    try:
        import mcp  # noqa: F401
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError("MCP servers need the 'mcp' package: pip install 'weft[mcp]'") from None


@dataclass(frozen=True)
class McpCatalog:
    """What a server offers, as the SDK's models, each list in the server's order."""

    tools: list[Any]
    resources: list[Any]
    resource_templates: list[Any]
    prompts: list[Any]
    #: The name the server gave itself (``None`` when it gave none).
    server_name: str | None = None


def _cause(exc: BaseException) -> BaseException:
    """The first leaf of an exception group (anyio task groups wrap what went wrong)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def describe(exc: BaseException) -> str:
    """``Type: message`` of what really went wrong, for a user-facing error."""
    leaf = _cause(exc)
    text = str(leaf)
    return f"{type(leaf).__name__}: {text}" if text else type(leaf).__name__


class _McpThread:
    """The daemon thread whose event loop owns every MCP connection of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                started = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(started.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name="weft-mcp", daemon=True)
                self._thread.start()
                started.wait()
                self._loop = loop
            return self._loop

    def in_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the MCP loop and await it from the caller's loop."""
        return await asyncio.wrap_future(self.submit(coro))

    def run_sync(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        """Run ``coro`` on the MCP loop and block for it (never from the MCP loop itself)."""
        if self.in_thread():
            coro.close()
            raise RuntimeError("a blocking MCP call was made from the MCP thread")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise


_THREAD = _McpThread()


class McpConnection:
    """A live ``mcp.Client`` to one server, opened on first use and reopened after a break.

    Every coroutine here runs on the MCP loop (``_THREAD``); the ``*_sync``
    and ``call`` methods are the doors from other threads and loops.
    """

    def __init__(self, target: McpTarget, *, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT):
        self.target = target
        self.connect_timeout = connect_timeout
        self._client: Any = None
        self._holder: asyncio.Task[None] | None = None
        self._closing: asyncio.Event | None = None
        self._opening: asyncio.Future[Any] | None = None
        #: How many 401 answers the server gave (counted by the HTTP client's hook).
        self._refusals = 0
        #: What the server offered when last listed, and how many listings there were:
        #: a list-changed notification lists it again (``_mcp_changes``).
        self.listed: McpCatalog | None = None
        self._offered: frozenset[str] | None = None  # the names of ``listed.tools``
        self.generation = 0
        self._next_listing: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._relisting: asyncio.Task[None] | None = None
        self._stale = False
        self._watchers = ResourceWatchers()
        #: The calls of this connection that may be asked a question now (``_mcp_elicit``).
        self._askers = Askers()

    def _refused(self) -> None:
        self._refusals += 1

    def _unauthorized(self) -> McpUnauthorized:
        sent = self.target.token is not None
        return McpUnauthorized(f"MCP server {refusal(self.target.label, sent_token=sent)}")

    # -- on the MCP loop ----------------------------------------------------------

    async def _client_now(self) -> Any:
        """The open client, opening it (once, for every concurrent caller) if needed."""
        if self._client is not None and self._holder is not None and not self._holder.done():
            return self._client
        if self._opening is None or self._opening.done():
            self._opening = asyncio.get_running_loop().create_future()
            self._closing = asyncio.Event()
            self._holder = asyncio.create_task(
                self._hold(self._opening, self._closing), name=f"weft-mcp {self.target.label}"
            )
        opening = self._opening
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await asyncio.shield(opening)
        except TimeoutError:
            await self._drop()
            raise McpServerError(
                f"MCP server {self.target.label} did not answer within {self.connect_timeout:g} s"
            ) from None

    async def _hold(self, opened: asyncio.Future[Any], closing: asyncio.Event) -> None:
        """Own the client's context for as long as the connection lives (one task)."""
        from mcp import Client

        refusals = self._refusals
        try:
            self.target.check()
            handler = message_handler(self._changed, self._watchers)
            async with Client(
                self.target.sdk_server(self._refused),
                message_handler=handler,
                elicitation_callback=self._askers.elicited,
            ) as client:
                self._client = client
                label = self.target.label
                follow = listen_for_changes(client, label, self._changed)
                watcher = asyncio.create_task(follow, name=f"weft-mcp changes {label}")
                try:
                    if not opened.done():
                        opened.set_result(client)
                    await closing.wait()
                finally:
                    watcher.cancel()
                    with contextlib.suppress(BaseException):
                        await watcher
        except asyncio.CancelledError:
            if not opened.done():
                opened.cancel()
            raise
        except McpServerError as exc:
            if not opened.done():
                opened.set_exception(exc)
        except BaseException as exc:  # the SDK's task groups raise groups of anything
            if not opened.done() and self._refusals > refusals:
                opened.set_exception(self._unauthorized())
            elif not opened.done():
                opened.set_exception(
                    McpServerError(
                        f"MCP server {self.target.label} could not be "
                        f"{'reached' if self.target.url else 'started'}: {describe(exc)}"
                    )
                )
            else:
                log.warning("MCP server %s connection ended: %s", self.target.label, describe(exc))
        finally:
            if self._holder is asyncio.current_task():  # not a newer connection's client
                self._client = None

    async def _drop(self) -> None:
        """Close the connection (the next call opens a new one)."""
        holder, closing, opening = self._holder, self._closing, self._opening
        if self._relisting is not None:  # a listing in flight would open it again
            self._relisting.cancel()
        self._holder = self._closing = self._opening = None
        self._client = None
        if holder is None:
            return
        if opening is not None and not opening.done():
            holder.cancel()  # still starting (a server slow to answer): nothing to close politely
        elif closing is not None:
            closing.set()
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await asyncio.shield(holder)
        except TimeoutError:
            holder.cancel()
        except BaseException as exc:  # closing must not fail the caller
            log.debug("closing MCP server %s: %s", self.target.label, describe(exc))

    async def _pages(self, fetch: Callable[[str | None], Awaitable[Any]], field: str) -> list[Any]:
        """Every item of a paginated list (``tools``, ``resources``...), page after page."""
        items: list[Any] = []
        cursor: str | None = None
        for _ in range(1000):  # a server whose pages never end cannot hang weft
            page = await fetch(cursor)
            items.extend(getattr(page, field))
            cursor = page.next_cursor
            if cursor is None:
                break
        return items

    async def _catalog(self, fresh: bool = False) -> McpCatalog:
        """Connect if needed, then list what the server offers (bounded by the connect timeout).

        Resources, templates and prompts are listed only when the server
        declares the capability, so a tools-only server is asked nothing more.
        ``fresh`` skips the SDK's response cache (after a change notification).
        The listing becomes ``listed``, the next ``generation``.
        """
        mode = "refresh" if fresh else "use"
        async with asyncio.timeout(self.connect_timeout + 5):
            client = await self._client_now()
            caps = client.server_capabilities

            async def every(method: str, field: str, offered: object = True) -> list[Any]:
                if offered is None:
                    return []
                fetch = getattr(client, method)
                return await self._pages(lambda c: fetch(cursor=c, cache_mode=mode), field)

            tools = await every("list_tools", "tools")
            resources = await every("list_resources", "resources", caps.resources)
            templates = await every("list_resource_templates", "resource_templates", caps.resources)
            prompts = await every("list_prompts", "prompts", caps.prompts)
        info = client.server_info
        catalog = McpCatalog(tools, resources, templates, prompts, info.name if info else None)
        self.listed, self._offered = catalog, frozenset(t.name for t in tools)
        self.generation += 1
        listing, self._next_listing = self._next_listing, concurrent.futures.Future()
        listing.set_result(self.generation)
        return catalog

    def _changed(self, kind: str) -> None:
        """A list changed on the server: list everything again, once per burst of changes."""
        self._stale = True
        if self._relisting is None or self._relisting.done():
            self._relisting = asyncio.create_task(
                self._relist(), name=f"weft-mcp relist {self.target.label}"
            )

    async def _relist(self) -> None:
        while self._stale:
            self._stale = False
            try:
                await self._catalog(fresh=True)
            except Exception as exc:  # the next call or listing reports a broken server
                log.warning(
                    "MCP server %s: listing again failed: %s", self.target.label, describe(exc)
                )
                return

    def offers(self, tool: str) -> bool:
        """Whether the server's latest listing has ``tool`` (true before any listing)."""
        offered = self._offered
        return offered is None or tool in offered

    async def wait_listed(self, after: int, timeout: float) -> int:
        """Wait, from any loop, for a listing newer than ``after``; ``TimeoutError`` after
        ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while (listing := self._next_listing) and self.generation <= after:
                # taken before the check, so a listing in between is never missed; shared
                # by other waiters, so shielded: never cancelled
                await asyncio.shield(asyncio.wrap_future(listing))
        return self.generation

    async def _request(self, send: Callable[[Any], Awaitable[T]]) -> T:
        """``send(client)`` on the open client; a broken connection is dropped and reported."""
        from mcp import MCPError
        from mcp.types import CONNECTION_CLOSED

        client = await self._client_now()
        refusals = self._refusals
        try:
            return await send(client)
        except MCPError as exc:
            if self._refusals > refusals:
                raise self._unauthorized() from None
            if exc.code == CONNECTION_CLOSED:
                await self._drop()
            raise
        except (OSError, EOFError) as exc:
            await self._drop()
            raise ConnectionError(f"MCP server {self.target.label}: {describe(exc)}") from exc
        except BaseExceptionGroup as exc:
            await self._drop()
            raise ConnectionError(f"MCP server {self.target.label}: {describe(exc)}") from exc

    # -- from any thread or loop ------------------------------------------------------

    def _listing_failed(self, exc: BaseException) -> McpServerError:
        if isinstance(exc, McpServerError):
            return exc
        if isinstance(exc, TimeoutError | concurrent.futures.TimeoutError):
            return McpServerError(
                f"MCP server {self.target.label}: listing its tools took over "
                f"{self.connect_timeout:g} s"
            )
        return McpServerError(
            f"MCP server {self.target.label}: listing its tools failed: {describe(exc)}"
        )

    def catalog_sync(self) -> McpCatalog:
        """What the server offers, starting the server if needed; blocks the calling thread.

        For scripts and for compiling a YAML workflow; async code awaits ``catalog``.
        """
        _require_mcp()
        try:
            return _THREAD.run_sync(self._catalog(), self.connect_timeout + 10)
        except Exception as exc:
            raise self._listing_failed(exc) from None

    async def catalog(self) -> McpCatalog:
        """What the server offers, awaited: the caller's loop runs on while the server starts."""
        _require_mcp()
        try:
            return await _THREAD.run(self._catalog())
        except Exception as exc:
            raise self._listing_failed(exc) from None

    def list_tools_sync(self) -> list[Any]:
        """The server's tools (every page), starting the server if needed; blocks."""
        return self.catalog_sync().tools

    async def list_tools(self) -> list[Any]:
        """The server's tools, awaited from any loop."""
        return (await self.catalog()).tools

    async def call(
        self,
        tool: str,
        arguments: dict[str, Any],
        progress: Progress | None = None,
        answers: Sequence[Any] = (),
    ) -> Any:
        """``tools/call`` on the server, awaited from any loop; returns the SDK's result.

        ``progress(done, total, message)`` is called for each progress notification
        the server sends about the call, on the MCP thread: it must not block.
        The server's questions (elicitation) get ``answers`` in order; one without
        an answer raises ``NeedsInput`` with it (``_mcp_elicit``).
        """
        on_progress = None
        if progress is not None:

            async def on_progress(done: float, total: float | None, message: str | None) -> None:
                progress(done, total, message)

        async def send(client: Any) -> Any:
            return await client.call_tool(tool, arguments, progress_callback=on_progress)

        return await _THREAD.run(self._askers.run(Asker(answers), self._request(send)))

    async def read_resource(self, uri: str, answers: Sequence[Any] = ()) -> Any:
        """``resources/read`` (never served from the SDK's cache: a resource may change).

        The server's questions get ``answers`` as a tool call's do (``call``).
        """

        async def send(client: Any) -> Any:
            return await client.read_resource(uri, cache_mode="bypass")

        return await _THREAD.run(self._askers.run(Asker(answers), self._request(send)))

    def follow_resource(
        self, uri: str, updated: Callable[[], None]
    ) -> tuple[concurrent.futures.Future[None], concurrent.futures.Future[None]]:
        """Follow ``uri``'s updates on the MCP thread: ``(running, ready)``.

        ``updated()`` is called on the MCP thread at each update (it must not
        block); ``ready`` is done once the server knows (or holds the error);
        cancelling ``running`` stops following.
        """
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()

        async def run() -> None:
            try:
                client = await self._client_now()
                label = self.target.label
                await follow_resource(client, label, self._watchers, uri, updated, ready)
            except Exception as exc:
                if not ready.done():
                    ready.set_exception(exc)
                raise
            finally:
                if not ready.done():
                    ready.cancel()

        return _THREAD.submit(run()), ready

    async def get_prompt(
        self, name: str, arguments: dict[str, str], answers: Sequence[Any] = ()
    ) -> Any:
        """``prompts/get``: the prompt rendered with ``arguments``; the server's questions
        get ``answers`` as a tool call's do (``call``)."""

        async def send(client: Any) -> Any:
            return await client.get_prompt(name, arguments)

        return await _THREAD.run(self._askers.run(Asker(answers), self._request(send)))

    async def aclose(self) -> None:
        """Close the connection (a stdio server process ends); the next call reopens it."""
        if self._holder is not None:
            await _THREAD.run(self._drop())

    def close(self) -> None:
        """``aclose`` for code outside any event loop."""
        if self._holder is not None and not _THREAD.in_thread():
            _THREAD.run_sync(self._drop(), _CLOSE_TIMEOUT + 5)


_CONNECTIONS: dict[McpTarget, McpConnection] = {}
_CONNECTIONS_LOCK = threading.Lock()


def connection_for(target: McpTarget, *, connect_timeout: float | None = None) -> McpConnection:
    """The process's connection to ``target`` (one per target, created on first request)."""
    with _CONNECTIONS_LOCK:
        found = _CONNECTIONS.get(target)
        if found is None:
            found = McpConnection(
                target, connect_timeout=connect_timeout or DEFAULT_CONNECT_TIMEOUT
            )
            _CONNECTIONS[target] = found
        return found


def close_all() -> None:
    """Close every MCP connection of this process (registered to run at exit)."""
    with _CONNECTIONS_LOCK:
        connections = list(_CONNECTIONS.values())
    for connection in connections:
        try:
            connection.close()
        except Exception as exc:  # pragma: no cover - best effort at exit
            log.debug("closing MCP server %s: %s", connection.target.label, describe(exc))


atexit.register(close_all)
