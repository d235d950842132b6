"""weft actions as an MCP server (``weft mcp serve``), on the ``mcp`` SDK's low-level ``Server``.

Any MCP client (an IDE, another agent framework, the SDK's own ``Client``)
can then list and call weft actions as tools: local ones, or every agent
alive on a broker (the actions come from a function called on every
request, so agents that appear or vanish show up in the next ``tools/list``).

What maps to what (the reverse of ``weft.agents.mcp_action``):

- the action's name is the tool's name, its characters outside MCP's
  ``[A-Za-z0-9._-]`` replaced by ``_`` (a reverse map finds the action);
  its description (else its card's) the tool's description; its input
  schema the tool's ``inputSchema`` (always an object schema);
- an object output schema is the tool's ``outputSchema`` and an object
  output its ``structuredContent``; any other declared output schema is
  wrapped as ``{"result": ...}`` (the SDK's own convention; its ``$defs``
  moved to the wrapper's root, where its ``$ref``s point), and so is the
  output. A string output is the text content as it is; any other output is
  also given as JSON text, for clients that read only text;
- a call that does not end ``ok`` is a result with ``isError``: the text is
  ``Type: message``, and weft's ``ErrorInfo`` and state ride in ``_meta``
  under ``weft/error`` and ``weft/state``, which weft's MCP client turns back
  into the same error; a name that is no tool is the JSON-RPC error -32602 the spec
  asks for. The traceback of an exception the action raised is not sent
  but logged, unless ``send_tracebacks`` (``served_errors``);
- each call runs as ``invoke_action`` runs one (the context weft gives a
  call made outside a workflow run: nested calls by name, no journal), its
  ``ctx.progress`` reports sent to a client that asked for progress as
  ``notifications/progress`` (``mcp_progress``);
- the registered secrets (``weft.secret``, secret-looking environment
  variables, the server's token, the call's secret arguments:
  ``served_trace.register_secrets``) are masked in what goes back, result
  and progress alike, as an agent host masks what it sends over the bus;
- given a ``tracer``, each ``tools/call`` is a run in the trace store, as a
  ``weft run`` is (``served_trace``): ``served.protocol`` ``mcp``,
  ``served.client`` the client's ``clientInfo``;
- an action that asks a person (``ctx.ask``) asks the client's user by
  elicitation, and is called again with the answers until it stops asking
  (``mcp_asking``); a client without elicitation, or a declined question,
  gets the ``needs_input`` error result;
- each tool's whole ``ActionSpec`` (its capability card with skills, tags,
  cost, expected latency; its schemas) is a resource,
  ``weft://cards/{tool}``, JSON: what MCP's ``Tool`` has no field for, for a
  client that chooses between tools or a person browsing them. Reading a
  URI that names no tool is the JSON-RPC error -32602, as the SDK's servers
  answer it.

When the actions can change (a function gives them: the agents on a
broker), the server says so: it serves ``subscriptions/listen``, so it
declares ``listChanged`` for tools and resources, and ``announce()`` sends
``notifications/tools/list_changed`` (and ``resources/list_changed``: the
cards follow the tools) on every open listen stream when the tools differ
from the ones last listed; ``follow`` calls it at each change a source
reports, and every ``recheck`` seconds for changes no one reports (an agent
gone silent). A fixed table never changes, and declares nothing. A client
of an earlier revision (the ``initialize`` handshake) is told the same
without asking: the server declares ``listChanged`` to it too, and sends the
notifications on its connection once it has listed the tools.

Prompts are not offered: an MCP prompt is a template the *client's* model
fills in, and a weft action is something that runs. The nearest thing, an
``LLMAgent``'s instructions, would hand a client the agent's system prompt
without its tools, model settings or output checks, so a client would get a
weaker copy of the agent than the tool that calls it.

``McpActionServer.run_stdio()`` serves on stdin/stdout (nothing else may
write to stdout: ``claim_stdout`` sends anything else to stderr);
``run_http(host, port)`` serves streamable HTTP at ``/mcp`` with uvicorn.
Both speak every protocol revision the SDK does, the stateless 2026-07-28
one included. Given a ``token``, the HTTP server
answers only requests carrying ``Authorization: Bearer <token>``; any other
gets 401 (``http_auth.BearerAuth``). A stdio server has no token: whoever
starts the process is its only client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, BinaryIO

from weft.agents.mcp_action import ERROR_META, STATE_META
from weft.protocols import ActionCall, ActionResult, ActionSpec, ErrorInfo, RunState, WeftError
from weft.protocols.bearer import check_token
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.engine.capability import card_of
from weft.runtime.interop.http_auth import BearerAuth
from weft.runtime.interop.http_listen import listening_socket
from weft.runtime.interop.mcp_asking import SavedStates, ask_through
from weft.runtime.interop.mcp_progress import ProgressRelay, invoke_reporting
from weft.runtime.interop.served_errors import for_client
from weft.runtime.interop.served_trace import ServedTraces, mcp_client, register_secrets
from weft.runtime.support.secrets import scrub_result, secret
from weft.runtime.tracing.spans import Tracer

__all__ = [
    "CARD_URI",
    "McpActionServer",
    "McpServeError",
    "claim_stdout",
    "to_call_tool_result",
    "tool_name",
]


class McpServeError(WeftError):
    """An MCP server for weft actions cannot be served (the address is taken...)."""


_INVALID = re.compile(r"[^A-Za-z0-9._-]")

#: Where a server's actions come from: a fixed table, or one read at each request.
ActionSource = ActionTable | Callable[[], ActionTable]

#: ``subscribe(changed) -> unsubscribe``: how ``follow`` hears that the actions may have changed.
ChangeSource = Callable[[Callable[[], None]], Callable[[], None]]

#: Seconds between two checks of the served tools when no change is reported.
RECHECK = 5.0


def tool_name(action: str) -> str:
    """``action`` as a valid MCP tool name (SEP-986: ``[A-Za-z0-9._-]{1,128}``)."""
    return _INVALID.sub("_", action)[:128] or "tool"


def _object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    params = dict(schema) if schema else {}
    params.pop("$schema", None)
    if params.get("type") != "object":
        params["type"] = "object"
    params.setdefault("properties", {})
    return params


def _output_schema(spec: ActionSpec) -> tuple[dict[str, Any] | None, bool]:
    """``(outputSchema, wrapped)``: the tool's output schema, and whether outputs are wrapped."""
    schema = spec.output_schema
    if not schema:
        return None, False
    if schema.get("type") == "object":
        return schema, False
    # The definitions a schema's ``$ref``s name (``#/$defs/Point``) resolve from the
    # document's root, so they move up to the wrapper's root: left under ``result``
    # they name nothing, and a validating client (the TypeScript SDK compiles every
    # tool's output schema at ``tools/list``) fails on all the tools.
    inner = dict(schema)
    wrapper: dict[str, Any] = {"type": "object"}
    for key in ("$defs", "definitions"):
        if key in inner:
            wrapper[key] = inner.pop(key)
    wrapper["properties"] = {"result": inner}
    wrapper["required"] = ["result"]
    return wrapper, True


