"""The tools of an MCP server as weft actions (``from_mcp``, ``from_mcp_async``).

A user with an MCP server (a command that speaks MCP on stdio, or a
streamable-HTTP URL) should not write glue to use its tools in a workflow,
offer them to an ``LLMAgent`` or serve them on the bus: ``from_mcp`` starts or
reaches the server through the official ``mcp`` SDK, lists its tools and
gives one action per tool. The result is a sequence of actions, so it goes
wherever a list of actions does (``LLMAgent(tools=...)``, ``ActionRegistry``,
``run_sync(actions=...)``).

What maps to what:

- a tool's ``name`` (with ``prefix`` and a dot before it, ``files.read_file``,
  when one is given: the YAML form names the server) is the action's name;
  ``description`` (else ``title``) its description; ``inputSchema`` its input
  schema; ``outputSchema``, when the tool declares one, its output schema;
- the capability card is built from the tool: description, the title as a
  skill, and the tool's annotations as policy tags (``read-only``,
  ``destructive``, ``idempotent``, ``open-world``), all tagged ``mcp``;
- a result with ``isError`` is an ``error`` result (type ``McpToolError``) whose
  message is the tool's text; from weft's own MCP server (``weft mcp serve``)
  it is the error as weft sent it (``ERROR_META``: type, message, retry
  advice, and the state, such as ``timeout``);
- otherwise the output is ``structuredContent`` when the server sends it (an
  object, as the spec requires: a Python server built with the SDK wraps a
  plain value as ``{"result": value}``), else the text of the content (one
  block: a string; several: a list of strings), else the content blocks as
  JSON (images, resources);
- the server's progress notifications about a call are ``ctx.progress``
  reports (``fraction`` = progress / total when the total is known);
- the server's questions during a call (elicitation) are weft's ``ask``
  (``_mcp_elicit``): answered from ``ActionCall.answers`` by order, and
  without an answer the call ends ``needs_input`` with the question;
- an error the protocol itself reports (``MCPError``: unknown tool, invalid
  parameters) is an ``error`` result of type ``McpError`` with its JSON-RPC
  code; a broken connection is a retryable ``ConnectionError`` and the next
  call reconnects; the call's deadline bounds the call (``timeout`` result);
- when the server says its tools changed (``notifications/tools/list_changed``,
  ``_mcp_changes``), it is listed again: ``McpTools`` then has the new tools
  and not the removed ones, and an action of a removed tool fails at once
  with an ``McpToolRemoved`` result naming the tool and the server; a run's
  action table follows it (``ActionTable.follow``: a YAML ``mcp:`` entry,
  ``run_workflow(actions=tools)``), so a new tool is an action by name for
  the run's later calls;
- ``token`` (an HTTP server's bearer token, ``weft mcp serve --http ...
  --token-env VAR``) is sent as ``Authorization: Bearer`` with every request;
  a server that answers 401 is an ``McpUnauthorized`` error when listing, and a
  non-retryable ``Unauthorized`` result when calling, naming the URL only.

Resources and prompts come too when asked for (``resources=True``,
``prompts=True``; YAML's ``mcp:`` always asks): one ``read_resource`` action
(``weft.agents.mcp_resources``) and a ``prompt.<name>`` action per prompt
(``weft.agents.mcp_prompts``).

``from_mcp`` blocks while the server starts and answers (scripts, compiling
a YAML workflow); ``await from_mcp_async(...)`` is the same for async code, whose
event loop runs on meanwhile (as ``await from_a2a(...)`` for an A2A agent).
Both list the server on weft's MCP thread; only the wait differs.

Connections are opened once per server and process and reused by every call
(see ``_mcp_connection``); ``close()`` or ``async with`` ends one early, and
every one is closed at exit. The ``mcp`` SDK is an optional dependency (the
``mcp`` extra), imported only when a server is used.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, overload

from weft.agents._mcp_call import McpAction
from weft.agents._mcp_connection import (
    McpCatalog,
    McpConnection,
    McpServerError,
    McpTarget,
    McpUnauthorized,
    Progress,
    connection_for,
)
from weft.agents.mcp_prompts import McpPromptAction, prompt_key
from weft.agents.mcp_resources import READ_RESOURCE, McpResourceReader
from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionKind,
    ActionResult,
    ActionSpec,
    ActionState,
    CapabilityCard,
    ErrorInfo,
)

__all__ = [
    "ERROR_META",
    "STATE_META",
    "McpAction",
    "McpPromptAction",
    "McpResourceReader",
    "McpServerError",
    "McpToolAction",
    "McpTools",
    "McpUnauthorized",
    "from_mcp",
    "from_mcp_async",
    "to_action_result",
    "tool_spec",
]

log = logging.getLogger("weft.mcp")

#: ``_meta`` key under which weft's own MCP server sends a failed call's ``ErrorInfo``,
#: so an error crosses weft -> MCP -> weft with its type and retry advice intact.
ERROR_META = "weft/error"
#: ``_meta`` key of the failed call's state (``timeout``, ``cancelled``...), beside it.
STATE_META = "weft/state"

#: ToolAnnotations hint -> the policy tag a card carries when the hint is true.
_ANNOTATION_TAGS = {
    "read_only_hint": "read-only",
    "destructive_hint": "destructive",
    "idempotent_hint": "idempotent",
    "open_world_hint": "open-world",
}


def _card(name: str, tool: Any, description: str) -> CapabilityCard:
    tags = ["mcp"]
    annotations = getattr(tool, "annotations", None)
    for hint, tag in _ANNOTATION_TAGS.items():
        if annotations is not None and getattr(annotations, hint, None):
            tags.append(tag)
    title = getattr(tool, "title", None) or (annotations.title if annotations else None)
    return CapabilityCard(
        agent_id=name, description=description, skills=[title] if title else [], tags=tags
    )


def tool_spec(tool: Any, name: str | None = None) -> ActionSpec:
    """The ``ActionSpec`` of an MCP ``Tool`` (see the module docstring for the mapping)."""
    action_name = name or tool.name
    description = tool.description or tool.title or f"MCP tool '{tool.name}'"
    input_schema = dict(tool.input_schema or {"type": "object", "properties": {}})
    input_schema.pop("title", None)
    output_schema = dict(tool.output_schema or {})
    output_schema.pop("title", None)
    return ActionSpec(
        name=action_name,
        kind=ActionKind.TOOL,
        description=description,
        input_schema=input_schema,
        output_schema=output_schema,
        card=_card(action_name, tool, description),
    )


def _content_output(content: Sequence[Any]) -> Any:
    """Unstructured content as weft output: text as strings, other blocks as JSON."""
    if not content:
        return None
    texts = [block.text for block in content if getattr(block, "type", None) == "text"]
    if len(texts) == len(content):
        return texts[0] if len(texts) == 1 else texts
    return [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in content]


def _error_text(content: Sequence[Any]) -> str:
    texts = [block.text for block in content if getattr(block, "type", None) == "text"]
    return "\n".join(texts) or "the tool reported an error without a message"


def to_action_result(call_id: str, label: str, result: Any) -> ActionResult:
    """An SDK ``CallToolResult`` as an ``ActionResult`` (``label`` names the tool)."""
    if result.is_error:
        meta = result.meta or {}
        try:
            error = ErrorInfo.model_validate(meta[ERROR_META])
            state = ActionState(meta.get(STATE_META, ActionState.ERROR))
        except (KeyError, ValueError):
            pass  # not from weft, or not understood: the tool's text is the error
        else:
            if state is not ActionState.OK:
                return ActionResult(call_id=call_id, state=state, error=error)
        return ActionResult.failure(
            call_id, "McpToolError", f"{label}: {_error_text(result.content)}"
        )
    if result.structured_content is not None:
        return ActionResult.success(call_id, result.structured_content)
    return ActionResult.success(call_id, _content_output(result.content))


class McpToolAction(McpAction):
    """One tool of an MCP server as an action; calls go over the server's shared connection."""

    what = "MCP tool"

    def __init__(self, connection: McpConnection, tool: Any, *, name: str | None = None) -> None:
        super().__init__(connection, tool.name, tool_spec(tool, name))
        self.tool_name: str = tool.name

    async def _send(self, call: ActionCall, ctx: ActionContext | None) -> Any:
        """``tools/call``; the server's progress notifications reach ``ctx.progress``.

        A tool the server's latest listing no longer has (it said its tools
        changed) is not sent: the result is an ``McpToolRemoved`` error naming it.
        """
        if not self.connection.offers(self.tool_name):
            listed = self.connection.listed
            now = ", ".join(t.name for t in listed.tools) if listed else ""
            return ActionResult.failure(
                call.call_id,
                "McpToolRemoved",
                f"{self._label()} was removed by the server (its tools now: {now or 'none'})",
            )
        progress = None if ctx is None else _progress_to(ctx)
        return await self.connection.call(
            self.tool_name, dict(call.arguments), progress, call.answers
        )

    def _result(self, call_id: str, answer: Any) -> ActionResult:
        return to_action_result(call_id, self._label(), answer)


