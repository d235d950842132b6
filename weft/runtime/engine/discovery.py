"""What compiling a workflow looks up over the network, found beforehand with ``await``.

A workflow file's ``mcp:`` entries start or reach an MCP server and list its
tools; its ``a2a: mqtt://...`` entries wait for the agent's retained card on
the broker. The synchronous compiler (``weft validate``, scripts,
sub-workflows) does that by blocking, which is right there and wrong inside
a running event loop: every other task on the loop (another run, a server)
would freeze for up to the discovery timeout.

So ``compile_workflow_async`` first walks the definition (and the workflow
files it includes) and runs every discovery concurrently with ``await``
(``Discoveries.gather``), then hands the answers to the same synchronous
compile, which takes them from here instead of asking the network. A failed
discovery is kept as its exception and raised where the synchronous compile
would have raised it, so both paths give the same actions and the same
located errors; an entry that was not looked up beforehand (nothing here
for it) is looked up synchronously, as before.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from weft.agents.a2a_mqtt_action import DISCOVERY_TIMEOUT, discover_a2a_mqtt
from weft.protocols import WorkflowSpec
from weft.workflows import Workflow

if TYPE_CHECKING:  # the MCP side is imported when a workflow has an ``mcp:`` entry
    from weft.agents.mcp_action import McpTools

__all__ = ["Discoveries", "Loader", "is_mqtt_url"]

#: Loads a workflow file (``compiler.load_definition``), passed in so this module does not
#: import the compiler that imports it.
Loader = Callable[[Path], WorkflowSpec | Workflow]

T = TypeVar("T")
_McpKey = tuple[str, str, str, str | None]
_A2aKey = tuple[str, float]
#: The discoveries to run, by what they look up ("mcp" or "a2a", and that one's key).
_Jobs = dict[tuple[str, _McpKey | _A2aKey], Coroutine[Any, Any, Any]]


def is_mqtt_url(url: str) -> bool:
    """Whether an ``a2a:`` URL names an agent on an MQTT broker (discovered when compiling)."""
    return url.startswith(("mqtt://", "mqtts://"))


def mcp_key(name: str, server: str, cwd: Path, token_env: str | None) -> _McpKey:
    """An ``mcp:`` entry's identity: its actions are named after ``name``, a command runs in
    ``cwd``, a URL is sent the token in ``$token_env``."""
    return (name, server, str(cwd), token_env)


def a2a_key(url: str, timeout: float | None) -> _A2aKey:
    return (url, timeout or DISCOVERY_TIMEOUT)


class Discoveries:
    """The answers (or failures) of a workflow's discoveries, and the files it includes.

    Filled once by ``gather`` on the event loop, then read by the synchronous
    compile; not shared between compiles.
    """

    def __init__(self) -> None:
        self._mcp: dict[_McpKey, McpTools | BaseException] = {}
        self._a2a: dict[_A2aKey, dict[str, Any] | BaseException] = {}
        #: Workflow files already loaded, by resolved path: each is read (or run) once.
        self.definitions: dict[str, WorkflowSpec | Workflow] = {}

    def mcp_tools(
        self, name: str, server: str, cwd: Path, token_env: str | None = None
    ) -> McpTools | None:
        """The tools listed for this entry; its exception when listing failed; None when it
        was not looked up beforehand."""
        return _answer(self._mcp.get(mcp_key(name, server, cwd, token_env)))

    def a2a_card(self, url: str, timeout: float | None) -> dict[str, Any] | None:
        """The card read for this agent, as ``mcp_tools`` does for a server."""
        return _answer(self._a2a.get(a2a_key(url, timeout)))

    async def gather(self, spec: WorkflowSpec, base: Path, load: Loader) -> None:
        """Run every discovery of ``spec`` and of the workflow files it includes at once.

        ``base`` is the folder relative paths (and MCP commands) start from. A
        file that cannot be loaded, or that includes itself, is left for the
        compile to report at its line. Cancelling this cancels the discoveries.
        """
        jobs: _Jobs = {}
        self._collect(spec, base, load, (), jobs)
        answers = await asyncio.gather(*jobs.values(), return_exceptions=True)
        for (kind, key), answer in zip(jobs, answers, strict=True):
            if isinstance(answer, asyncio.CancelledError):
                raise answer
            if kind == "mcp":
                self._mcp[key] = answer  # type: ignore[index]
            else:
                self._a2a[key] = answer  # type: ignore[index]

    def _collect(
        self,
        spec: WorkflowSpec,
        base: Path,
        load: Loader,
        stack: tuple[str, ...],
        jobs: _Jobs,
    ) -> None:
        from weft.agents.mcp_action import from_mcp_async

        for name, ref in spec.actions.items():
            if ref.mcp is not None and ref.description is None:  # with one: refused unlisted
                # an unset token_env is left unlisted, for the compile to report at its line
                token = os.environ.get(ref.token_env) if ref.token_env else None
                key = ("mcp", mcp_key(name, ref.mcp, base, ref.token_env))
                if key not in jobs and (token or not ref.token_env):
                    jobs[key] = from_mcp_async(
                        ref.mcp, prefix=name, cwd=base, resources=True, prompts=True, token=token
                    )
            elif ref.a2a is not None and is_mqtt_url(ref.a2a):
                found = a2a_key(ref.a2a, ref.timeout)
                if ("a2a", found) not in jobs:
                    jobs["a2a", found] = discover_a2a_mqtt(ref.a2a, timeout=found[1])
            elif ref.workflow is not None:
                self._collect_file((base / ref.workflow).resolve(), load, stack, jobs)

    def _collect_file(
        self,
        path: Path,
        load: Loader,
        stack: tuple[str, ...],
        jobs: _Jobs,
    ) -> None:
        """The discoveries of an included workflow file (a YAML one: a Python file's
        builder names only objects and files, and is left to the compile)."""
        key = str(path)
        if key in stack or not path.exists():
            return
        found = self.definitions.get(key)
        if found is None:
            try:
                found = load(path)
            except Exception:  # the compile loads it again, and reports it at its line
                return
            self.definitions[key] = found
        if isinstance(found, WorkflowSpec):
            source_file = found.source.file if found.source is not None else None
            base = Path(source_file).parent if source_file else path.parent
            self._collect(found, base, load, (*stack, key), jobs)


def _answer(found: T | BaseException | None) -> T | None:
    """An answer; a failure raised (where the synchronous compile would raise it)."""
    if isinstance(found, BaseException):
        raise found
    return found