#: URI prefix of the capability-card resources: ``weft://cards/{tool}``.
CARD_URI = "weft://cards/"


def _text(output: Any) -> str:
    return output if isinstance(output, str) else json.dumps(output, default=str)


class McpActionServer:
    """An MCP server whose tools are weft actions; see the module docstring.

    ``token``: the bearer token HTTP requests must carry (``ValueError`` when it
    cannot be one); registered as a secret of the process, never written down.
    ``send_tracebacks``: a failed call's result keeps the traceback of what the
    action raised (for development); else it is only logged (``served_errors``).
    ``tracer``: each call is a run in it (``served_trace``; ``weft mcp serve`` gives
    the default trace store); the server does not close it.
    """

    def __init__(
        self,
        actions: ActionSource,
        *,
        name: str = "weft",
        instructions: str | None = None,
        token: str | None = None,
        send_tracebacks: bool = False,
        tracer: Tracer | None = None,
    ) -> None:
        from weft import __version__

        self._token = None if token is None else secret(check_token(token, "the MCP token"))
        self._source = actions
        self.send_tracebacks = send_tracebacks
        #: Where each call is traced as a run of its own (``served_trace``); None: nowhere.
        self.traces = None if tracer is None else ServedTraces(tracer, "mcp")
        self.name = name
        self.instructions = instructions
        self.version = __version__
        self._server: Any = None
        self._events: Any = None  # the SDK's subscription bus, when the actions can change
        self._shown: str | None = None  # the tools as last listed to a client (JSON)
        self._legacy: weakref.WeakSet[Any] = weakref.WeakSet()  # handshake-era connections
        #: What actions saved when they asked, between two 2026-07-28 rounds (``mcp_asking``).
        self._saved = SavedStates()

    @property
    def token_required(self) -> bool:
        """Whether HTTP requests must carry the bearer token."""
        return self._token is not None

    def actions(self) -> ActionTable:
        """The actions served now."""
        return self._source() if callable(self._source) else self._source

    @property
    def changes(self) -> bool:
        """Whether the served actions can change (a function gives them), so it is declared."""
        return callable(self._source)

    @staticmethod
    def _fingerprint(tools: list[Any]) -> str:
        dumped = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
        return json.dumps(sorted(dumped, key=lambda t: t["name"]), sort_keys=True)

    async def announce(self) -> bool:
        """Tell listening clients the tools changed, if they differ from the ones last listed.

        True when it told them. Nothing is sent before a client listed the tools,
        nor twice for one change (the next ``tools/list`` is the new baseline).
        """
        if self._events is None or self._shown is None:
            return False
        now = self._fingerprint(self.tools())
        if now == self._shown:
            return False
        from mcp.server.subscriptions import ResourcesListChanged, ToolsListChanged

        self._shown = now
        await self._events.publish(ToolsListChanged())
        await self._events.publish(ResourcesListChanged())
        for connection in list(self._legacy):
            try:
                await connection.send_tool_list_changed()
                await connection.send_resource_list_changed()
            except Exception:  # that client is gone
                self._legacy.discard(connection)
        return True

    async def follow(self, subscribe: ChangeSource, recheck: float = RECHECK) -> None:
        """``announce`` at each change ``subscribe`` reports, and every ``recheck`` seconds.

        Runs until cancelled. ``subscribe(changed)`` registers a callback (run on
        this loop: the ``LiveRegistry.listen`` of the agents served, say) and
        returns its unsubscribe.
        """
        changed = asyncio.Event()
        unsubscribe = subscribe(changed.set)
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(recheck):
                        await changed.wait()
                changed.clear()
                await self.announce()
        finally:
            unsubscribe()

    def _tools_by_name(self) -> dict[str, tuple[str, ActionSpec]]:
        """Tool name -> (action name, spec); names that sanitise alike get a suffix."""
        tools: dict[str, tuple[str, ActionSpec]] = {}
        for action, spec in self.actions().specs().items():
            base = name = tool_name(action)
            n = 1
            while name in tools:
                n += 1
                name = f"{base[: 128 - len(str(n)) - 1]}_{n}"
            tools[name] = (action, spec)
        return tools

    def tools(self) -> list[Any]:
        """The MCP ``Tool`` of every action served now."""
        from mcp.types import Tool

        listed = []
        for name, (_, spec) in self._tools_by_name().items():
            output_schema, _wrapped = _output_schema(spec)
            description = spec.description or (spec.card.description if spec.card else "")
            listed.append(
                Tool(
                    name=name,
                    description=description or None,
                    input_schema=_object_schema(spec.input_schema),
                    output_schema=output_schema,
                )
            )
        return listed

    def resources(self) -> list[Any]:
        """The MCP ``Resource`` of every served action's card (``weft://cards/{tool}``)."""
        from mcp.types import Resource

        return [
            Resource(
                uri=f"{CARD_URI}{name}",
                name=f"{name} card",
                description=f"The spec and capability card of the action '{action}'.",
                mime_type="application/json",
            )
            for name, (action, _) in self._tools_by_name().items()
        ]

    def read_card(self, uri: str) -> Any:
        """``resources/read`` of ``weft://cards/{tool}``: the action's spec as JSON."""
        from mcp import MCPError
        from mcp.types import INVALID_PARAMS, ReadResourceResult, TextResourceContents

        found = (
            self._tools_by_name().get(uri[len(CARD_URI) :]) if uri.startswith(CARD_URI) else None
        )
        if found is None:
            raise MCPError(INVALID_PARAMS, f"Unknown resource: {uri}", {"uri": uri})
        action, spec = found
        spec = spec.model_copy(update={"card": card_of(action, spec)})  # the one routing uses
        text = json.dumps(spec.model_dump(mode="json", exclude_none=True), indent=2)
        return ReadResourceResult(
            contents=[TextResourceContents(uri=uri, mime_type="application/json", text=text)]
        )

    async def call(
        self, name: str, arguments: dict[str, Any] | None, ctx: Any = None, params: Any = None
    ) -> Any:
        """Run the action behind tool ``name``; its result as an MCP ``CallToolResult``.

        Given the request's ``ctx`` and ``params``, the action's questions are
        elicited from the client (``mcp_asking``), and the result may be an
        ``InputRequiredResult`` asking the next one; without them, a question
        ends the call as an error result.
        """
        from mcp import MCPError
        from mcp.types import INVALID_PARAMS

        found = self._tools_by_name().get(name)
        if found is None:
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {name}")
        action_name, spec = found
        table = self.actions()
        action = table.get(action_name)
        relay = ProgressRelay(_progress_sender(ctx))
        served = None
        if self.traces is not None:
            served = self.traces.start(action_name, client=mcp_client(ctx))

        async def run(answers: Sequence[Any], state: dict[str, Any] | None) -> ActionResult:
            call = ActionCall(
                action=action_name,
                arguments=arguments or {},
                answers=tuple(answers),
                resume_state=state if answers else None,
            )
            register_secrets(call, spec.input_schema)
            if served is not None:
                call = served.adopt(call)
            started = time.time()
            try:
                result = scrub_result(await invoke_reporting(action, call, table, relay, served))
            except asyncio.CancelledError:
                if served is not None:
                    served.record_cancelled(call, started)
                raise
            if served is not None:  # with its traceback: the trace is the server's
                served.record_call(call, started, result)
            return for_client(
                result, "weft mcp", send_tracebacks=self.send_tracebacks, action=action_name
            )

        try:
            async with relay:
                if ctx is None:
                    result: Any = await run((), None)
                else:
                    result = await ask_through(ctx, params, action_name, run, self._saved)
        except BaseException as exc:  # cancelled, or an MCP error while asking
            if served is not None:
                served.raised(exc, arguments or {})
            raise
        if served is not None:
            if isinstance(result, ActionResult):
                served.end(result, arguments=arguments or {})
            else:  # the SDK's InputRequiredResult: the client's user is asked
                served.end(None, state=RunState.NEEDS_INPUT, arguments=arguments or {})
        return to_call_tool_result(result, spec) if isinstance(result, ActionResult) else result

    def server(self) -> Any:
        """The SDK's low-level ``Server`` with this server's handlers (made once)."""
        if self._server is not None:
            return self._server
        from mcp.server.lowlevel import NotificationOptions, Server
        from mcp.types import (
            ListResourcesResult,
            ListResourceTemplatesResult,
            ListToolsResult,
            ResourceTemplate,
        )
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS

        async def list_tools(ctx: Any, _params: Any) -> Any:
            tools = self.tools()
            if self._events is not None:
                self._shown = self._fingerprint(tools)
                # the SDK's Connection: a request's session is per request, its connection
                # lasts (no public accessor on the low-level context yet)
                connection = getattr(ctx.session, "_connection", None)
                if connection is not None and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
                    self._legacy.add(connection)
            return ListToolsResult(tools=tools)

        async def call_tool(ctx: Any, params: Any) -> Any:
            return await self.call(params.name, params.arguments, ctx, params)

        async def list_resources(_ctx: Any, _params: Any) -> Any:
            return ListResourcesResult(resources=self.resources())

        async def list_templates(_ctx: Any, _params: Any) -> Any:
            card = ResourceTemplate(
                uri_template=CARD_URI + "{tool}",
                name="card",
                description="The spec and capability card of the action served as TOOL.",
                mime_type="application/json",
            )
            return ListResourceTemplatesResult(resource_templates=[card])

        async def read_resource(_ctx: Any, params: Any) -> Any:
            return self.read_card(str(params.uri))

        def input_schema(name: str) -> dict[str, Any] | None:
            found = self._tools_by_name().get(name)
            return None if found is None else _object_schema(found[1].input_schema)

        listen = None
        if self.changes:  # serving subscriptions/listen is what declares listChanged
            from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler

            self._events = InMemorySubscriptionBus()
            listen = ListenHandler(self._events)
        changes = self.changes

        class _Server(Server[Any]):
            """Declares ``listChanged`` to handshake-era clients when the actions can change
            (every transport builds its options with this method)."""

            def create_initialization_options(self, options: Any = None, *more: Any) -> Any:
                declared = NotificationOptions(tools_changed=True, resources_changed=True)
                return super().create_initialization_options(
                    options or (declared if changes else None), *more
                )

        self._server = _Server(
            self.name,
            version=self.version,
            instructions=self.instructions,
            get_tool_input_schema=input_schema,
            on_list_tools=list_tools,
            on_call_tool=call_tool,
            on_list_resources=list_resources,
            on_list_resource_templates=list_templates,
            on_read_resource=read_resource,
            on_subscriptions_listen=listen,
        )
        return self._server

    async def run_stdio(self, wire: BinaryIO | None = None) -> None:
        """Serve one client on stdin/stdout until it closes stdin.

        ``wire``: where the messages go, when ``claim_stdout`` took stdout for
        them; else the SDK diverts stdout itself, but only while it serves.
        """
        from mcp.server.stdio import stdio_server

        out: Any = None if wire is None else _WireWriter(wire)
        server = self.server()
        async with stdio_server(stdout=out) as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    def http_app(self, host: str = "127.0.0.1") -> Any:
        """The ASGI app serving streamable HTTP at ``/mcp`` (behind the token, if any)."""
        app = self.server().streamable_http_app(host=host)
        return app if self._token is None else BearerAuth(app, self._token)

    async def run_http(
        self, host: str, port: int, *, ready: Callable[[str], None] | None = None
    ) -> None:
        """Serve streamable HTTP at ``http://host:port/mcp`` until cancelled.

        The socket is bound before serving starts, so ``ready`` (given the URL,
        with the real port when ``port`` is 0) is called when clients can connect.
        """
        import uvicorn

        try:
            sock = listening_socket(host, port)
        except OSError as exc:
            raise McpServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        config = uvicorn.Config(self.http_app(host), log_level="warning", lifespan="on")
        if ready is not None:
            shown = f"[{host}]" if ":" in host else host
            ready(f"http://{shown}:{sock.getsockname()[1]}/mcp")
        try:
            await uvicorn.Server(config).serve(sockets=[sock])
        finally:
            sock.close()