def _progress_to(ctx: ActionContext) -> Progress:
    """A progress callback for the MCP thread that reports on the caller's loop."""
    loop = asyncio.get_running_loop()

    def report(done: float, total: float | None, message: str | None) -> None:
        fraction = min(max(done / total, 0.0), 1.0) if total else None
        loop.call_soon_threadsafe(ctx.progress, message or "", fraction)

    return report


#: Builds the actions for a listing, reusing the tool actions already made (by key).
_Build = Callable[[McpCatalog, Mapping[str, McpAction]], list[McpAction]]


class McpTools(Sequence[McpAction]):
    """The actions of one MCP server, in the server's order; indexable by name too.

    Its tools come first, then (when asked for) the resource reader and the
    prompts. ``tools["echo"]`` is the action of the tool ``echo``,
    ``tools["read_resource"]`` the reader, ``tools["prompt.review"]`` the
    prompt ``review`` (always without the prefix); an unknown name is a
    ``KeyError`` that lists the names there are.

    It follows the server: when the server says its tools changed (a
    list-changed notification), weft lists them again, and this sequence has
    the new ones and no longer the removed ones (``tools=`` still filters).
    An action of a removed tool, held elsewhere, fails with ``McpToolRemoved``.
    It is a ``LiveActions`` (``generation`` and iteration): an action table
    given it follows it, adding the new tools by name.
    ``await updated(since)`` waits for such a listing; ``generation`` is the
    one seen now.
    """

    def __init__(self, connection: McpConnection, catalog: McpCatalog, build: _Build) -> None:
        self.connection = connection
        self._build = build
        self._generation = -1
        self._by_key: dict[str, McpAction] = {}
        self._apply(catalog, connection.generation)

    def _apply(self, catalog: McpCatalog, generation: int) -> None:
        self._actions = self._build(catalog, self._by_key)
        self._by_key = {a.key: a for a in self._actions}
        self._generation = generation

    def _current(self) -> list[McpAction]:
        """The actions of the server's latest listing (rebuilt when there is a newer one)."""
        listed, generation = self.connection.listed, self.connection.generation
        if listed is not None and generation > self._generation:
            self._apply(listed, generation)
        return self._actions

    @property
    def generation(self) -> int:
        """How many times the server was listed: ``updated`` waits for it to pass a value."""
        return self.connection.generation

    async def updated(self, since: int, timeout: float = 30.0) -> None:
        """Wait until the server is listed again after ``generation`` was ``since``.

        ``TimeoutError`` when it was not within ``timeout`` seconds (the server sent
        no list-changed notification).
        """
        await self.connection.wait_listed(since, timeout)

    @overload
    def __getitem__(self, key: int) -> McpAction: ...
    @overload
    def __getitem__(self, key: slice) -> Sequence[McpAction]: ...
    @overload
    def __getitem__(self, key: str) -> McpAction: ...

    def __getitem__(self, key: int | slice | str) -> Any:
        actions = self._current()
        if isinstance(key, str):
            try:
                return self._by_key[key]
            except KeyError:
                raise KeyError(
                    f"MCP server {self.connection.target.label} has no tool '{key}' "
                    f"(it has: {', '.join(self._by_key) or 'none'})"
                ) from None
        return actions[key]

    def __len__(self) -> int:
        return len(self._current())

    def __iter__(self) -> Iterator[McpAction]:
        return iter(self._current())

    def names(self) -> list[str]:
        """The action names (prefixed when a prefix was given)."""
        return [a.name for a in self._current()]

    def __repr__(self) -> str:
        return f"<mcp server {self.connection.target.label}: {', '.join(self.names())}>"

    async def aclose(self) -> None:
        """Close the server's connection now (otherwise it closes at exit)."""
        await self.connection.aclose()

    def close(self) -> None:
        """``aclose`` outside an event loop."""
        self.connection.close()

    async def __aenter__(self) -> McpTools:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _actions_of(
    connection: McpConnection,
    catalog: McpCatalog,
    *,
    prefix: str | None,
    tools: Sequence[str] | None,
    resources: bool,
    prompts: bool,
) -> McpTools:
    """The actions ``from_mcp`` gives for what the server listed (see ``from_mcp``)."""
    target = connection.target
    if tools is not None:
        known = {t.name for t in catalog.tools}
        unknown = [name for name in tools if name not in known]
        if unknown:
            raise McpServerError(
                f"MCP server {target.label} has no tool {', '.join(map(repr, unknown))} "
                f"(it has: {', '.join(sorted(known)) or 'none'})"
            )

    def build(catalog: McpCatalog, made: Mapping[str, McpAction]) -> list[McpAction]:
        return _build(connection, catalog, made, prefix, tools, resources, prompts)

    return McpTools(connection, catalog, build)


