"""An MCP server's resources as one weft action, ``read_resource`` (``from_mcp(resources=True)``).

MCP resources are data a server lets a client read by URI (files, rows,
API objects), listed by ``resources/list`` or described by URI templates
(``resources/templates/list``). One action per resource would not do: the
list can be long, can change, and templates name infinitely many. So a
server's resources are one action taking a ``uri``:

- its description lists the resources (URI, name, description, MIME type)
  and the templates, up to ``LISTED_RESOURCES`` of them, so a model or a
  reader of ``weft actions`` sees what can be read; when the server lists
  only fixed resources and few of them, the ``uri`` input is an ``enum`` of
  their URIs too (with templates, a URI outside the list is valid, so no enum);
- its output is the text when the server answers with one text content,
  else the contents as JSON (``uri``, ``mimeType``, and ``text`` or base64
  ``blob``), as a tool's unstructured content is mapped;
- a URI the server does not know is the server's JSON-RPC error, an
  ``McpError`` result with its code; reads always reach the server (the
  SDK's response cache is bypassed: a resource may have changed);
- a question the server asks before it gives the resource (elicitation:
  a code, a consent) is weft's ``ask``, as for a tool (``_mcp_elicit``):
  answered from ``ActionCall.answers`` by order; without an answer the call
  ends ``needs_input`` with the question, and ``weft resume --answer`` replies.

The list is read when ``from_mcp`` connects, and again when the server says
it changed (``notifications/resources/list_changed``): the reader of
``McpTools["read_resource"]`` then describes the new list; a resource added
later can always be read by its URI.

A server that declares ``resources.subscribe`` tells a client when a
resource changes (``notifications/resources/updated``); ``subscribe(uri)``
follows one::

    async with notes["read_resource"].subscribe("notes://today") as updates:
        async for text in updates:   # the resource read again after each update
            ...

Updates that come while the last one is read are taken as one (the
notification says "changed", not what changed). A server without
subscriptions is an ``McpServerError`` on entering.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from weft.agents._mcp_call import McpAction
from weft.agents._mcp_connection import McpConnection, McpServerError, describe
from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionKind,
    ActionResult,
    ActionSpec,
    CapabilityCard,
)

__all__ = [
    "LISTED_RESOURCES",
    "READ_RESOURCE",
    "McpResourceReader",
    "ResourceUpdates",
    "resource_output",
]

#: The reader's key (``prefix.read_resource`` under a prefix).
READ_RESOURCE = "read_resource"
#: Resources and templates named in the reader's description (the rest are counted).
LISTED_RESOURCES = 50


def _line(uri: str, item: Any) -> str:
    about = item.description or item.title or item.name
    mime = f" ({item.mime_type})" if getattr(item, "mime_type", None) else ""
    return f"- {uri}{mime}: {about}" if about and about != uri else f"- {uri}{mime}"


def reader_spec(
    name: str, server: str, resources: Sequence[Any], templates: Sequence[Any]
) -> ActionSpec:
    """The reader's spec: its description lists what can be read (see the module docstring)."""
    lines = [f"Read a resource of the MCP server {server} by its URI."]
    listed = [_line(str(r.uri), r) for r in resources]
    listed += [_line(t.uri_template, t) + " [URI template]" for t in templates]
    if listed:
        lines.append("Resources:")
        lines += listed[:LISTED_RESOURCES]
        if len(listed) > LISTED_RESOURCES:
            lines.append(f"... and {len(listed) - LISTED_RESOURCES} more")
    uri: dict[str, Any] = {"type": "string", "description": "The URI of the resource to read."}
    if resources and not templates and len(resources) <= LISTED_RESOURCES:
        uri["enum"] = [str(r.uri) for r in resources]
    description = "\n".join(lines)
    return ActionSpec(
        name=name,
        kind=ActionKind.TOOL,
        description=description,
        input_schema={"type": "object", "properties": {"uri": uri}, "required": ["uri"]},
        card=CapabilityCard(
            agent_id=name,
            description=description,
            skills=[f"read {r.name}" for r in resources[:LISTED_RESOURCES]],
            tags=["mcp", "mcp-resource", "read-only"],
        ),
    )


