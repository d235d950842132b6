"""The ``llm:`` entries of a workflow file's ``actions:``: LLM agents defined in YAML alone.

Each entry becomes a ``weft.agents.LLMAgent`` named after it, so a file needs
no Python module to hold an agent. Two things are checked when the file is
loaded rather than when the agent first runs, so ``weft validate`` catches
them at their line:

- ``api_key_env`` names a variable that is set (its value is registered as
  a secret at once, so no journal entry, trace or log line holds it);
- every name in ``tools`` is an action of the workflow (once all of the
  file's actions, the caller's and those of MCP servers are known), with
  close names suggested and the known ones listed;
- ``output_schema`` is a valid JSON Schema (the error is placed at the line
  of the part that is wrong), and ``tool_choice`` is auto, required, none or
  one of the entry's ``tools``;
- ``parallel_tool_calls`` comes with ``tools`` (it is sent with them only);
- every one of ``examples`` is an input/output pair whose output fits
  ``output_schema`` when there is one (the error at that example's line);
- every name in ``handoffs`` is an action of the workflow (as ``tools``),
  and each is bound to that action once all are known, so an ``llm:`` target
  takes over the conversation;
- every ``input_checks``/``output_checks`` entry imports (``module:function``)
  and can be called as a check;
- ``session.path`` is relative to the workflow file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jsonschema import SchemaError

from weft.agents import LLMAgent
from weft.agents.examples import InvalidExample
from weft.agents.llm_checks import Check, answer_checks
from weft.agents.output_contract import check_json_schema
from weft.agents.sessions import MemorySession, SessionStore, SQLiteSession
from weft.protocols import ActionRef, DefinitionError, Location, WorkflowSpec, locate
from weft.protocols.hints import did_you_mean
from weft.protocols.llm_action import LlmSessionSpec
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.engine.importing import import_object, workflow_folders
from weft.runtime.support.secrets import secret

__all__ = ["check_llm_handoffs", "check_llm_tools", "llm_action"]

#: How many known action names an unknown tool's error lists at most.
_LISTED = 20
#: The types a JSON Schema's ``type`` may name, listed when it names another.
_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")


def llm_action(name: str, ref: ActionRef, spec: WorkflowSpec) -> LLMAgent:
    """The agent the ``llm:`` entry ``name`` defines; ``DefinitionError`` at the line
    of ``api_key_env`` when the variable it names is not set, of the wrong part of
    ``output_schema``, or of a ``tool_choice`` that is none of the entry's tools."""
    llm = ref.llm
    assert llm is not None
    if llm.output_schema is not None:
        _check_schema(name, llm.output_schema, spec)
    if llm.tool_choice is not None:
        # a handoff is offered as a tool too: `required` or `transfer_to_X` forces one
        transfers = [f"transfer_to_{h}" for h in llm.handoffs]
        _check_tool_choice(name, llm.tool_choice, [*llm.tools, *transfers], spec)
    if llm.parallel_tool_calls is not None and not llm.tools:
        raise DefinitionError.single(
            f"action '{name}': parallel_tool_calls: the agent has no 'tools' "
            "(it says whether the model may call several at once)",
            locate(spec.source, ("actions", name, "llm", "parallel_tool_calls")),
        )
    try:
        return _agent(name, ref, spec)
    except InvalidExample as exc:
        inner: tuple[str | int, ...] = (exc.index,) + ((exc.field,) if exc.field else ())
        raise DefinitionError.single(
            f"action '{name}': {exc}",
            locate(spec.source, ("actions", name, "llm", "examples", *inner)),
        ) from None


def _agent(name: str, ref: ActionRef, spec: WorkflowSpec) -> LLMAgent:
    llm = ref.llm
    assert llm is not None
    return LLMAgent(
        name,
        instructions=llm.instructions,
        description=ref.description or "",
        model=llm.model,
        base_url=llm.base_url,
        api_key=_api_key(name, llm.api_key_env, spec),
        temperature=llm.temperature,
        max_tokens=llm.max_tokens,
        tools=list(llm.tools),
        max_turns=llm.max_turns,
        output_type=llm.output_schema,
        max_repairs=llm.max_repairs,
        tool_choice=llm.tool_choice or "auto",
        stream=llm.stream,
        skills=list(llm.skills),
        parallel_tool_calls=llm.parallel_tool_calls,
        examples=[example.model_dump() for example in llm.examples] or None,
        handoffs=list(llm.handoffs),
        max_handoffs=llm.max_handoffs,
        session=_session(llm.session, spec),
        input_checks=_checks(name, "input_checks", llm.input_checks, spec),
        output_checks=_checks(name, "output_checks", llm.output_checks, spec),
    )