def _build(
    connection: McpConnection,
    catalog: McpCatalog,
    made: Mapping[str, McpAction],
    prefix: str | None,
    tools: Sequence[str] | None,
    resources: bool,
    prompts: bool,
) -> list[McpAction]:
    """The actions for one listing; a tool action already made is kept when its tool is."""
    target = connection.target

    def named(key: str) -> str | None:
        return f"{prefix}.{key}" if prefix else None

    def tool_action(tool: Any) -> McpAction:
        old = made.get(tool.name)
        if isinstance(old, McpToolAction) and old.spec == tool_spec(tool, named(tool.name)):
            return old
        return McpToolAction(connection, tool, name=named(tool.name))

    listed = [t for t in catalog.tools if tools is None or t.name in set(tools)]
    actions: list[McpAction] = [tool_action(t) for t in listed]
    extras: list[McpAction] = []
    if resources and (catalog.resources or catalog.resource_templates):
        server = repr(catalog.server_name) if catalog.server_name else target.label
        extras.append(
            McpResourceReader(
                connection,
                server,
                catalog.resources,
                catalog.resource_templates,
                name=named(READ_RESOURCE),
            )
        )
    if prompts:
        extras += [
            McpPromptAction(connection, p, name=named(prompt_key(p.name)))
            for p in listed_prompts(catalog)
        ]
    keys = {a.key for a in actions}
    for extra in extras:
        if extra.key in keys:  # a tool of that very name wins: it is what the server called so
            log.warning("MCP server %s: tool '%s' hides its %r", target.label, extra.key, extra)
            continue
        actions.append(extra)
    return actions