def resource_output(contents: Sequence[Any]) -> Any:
    """``resources/read`` contents as output: one text as a string, else the contents as JSON."""
    if not contents:
        return None
    if len(contents) == 1 and getattr(contents[0], "text", None) is not None:
        return contents[0].text
    return [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in contents]


class McpResourceReader(McpAction):
    """The ``read_resource`` action of one MCP server: ``{"uri": ...}`` -> the resource."""

    what = "MCP resources"

    def __init__(
        self,
        connection: McpConnection,
        server: str,
        resources: Sequence[Any],
        templates: Sequence[Any],
        *,
        name: str | None = None,
    ) -> None:
        super().__init__(
            connection,
            READ_RESOURCE,
            reader_spec(name or READ_RESOURCE, server, resources, templates),
        )

    def _label(self) -> str:
        return f"MCP resources of {self.connection.target.label}"

    async def _send(self, call: ActionCall, ctx: ActionContext | None) -> Any:
        uri = call.arguments.get("uri")
        if not isinstance(uri, str) or not uri:
            return ActionResult.failure(
                call.call_id,
                "ValidationError",
                f"{self._label()}: 'uri' must be a non-empty string",
                field="uri",
            )
        return await self.connection.read_resource(uri, call.answers)

    def _result(self, call_id: str, answer: Any) -> ActionResult:
        return ActionResult.success(call_id, resource_output(answer.contents))

    def subscribe(self, uri: str) -> ResourceUpdates:
        """Follow the resource ``uri``: ``async with reader.subscribe(uri) as updates``
        gives the resource read again after each update the server sends."""
        return ResourceUpdates(self.connection, uri)


class ResourceUpdates:
    """The updates of one resource: an async context manager, then an async iterator.

    Entering subscribes (on weft's MCP thread) and returns once the server
    has acknowledged, so an update made after that is never missed; each
    ``anext`` waits for the next update and reads the resource (the output
    ``read_resource`` gives). Leaving unsubscribes; the iteration ends when the
    server ends the subscription. Entering raises ``McpServerError`` when the
    server offers no subscriptions or cannot be reached; a failed read raises.
    """

    def __init__(self, connection: McpConnection, uri: str) -> None:
        self.connection = connection
        self.uri = uri
        self._queue: asyncio.Queue[bool] = asyncio.Queue()
        self._running: Any = None
        self._ended = False

    async def __aenter__(self) -> ResourceUpdates:
        loop = asyncio.get_running_loop()

        def updated() -> None:
            loop.call_soon_threadsafe(self._queue.put_nowait, True)

        running, ready = self.connection.follow_resource(self.uri, updated)
        running.add_done_callback(
            lambda _: loop.call_soon_threadsafe(self._queue.put_nowait, False)
        )
        self._running = running
        try:
            await asyncio.wrap_future(ready)
        except McpServerError:
            running.cancel()
            raise
        except Exception as exc:
            running.cancel()
            raise McpServerError(
                f"MCP server {self.connection.target.label}: subscribing to {self.uri} "
                f"failed: {describe(exc)}"
            ) from None
        except BaseException:
            running.cancel()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._running is not None:
            self._running.cancel()

    def __aiter__(self) -> ResourceUpdates:
        return self

    async def __anext__(self) -> Any:
        if self._ended:
            raise StopAsyncIteration
        update = await self._queue.get()  # True: an update; False: the subscription ended
        while not self._queue.empty():  # what came meanwhile: updates are read once
            more = self._queue.get_nowait()
            update, self._ended = update or more, self._ended or not more
        if not update:
            self._ended = True
            raise StopAsyncIteration
        answer = await self.connection.read_resource(self.uri)
        return resource_output(answer.contents)