class _WireWriter:
    """The claimed stdout as the SDK's stdio transport writes to it (``write`` and
    ``flush``, awaited in turn): each message written in a worker thread, so a
    client slow to read blocks that thread, never the event loop."""

    def __init__(self, wire: BinaryIO) -> None:
        self._wire = wire

    async def write(self, text: str) -> None:
        await asyncio.to_thread(self._wire.write, text.encode("utf-8"))

    async def flush(self) -> None:
        await asyncio.to_thread(self._wire.flush)


def claim_stdout() -> BinaryIO:
    """Keep the process's stdout for MCP's messages alone, from now on; the wire to serve on.

    MCP's stdio transport allows nothing on stdout but its messages, and user
    code prints: at import (a module's top level), in a tool (a debugging
    ``print``), from a C extension or a child process, or into Python's
    buffer, flushed at exit. The SDK diverts stdout only while it serves, so
    what is printed before, or flushed after, lands among the messages and a
    client reads lines that are no JSON. So the wire moves to a private copy
    of file descriptor 1, and fd 1 itself (``sys.stdout`` writes to it)
    points at stderr for the rest of the process. Call it before the actions
    are imported.
    """
    sys.stdout.flush()
    wire = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(wire, "wb")


def _progress_sender(ctx: Any) -> Callable[[float, float | None, str | None], Awaitable[None]]:
    """Sends a ``notifications/progress`` for the request ``ctx`` serves (the SDK sends
    nothing when the request carried no progress token); nothing without a ``ctx``."""

    async def send(progress: float, total: float | None, message: str | None) -> None:
        if ctx is not None:
            await ctx.session.report_progress(progress, total, message)

    return send


def to_call_tool_result(result: ActionResult, spec: ActionSpec) -> Any:
    """An ``ActionResult`` as an MCP ``CallToolResult`` (see the module docstring)."""
    from mcp.types import CallToolResult, TextContent

    if not result.ok:
        error = result.error or ErrorInfo(type="Failed", message=f"the call ended {result.state}")
        text = f"{error.type}: {error.message}"
        meta = {ERROR_META: error.model_dump(mode="json"), STATE_META: result.state.value}
        return CallToolResult(
            content=[TextContent(type="text", text=text)], is_error=True, _meta=meta
        )
    output = result.output
    _, wrapped = _output_schema(spec)
    structured = {"result": output} if wrapped else output if isinstance(output, dict) else None
    content: list[Any] = [] if output is None else [TextContent(type="text", text=_text(output))]
    return CallToolResult(content=content, structured_content=structured)
