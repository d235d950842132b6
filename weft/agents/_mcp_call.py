"""What every action backed by an MCP server shares: its spec, and how one request fails.

A tool, the resource reader and a prompt differ only in the request they send
(``tools/call``, ``resources/read``, ``prompts/get``) and in how its answer
becomes an output; how a request that never got an answer is reported (the
call's deadline, a protocol error with its JSON-RPC code, a broken
connection, a server that cannot start) is the same for all three, and lives
here once.
"""

from __future__ import annotations

from typing import Any

from weft.agents._deadline import within_deadline
from weft.agents._mcp_connection import (
    McpConnection,
    McpServerError,
    McpUnauthorized,
    describe,
)
from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionFailed,
    ActionResult,
    ActionSpec,
    NeedsInput,
)

__all__ = ["McpAction"]


class McpAction:
    """An action whose calls are requests to one MCP server over its shared connection.

    ``key`` is the action's name on the server's side, without a prefix (the
    tool's name, ``read_resource``, ``prompt.<name>``): ``McpTools`` is indexed by it.
    Subclasses say what to send (``_send``) and what its answer means (``_result``).
    """

    #: What the action is, for messages: ``MCP tool``, ``MCP prompt``...
    what = "MCP request"

    def __init__(self, connection: McpConnection, key: str, spec: ActionSpec) -> None:
        self.connection = connection
        self.key = key
        self._spec = spec

    @property
    def spec(self) -> ActionSpec:
        return self._spec

    @property
    def name(self) -> str:
        return self._spec.name

    def __repr__(self) -> str:
        return f"<{self.what} {self.key} of {self.connection.target.label}>"

    @property
    def where(self) -> str:
        """Where this action's calls run, as summaries show it: ``mcp SERVER`` (its URL or
        command line). Every result names it in ``ActionResult.agent``."""
        return f"mcp {self.connection.target.label}"

    def _label(self) -> str:
        return f"{self.what} '{self.key}' of {self.connection.target.label}"

    async def _send(self, call: ActionCall, ctx: ActionContext | None) -> Any:
        """The SDK's answer to this action's request for ``call``."""
        raise NotImplementedError

    def _result(self, call_id: str, answer: Any) -> ActionResult:
        """The SDK's answer as this action's result."""
        raise NotImplementedError

    async def invoke(self, call: ActionCall, ctx: ActionContext | None = None) -> ActionResult:
        """Send the request once; failures become error results (cancellation passes).
        The result names the server (``where``): the work ran there, not here."""
        result = await self._invoke(call, ctx)
        if result.agent is None:
            result.agent = self.where
        return result

    async def _invoke(self, call: ActionCall, ctx: ActionContext | None) -> ActionResult:
        from mcp import MCPError

        try:
            answer = await within_deadline(call, self._label(), lambda: self._send(call, ctx))
        except MCPError as exc:
            failed = ActionResult.failure(call.call_id, "McpError", f"{self._label()}: {exc}")
            assert failed.error is not None
            failed.error.details["code"] = exc.code
            return failed
        except (NeedsInput, ActionFailed) as exc:  # the server asked a question (_mcp_elicit)
            return ActionResult.from_exception(call.call_id, exc, source=self._label())
        except McpUnauthorized as exc:  # another attempt sends the same token: not retryable
            return ActionResult.failure(call.call_id, "Unauthorized", str(exc))
        except McpServerError as exc:
            return ActionResult.failure(call.call_id, "McpServerError", str(exc), retryable=True)
        except ConnectionError as exc:
            return ActionResult.from_exception(call.call_id, exc, source=self._label())
        except Exception as exc:
            return ActionResult.failure(
                call.call_id, "McpError", f"{self._label()}: {describe(exc)}"
            )
        if isinstance(answer, ActionResult):
            return answer
        return self._result(call.call_id, answer)