def _session(session: LlmSessionSpec | None, spec: WorkflowSpec) -> SessionStore | None:
    """The store ``session:`` describes; its ``path`` is relative to the workflow file."""
    if session is None:
        return None
    if session.path is None:
        return MemorySession(max_turns=session.max_turns, conversation_id=session.conversation_id)
    source = spec.source.file if spec.source is not None else None
    base = Path(source).parent if source else Path.cwd()
    return SQLiteSession(
        base / session.path, max_turns=session.max_turns, conversation_id=session.conversation_id
    )


def _checks(name: str, option: str, refs: list[str], spec: WorkflowSpec) -> list[Check]:
    """The functions ``refs`` name, imported now (the caller holds the file's import paths);
    ``DefinitionError`` at the entry's line for one that is missing or no check."""
    found: list[Check] = []
    for index, ref in enumerate(refs):
        where = locate(
            spec.source,
            ("actions", name, "llm", option, index),
            field_name=f"actions.{name}.llm.{option}[{index}]",
        )
        obj = import_object(ref, where=where, folders=workflow_folders(spec))
        try:
            answer_checks([obj], option)
        except TypeError as exc:
            shown = str(exc).replace(f"{option}[0]", f"{option}[{index}]", 1)
            raise DefinitionError.single(f"action '{name}': {shown}", where) from None
        found.append(obj)
    return found


def _check_schema(name: str, schema: dict[str, Any], spec: WorkflowSpec) -> None:
    try:
        check_json_schema(schema)
    except SchemaError as exc:
        inner = list(exc.path)
        shown = ".".join(str(p) for p in inner)
        hint = f" (types: {', '.join(_TYPES)})" if inner and inner[-1] == "type" else ""
        raise DefinitionError.single(
            f"action '{name}': output_schema{': ' + shown if shown else ''}: "
            f"not a valid JSON Schema: {exc.message}{hint}",
            locate(spec.source, ("actions", name, "llm", "output_schema", *inner)),
        ) from None


def _check_tool_choice(name: str, choice: str, tools: list[str], spec: WorkflowSpec) -> None:
    if choice in ("auto", "none"):
        return
    if choice == "required":
        if tools:
            return
        problem = (
            "'required' makes the model call a tool, but the agent has no 'tools' nor 'handoffs'"
        )
    elif choice in tools:
        return
    else:
        listed = f"tools: {', '.join(tools) or 'none'}"
        problem = (
            f"'{choice}' is neither auto, required, none nor one of the agent's tools"
            f"{did_you_mean(choice, tools, then=listed)}"
        )
    raise DefinitionError.single(
        f"action '{name}': tool_choice: {problem}",
        locate(spec.source, ("actions", name, "llm", "tool_choice")),
    )


def _api_key(name: str, var: str | None, spec: WorkflowSpec) -> str | None:
    if var is None:
        return None  # OPENAI_API_KEY, read when the agent calls its model
    value = os.environ.get(var)
    if not value:
        raise DefinitionError.single(
            f"action '{name}': api_key_env: the environment variable {var} is not set "
            "(it must hold the API key of the model's endpoint)",
            locate(spec.source, ("actions", name, "llm", "api_key_env")),
        )
    return secret(value)


def check_llm_tools(spec: WorkflowSpec, registry: ActionTable) -> None:
    """Every tool an ``llm:`` entry names is an action here; else one problem per
    unknown name, at its line in ``tools``."""
    _check_names(spec, registry, "tools", "tool")


def check_llm_handoffs(spec: WorkflowSpec, registry: ActionTable) -> None:
    """Every handoff an ``llm:`` entry names is an action here (else one problem per
    unknown name, at its line in ``handoffs``), and every agent's handoffs given by name
    (a file's, or a Python ``LLMAgent(handoffs=["billing"])``) are bound to those
    actions, so that an LLM agent target takes over the conversation."""
    _check_names(spec, registry, "handoffs", "handoff")
    for name in registry.names():  # a Python agent's handoffs by name are bound too
        agent = registry.get(name)
        if isinstance(agent, LLMAgent) and any(isinstance(h.target, str) for h in agent.handoffs):
            agent.bind_handoffs(lambda target: registry.get(target) if target in registry else None)


def _check_names(spec: WorkflowSpec, registry: ActionTable, option: str, word: str) -> None:
    known = sorted(registry.names())
    problems: list[tuple[str, Location]] = []
    for name, ref in spec.actions.items():
        if ref.llm is None:
            continue
        for index, tool in enumerate(getattr(ref.llm, option)):
            if tool in known:
                continue
            shown = ", ".join(known[:_LISTED]) + (", ..." if len(known) > _LISTED else "")
            hint = did_you_mean(tool, known, then=f"known: {shown or 'none'}")
            where = locate(
                spec.source,
                ("actions", name, "llm", option, index),
                field_name=f"actions.{name}.llm.{option}[{index}]",
            )
            problems.append(
                (
                    f"action '{name}': {word} '{tool}' is no action of this workflow{hint}",
                    where,
                )
            )
    if problems:
        raise DefinitionError(problems)
