"""The tools of an MCP server as weft actions (``from_mcp``).

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
- an error the protocol itself reports (``MCPError``: unknown tool, invalid
  parameters) is an ``error`` result of type ``McpError`` with its JSON-RPC
  code; a broken connection is a retryable ``ConnectionError`` and the next
  call reconnects; the call's deadline bounds the call (``timeout`` result).

Connections are opened once per server and process and reused by every call
(see ``_mcp_connection``); ``close()`` or ``async with`` ends one early, and
every one is closed at exit. The ``mcp`` SDK is an optional dependency (the
``mcp`` extra), imported only when a server is used.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

from weft.agents._deadline import within_deadline
from weft.agents._mcp_connection import (
    McpConnection,
    McpServerError,
    McpTarget,
    Progress,
    connection_for,
    describe,
)
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
    "McpServerError",
    "McpToolAction",
    "McpTools",
    "from_mcp",
    "to_action_result",
    "tool_spec",
]

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


class McpToolAction:
    """One tool of an MCP server as an action; calls go over the server's shared connection."""

    def __init__(self, connection: McpConnection, tool: Any, *, name: str | None = None) -> None:
        self.connection = connection
        self.tool_name: str = tool.name
        self._spec = tool_spec(tool, name)

    @property
    def spec(self) -> ActionSpec:
        return self._spec

    @property
    def name(self) -> str:
        return self._spec.name

    def __repr__(self) -> str:
        return f"<mcp tool {self.tool_name} of {self.connection.target.label}>"

    def _label(self) -> str:
        return f"MCP tool '{self.tool_name}' of {self.connection.target.label}"

    async def invoke(self, call: ActionCall, ctx: ActionContext | None = None) -> ActionResult:
        """Call the tool once; failures become error results (cancellation passes).

        The server's progress notifications about the call reach ``ctx.progress``.
        """
        from mcp import MCPError

        progress = None if ctx is None else _progress_to(ctx)
        try:
            result = await within_deadline(
                call,
                self._label(),
                lambda: self.connection.call(self.tool_name, dict(call.arguments), progress),
            )
        except MCPError as exc:
            failed = ActionResult.failure(call.call_id, "McpError", f"{self._label()}: {exc}")
            assert failed.error is not None
            failed.error.details["code"] = exc.code
            return failed
        except McpServerError as exc:
            return ActionResult.failure(call.call_id, "McpServerError", str(exc), retryable=True)
        except ConnectionError as exc:
            return ActionResult.from_exception(call.call_id, exc, source=self._label())
        except Exception as exc:
            return ActionResult.failure(
                call.call_id, "McpError", f"{self._label()}: {describe(exc)}"
            )
        if isinstance(result, ActionResult):
            return result
        return to_action_result(call.call_id, self._label(), result)


def _progress_to(ctx: ActionContext) -> Progress:
    """A progress callback for the MCP thread that reports on the caller's loop."""
    loop = asyncio.get_running_loop()

    def report(done: float, total: float | None, message: str | None) -> None:
        fraction = min(max(done / total, 0.0), 1.0) if total else None
        loop.call_soon_threadsafe(ctx.progress, message or "", fraction)

    return report


class McpTools(Sequence[McpToolAction]):
    """The tools of one MCP server as actions, in the server's order; indexable by name too.

    ``tools["echo"]`` is the action of the tool ``echo`` (without the prefix);
    an unknown name is a ``KeyError`` that lists the tools there are.
    """

    def __init__(self, connection: McpConnection, actions: Sequence[McpToolAction]) -> None:
        self.connection = connection
        self._actions = list(actions)
        self._by_tool = {a.tool_name: a for a in self._actions}

    @overload
    def __getitem__(self, key: int) -> McpToolAction: ...
    @overload
    def __getitem__(self, key: slice) -> Sequence[McpToolAction]: ...
    @overload
    def __getitem__(self, key: str) -> McpToolAction: ...

    def __getitem__(self, key: int | slice | str) -> Any:
        if isinstance(key, str):
            try:
                return self._by_tool[key]
            except KeyError:
                raise KeyError(
                    f"MCP server {self.connection.target.label} has no tool '{key}' "
                    f"(it has: {', '.join(self._by_tool) or 'none'})"
                ) from None
        return self._actions[key]

    def __len__(self) -> int:
        return len(self._actions)

    def __iter__(self) -> Iterator[McpToolAction]:
        return iter(self._actions)

    def names(self) -> list[str]:
        """The action names (prefixed when a prefix was given)."""
        return [a.name for a in self._actions]

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


def from_mcp(
    server: str | Sequence[str],
    *,
    prefix: str | None = None,
    tools: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    connect_timeout: float | None = None,
) -> McpTools:
    """The tools of an MCP server as actions; starts (or reaches) the server and lists them.

    ``server`` is a streamable-HTTP URL (``http://host:port/mcp``), a command
    line (``"npx -y @modelcontextprotocol/server-filesystem /data"``) or a
    command's argv as a list. ``prefix`` names the actions ``prefix.tool``;
    ``tools`` keeps only the tools named (an unknown one is an error);
    ``env`` and ``cwd`` are given to a command. Blocks while the server starts.

    Raises ``McpServerError`` when the command is not found, the server does
    not start or answer, or a tool in ``tools`` does not exist.
    """
    target = McpTarget.parse(server, env=env, cwd=cwd)
    connection = connection_for(target, connect_timeout=connect_timeout)
    listed = connection.list_tools_sync()
    if tools is not None:
        known = {t.name for t in listed}
        unknown = [name for name in tools if name not in known]
        if unknown:
            raise McpServerError(
                f"MCP server {target.label} has no tool {', '.join(map(repr, unknown))} "
                f"(it has: {', '.join(sorted(known)) or 'none'})"
            )
        listed = [t for t in listed if t.name in set(tools)]
    actions = [
        McpToolAction(connection, t, name=f"{prefix}.{t.name}" if prefix else None) for t in listed
    ]
    return McpTools(connection, actions)