def listed_prompts(catalog: McpCatalog) -> list[Any]:
    """The server's prompts, each name once (the first one listed wins)."""
    seen: dict[str, Any] = {}
    for prompt in catalog.prompts:
        seen.setdefault(prompt.name, prompt)
    return list(seen.values())


def from_mcp(
    server: str | Sequence[str],
    *,
    prefix: str | None = None,
    tools: Sequence[str] | None = None,
    resources: bool = False,
    prompts: bool = False,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    connect_timeout: float | None = None,
    token: str | None = None,
) -> McpTools:
    """The tools of an MCP server as actions; starts (or reaches) the server and lists them.

    ``server`` is a streamable-HTTP URL (``http://host:port/mcp``), a command
    line (``"npx -y @modelcontextprotocol/server-filesystem /data"``) or a
    command's argv as a list. ``prefix`` names the actions ``prefix.tool``;
    ``tools`` keeps only the tools named (an unknown one is an error);
    ``resources=True`` adds the action ``read_resource`` when the server has
    resources (``weft.agents.mcp_resources``), ``prompts=True`` an action
    ``prompt.<name>`` per prompt (``weft.agents.mcp_prompts``): off by
    default, because MCP meant tools for a model and resources and prompts
    for the application, and a list of actions often goes to a model whole;
    ``env`` and ``cwd`` are given to a command; ``token`` is sent to a URL as
    ``Authorization: Bearer <token>`` (a server that refuses it, or wants one
    and got none, is an ``McpUnauthorized``, which is an ``McpServerError``).

    Blocks the calling thread while the server starts and answers, so a
    running event loop stalls meanwhile: async code awaits ``from_mcp_async``.

    Raises ``McpServerError`` when the command is not found, the server does
    not start or answer, or a tool in ``tools`` does not exist; also when a
    ``token`` is given with a command.
    """
    connection = connection_for(
        McpTarget.parse(server, env=env, cwd=cwd, token=token), connect_timeout=connect_timeout
    )
    catalog = connection.catalog_sync()
    return _actions_of(
        connection, catalog, prefix=prefix, tools=tools, resources=resources, prompts=prompts
    )


async def from_mcp_async(
    server: str | Sequence[str],
    *,
    prefix: str | None = None,
    tools: Sequence[str] | None = None,
    resources: bool = False,
    prompts: bool = False,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    connect_timeout: float | None = None,
    token: str | None = None,
) -> McpTools:
    """``from_mcp`` for async code: ``await`` it, and the caller's loop runs on meanwhile.

    The server is started and listed on weft's MCP thread (as ``from_mcp``
    does); only the wait differs: this one awaits, that one blocks. The same
    arguments, the same actions and the same ``McpServerError``s; cancelling
    the await cancels the listing (a server being started is left to start,
    shared by the next request to it).
    """
    connection = connection_for(
        McpTarget.parse(server, env=env, cwd=cwd, token=token), connect_timeout=connect_timeout
    )
    catalog = await connection.catalog()
    return _actions_of(
        connection, catalog, prefix=prefix, tools=tools, resources=resources, prompts=prompts
    )
