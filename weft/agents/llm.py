"""``LLMAgent``: an action backed by a chat model that can call other actions as tools.

The agent is an ordinary action (``spec`` + ``invoke``), so it runs as a
workflow node, is offered to other agents as a tool, or is served over the
bus like any tool. Per call it runs a bounded tool loop:

1. send the instructions and the task to the model, with the actions in
   ``tools`` offered as OpenAI function tools (resolved by name through the
   context at call time, so a remote agent or a workflow is a tool like any
   other);
2. when the model asks for tool calls, run them *concurrently* through
   ``ctx.invoke`` and feed each result back as a ``tool`` message; a failed
   tool, unknown tool or malformed arguments become an error message the
   model can react to, never an exception;
3. stop at a reply without tool calls; with ``output_type`` (a pydantic class
   or a JSON Schema dict, ``weft.agents.output_contract``) the reply must be
   JSON that validates against it (one bounded repair re-ask by default).

Usage in the result counts this agent's own model requests only: the runtime
adds the usage of the tools it called (``ActionContext.invoke`` contract), so
a run's total is the exact sum of every request made in it.

``tools`` takes names and objects alike. An object (an action such as a
``@tool`` function, another agent, or a plain function, made a tool with
``@tool``'s defaults) is offered under its action's name and travels with the
agent: ``bundled_actions`` lists them, and a run's action table registers
them with the agent (``ActionTable.register``), so a workflow that holds the
agent needs no ``actions=[...]`` for its tools, and neither does
``weft run file.py``.

``handoffs`` hand the conversation to another agent (``weft.agents.handoffs``,
run by ``weft.agents.llm_chain``); a ``session`` keeps conversations between
calls (``weft.agents.sessions``).

Failures are results, never exceptions: ``ModelNotConfigured``,
``RateLimitError`` (after retries, ``retryable``), ``InvalidOutput``,
``MaxTurnsExceeded``, ``ToolNotAvailable``, ``ValidationError``,
``MaxHandoffsExceeded``, and from the checks (``llm_checks``)
``InputRejected``, ``OutputRejected``, ``CheckFailed``...
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from weft.agents.answering import Answering
from weft.agents.chat_model import (
    ChatModel,
    ChatSession,
    ModelCallError,
    ModelPrice,
    ModelSettings,
    resolve_settings,
)
from weft.agents.examples import (
    ExampleFunction,
    ExampleSource,
    example_messages,
    example_tasks,
    fetch_examples,
    fixed_examples,
)
from weft.agents.handoffs import Handoff, Transfer, bind, handoffs_of, transfer_of
from weft.agents.llm_answer import check_answer, cut_off_of
from weft.agents.llm_chain import AgentSpans, Part, Start, run_call
from weft.agents.llm_checks import Check, CheckError, answer_checks, first_rejection
from weft.agents.llm_inputs import (
    TASK_INPUT_SCHEMA,
    assistant_message,
    check_task_arguments,
    choice_problem,
    given_conversation,
    input_schema_with_session,
    is_source,
    render_task,
    split_tools,
    turn_tool_choice,
)
from weft.agents.llm_resume import SavedConversation, agent_setup, saved_conversation
from weft.agents.llm_tool_calls import calls_of, run_turn, tool_message
from weft.agents.openai_tools import ToolSet
from weft.agents.output_contract import OutputType, output_contract
from weft.agents.sessions import SessionStore
from weft.agents.streaming import wants_stream
from weft.protocols import (
    Action,
    ActionCall,
    ActionContext,
    ActionKind,
    ActionResult,
    ActionSpec,
    CapabilityCard,
    RetryPolicy,
    Usage,
)

__all__ = [
    "TASK_INPUT_SCHEMA",
    "LLMAgent",
    "calls_of",
    "render_task",
    "run_turn",
    "split_tools",
    "tool_message",
]


class LLMAgent:
    """An agent on an OpenAI-compatible chat model; see the module docstring.

    ``model``, ``base_url``, ``api_key``, ``temperature`` and ``max_tokens``
    (or a whole ``settings``) fix the model; left unset they resolve at call
    time (``model_defaults()``, then ``WEFT_MODEL``/``OPENAI_BASE_URL``/
    ``OPENAI_API_KEY``). ``tools`` are the actions offered to the model, by
    name or as objects (see the module docstring). ``output_type`` (a pydantic
    class or a JSON Schema dict) makes the answer validated JSON. ``input_schema`` +
    ``render_input`` replace the default ``{task, context}`` input. ``skills``
    feed the capability card used for routing. ``trace_content=False`` keeps
    the messages and replies out of this agent's ``llm`` spans (``None``:
    ``WEFT_TRACE_CONTENT``, on by default). ``parallel_tool_calls`` is sent
    to the endpoint only when set (many local servers refuse the field; a
    refusal is remembered and the field dropped); tool calls are run one
    per reply or several at once, whatever the model returns.
    ``tool_choice`` is sent with the tools on the first turn: ``"auto"``
    (the default; some servers call no tool unless it is said),
    ``"required"``, ``"none"``, a tool's name, or ``None`` to send nothing.
    Later turns send ``"auto"``, so a forced choice cannot loop, and the last
    turn allowed by ``max_turns`` sends ``"none"``, so the model must answer.
    ``examples`` are few-shot examples shown before the task as earlier
    user/assistant turns (``weft.agents.examples``): either fixed ones, a
    list of ``(input, output)`` pairs or ``{"input", "output"}`` mappings,
    all shown in order, checked here (``InvalidExample`` naming
    ``examples[i]``; an output must fit ``output_type``) and their tasks added
    to the capability card's ``examples`` (unless ``card`` is given); or a
    source of past steps (an object with ``examples(text, agent=..., k=...)``
    such as the runtime's ``ExperienceMemory``, or a function
    ``(text, agent, k)``), of which up to ``examples_k`` similar to the task,
    within ``examples_chars`` characters, are shown.
    ``stream=True`` streams every answer (its text reaches run listeners as it
    comes), ``False`` never; ``None`` streams when someone reads it
    (``weft.agents.streaming.stream_text``: ``weft run`` on a terminal).
    ``input_checks`` and ``output_checks`` are guardrails (``weft.agents.llm_checks``):
    functions that pass the call's arguments, or the final answer, or say what is
    wrong; a rejected input ends the call ``InputRejected`` before any model request,
    a rejected answer is re-asked within ``max_repairs``, then ``OutputRejected``.
    ``handoffs`` are agents (or other actions, or names) the model may hand the
    conversation to, at most ``max_handoffs`` times per call (``weft.agents.handoffs``).
    ``session`` (a ``SQLiteSession`` or ``MemorySession``) keeps each conversation
    between calls; the call's ``conversation_id`` argument names it (``weft.agents.sessions``).
    """

    def __init__(
        self,
        name: str,
        *,
        instructions: str = "",
        description: str = "",
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        settings: ModelSettings | None = None,
        tools: Sequence[Any] = (),
        output_type: OutputType | None = None,
        input_schema: dict[str, Any] | None = None,
        render_input: Callable[[Mapping[str, Any]], str] | None = None,
        max_turns: int = 8,
        max_repairs: int = 1,
        retry: RetryPolicy | None = None,
        prices: Mapping[str, ModelPrice] | None = None,
        skills: Sequence[str] = (),
        card: CapabilityCard | None = None,
        version: str = "1",
        kind: ActionKind = ActionKind.AGENT,
        trace_content: bool | None = None,
        parallel_tool_calls: bool | None = None,
        tool_choice: str | None = "auto",
        examples: ExampleSource | ExampleFunction | Sequence[Any] | None = None,
        examples_k: int = 3,
        examples_chars: int = 4000,
        stream: bool | None = None,
        input_checks: Sequence[Check] = (),
        output_checks: Sequence[Check] = (),
        handoffs: Sequence[Any] = (),
        max_handoffs: int = 5,
        session: SessionStore | None = None,
    ) -> None:
        if max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        if max_handoffs < 0:
            raise ValueError("max_handoffs must be at least 0")
        explicit = ModelSettings(
            model=model,
            base_url=base_url,
            api_key=api_key,
            temperature=temperature,
            max_tokens=max_tokens,
        )
        self.settings = explicit.fill(settings) if settings is not None else explicit
        self.instructions = instructions
        #: Names of the actions offered to the model, and the objects among them.
        self.tools, self.bundled_actions = split_tools(tools)
        #: Whom the model may hand the conversation to (``weft.agents.handoffs``).
        self.handoffs: list[Handoff] = handoffs_of(handoffs)
        self.bundled_actions += [
            h.target for h in self.handoffs if not isinstance(h.target, str)
        ]  # registered with the agent: their own tools and handoffs come along
        self.max_handoffs = max_handoffs
        self.session = session
        self.output_type = output_type
        self.max_turns = max_turns
        self.max_repairs = max_repairs
        self.parallel_tool_calls = parallel_tool_calls
        self.tool_choice = tool_choice
        self.examples = examples
        self.examples_k = examples_k
        self.examples_chars = examples_chars
        self.stream = stream
        self._input_checks = answer_checks(input_checks, "input_checks")
        self._output_checks = answer_checks(output_checks, "output_checks")
        self.chat = ChatModel(
            self.settings, retry=retry, prices=prices, trace_content=trace_content
        )
        self._custom_input = input_schema is not None
        self._render = render_input or (
            render_task if input_schema is None else lambda a: json.dumps(a, default=str)
        )
        self._output = output_contract(output_type) if output_type is not None else None
        self._response_format = self._output.response_format if self._output else None
        #: Fixed examples as (user text, assistant text), or None for a source (or none).
        self._fixed: list[tuple[str, str]] | None = None
        tasks: list[str] = []
        if examples is not None and not is_source(examples):
            parse = self._output.parse if self._output else None
            self._fixed = fixed_examples(examples, self._render, parse)
            tasks = example_tasks(examples)  # type: ignore[arg-type]  # checked just above
        summary = description or instructions.strip().split("\n\n")[0]
        schema = input_schema if input_schema is not None else TASK_INPUT_SCHEMA
        if session is not None:
            schema = input_schema_with_session(schema, required=session.conversation_id is None)
        self._spec = ActionSpec(
            name=name,
            version=version,
            kind=kind,
            description=summary,
            input_schema=schema,
            output_schema=self._output.schema if self._output else {"type": "string"},
            card=card
            or CapabilityCard(
                agent_id=name,
                description=summary,
                skills=list(skills),
                examples=tasks,
            ),
        )

    @property
    def spec(self) -> ActionSpec:
        return self._spec

    @property
    def name(self) -> str:
        return self._spec.name

    def __repr__(self) -> str:
        return f"<LLMAgent {self.name}>"

    def bind_handoffs(self, lookup: Callable[[str], Action | None]) -> None:
        """Bind the handoffs given by name to the actions ``lookup`` finds (a workflow
        file's ``handoffs:``, bound once all of its actions exist); they then travel with the
        agent as its tool objects do (``bundled_actions``)."""
        bind(self.handoffs, lookup)
        for handoff in self.handoffs:
            target = handoff.target
            if not isinstance(target, str) and all(a is not target for a in self.bundled_actions):
                self.bundled_actions.append(target)

    def conversation_id_of(self, arguments: Mapping[str, Any]) -> str | None:
        """The conversation a call with ``arguments`` goes on (None: no session)."""
        if self.session is None:
            return None
        given = arguments.get("conversation_id")
        return given if isinstance(given, str) and given else self.session.conversation_id

    def task_arguments(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The ``{task, context}`` an action handed to gets from this agent's call."""
        if self._custom_input:
            return {"task": self._render(self._without_session(arguments))}
        return {k: v for k, v in arguments.items() if k in ("task", "context")}

    def _without_session(self, arguments: Mapping[str, Any]) -> Mapping[str, Any]:
        if self.session is None or "conversation_id" not in arguments:
            return arguments
        return {k: v for k, v in arguments.items() if k != "conversation_id"}

    def _toolset(
        self, ctx: ActionContext, call: ActionCall, start: Start
    ) -> tuple[ToolSet, dict[str, Handoff]] | str:
        """The tools to offer (with a ``transfer_to_...`` tool per handoff) and the handoffs
        by tool name, or a message naming the tools the context cannot provide. An agent
        with a session among them goes on the call's conversation (``ToolSet``): the first
        agent's (``start``), also when this agent was handed to, never its own store's."""
        available = (
            {spec.name: spec for spec in ctx.actions()} if self.tools or self.handoffs else {}
        )
        missing = [t for t in self.tools if t not in available]
        if missing:
            return (
                f"{self.name}: tool(s) not available here: {', '.join(missing)} "
                f"(available: {', '.join(sorted(available)) or 'none'})"
            )
        toolset = ToolSet(
            [available[t] for t in self.tools],
            conversation=start.conversation_id or given_conversation(call),
            call_key=getattr(ctx, "idempotency_key", None) or call.call_id,
        )
        wire: dict[str, Handoff] = {}
        for handoff in self.handoffs:
            target = handoff.target
            spec = target.spec if not isinstance(target, str) else available.get(target)
            if spec is None:
                return (
                    f"{self.name}: handoff '{handoff.name}' is not available here "
                    f"(available: {', '.join(sorted(available)) or 'none'})"
                )
            tool = handoff.tool(spec)
            name = tool["function"]["name"]
            while name in wire or toolset.action_for(name) is not None:
                name = f"{name[:60]}_{len(wire) + 2}"
            tool["function"]["name"] = name
            wire[name] = handoff
            toolset.tools.append(tool)
        return toolset, wire

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        """Answer ``call``: its arguments checked, then its chain of agents (``llm_chain``)."""
        if not self._custom_input:
            problem = check_task_arguments(call.arguments, session=self.session is not None)
            if problem is not None:
                return ActionResult.failure(
                    call.call_id, "ValidationError", f"{self.name}: {problem}", field="task"
                )
        if self.session is not None and self.conversation_id_of(call.arguments) is None:
            return ActionResult.failure(
                call.call_id,
                "ValidationError",
                f"{self.name}: argument 'conversation_id' is required (the agent keeps "
                "conversations, and its session store names no default one)",
                field="conversation_id",
            )
        return await run_call(self, call, ctx)

    async def run_part(self, call: ActionCall, ctx: ActionContext, start: Start) -> Part:
        """This agent's share of the call (``weft.agents.llm_chain``): from the task (the
        first agent), from the conversation handed to it, or from its saved state."""
        started = time.perf_counter()
        tools = self._toolset(ctx, call, start)
        if isinstance(tools, str):
            return Part(ActionResult.failure(call.call_id, "ToolNotAvailable", tools))
        toolset, wire = tools
        if (wrong := choice_problem(self.name, self.tool_choice, toolset.tools)) is not None:
            return Part(ActionResult.failure(call.call_id, "ToolNotAvailable", wrong))
        setup = agent_setup(
            resolve_settings(self.settings).model,
            self.instructions,
            toolset,
            self._output.schema if self._output else None,
        )
        saved = saved_conversation(
            start.raw,
            agent=self.name,
            tools=self.tools,
            setup=setup,
            toolset=toolset,
            max_turns=self.max_turns,
            answers=len(call.answers),
        )
        if saved is None and start.raw is not None:  # a state that does not fit (warned)
            return Part(None, restart=True)  # the chain starts again from its first agent
        if saved is None:
            if start.conversation is None:
                refused = await self._check_input(call, ctx)
                if refused is not None:
                    refused.agent = self.name
                    return Part(refused)
            preamble = await self._preamble(call)
            if start.conversation is not None:
                conversation = list(start.conversation)
            else:
                text = self._render(self._without_session(call.arguments))
                conversation = [*start.history, {"role": "user", "content": text}]
            saved = SavedConversation(
                agent=self.name,
                tools=self.tools,
                setup=setup,
                messages=preamble + conversation,
                turn=0,
                taken=start.taken,
                calls=[],
                chain=start.chain,
                preamble=len(preamble),
                history=start.history_len,
            )
        session: ChatSession | None = None
        try:
            async with self.chat.session(AgentSpans(ctx, self.name)) as session:
                outcome = await self._loop(call, ctx, session, saved, toolset, wire)
        except ModelCallError as exc:
            outcome = ActionResult.from_exception(call.call_id, exc, source=self.name)
        spent = session.usage if session is not None else Usage()
        part = Part(
            None,
            messages=saved.messages,
            preamble=saved.preamble,
            history_len=saved.history,
            usage=spent.model_copy(update={"latency_s": time.perf_counter() - started}),
            progress=session.progress if session is not None else [],
        )
        if isinstance(outcome, Transfer):
            part.transfer = outcome
        else:
            outcome.agent = self.name
            part.result = outcome
        return part

    async def _check_input(self, call: ActionCall, ctx: ActionContext) -> ActionResult | None:
        """The failed result when an input check rejects the call's arguments, else None.

        Run once per conversation: a call resumed from a saved conversation was
        checked when it started."""
        if not self._input_checks:
            return None
        try:
            rejected = await first_rejection(self._input_checks, dict(call.arguments), ctx)
        except CheckError as exc:
            return ActionResult.failure(call.call_id, "CheckFailed", f"{self.name}: {exc}")
        if rejected is None:
            return None
        check, reason = rejected
        return ActionResult.failure(
            call.call_id,
            "InputRejected",
            f"{self.name}: input check {check} rejected the input: {reason}",
        )

    async def _preamble(self, call: ActionCall) -> list[dict[str, Any]]:
        """The instructions and the examples (``examples``): what precedes the conversation."""
        messages: list[dict[str, Any]] = []
        if self.instructions:
            messages.append({"role": "system", "content": self.instructions})
        if self._fixed is not None:
            messages.extend(example_messages(self._fixed))
        elif self.examples is not None:
            task = call.arguments.get("task")
            text = self._render(self._without_session(call.arguments))
            pairs = await fetch_examples(
                self.examples,  # type: ignore[arg-type]  # a source: not fixed
                task if isinstance(task, str) and not self._custom_input else text,
                agent=self.name,
                k=self.examples_k,
                max_chars=self.examples_chars,
            )
            messages.extend(example_messages(pairs))
        return messages

    async def _loop(
        self,
        call: ActionCall,
        ctx: ActionContext,
        session: ChatSession,
        saved: SavedConversation,
        toolset: ToolSet,
        wire: dict[str, Handoff],
    ) -> ActionResult | Transfer:
        """The tool loop, from turn 1, or from the tool calls of the turn ``saved`` stopped in;
        a ``Transfer`` when the model hands the conversation over (``wire``: the handoffs).

        Usage counts only the model requests made in this call: those made before
        a stop were counted in the result that stopped.
        """
        messages = saved.messages
        repairs = saved.repairs
        answering = Answering(call.answers, taken=saved.taken)
        pending, turn = saved.calls, saved.turn
        if not pending:
            turn = -1
        while True:
            if pending:  # the model's tool calls: made now, or left by the stop resumed
                done = await run_turn(pending, toolset, ctx, answering, turn)
                if answering.asked is not None:  # a tool asks a person: the agent stops too
                    return self._stop(call, answering, saved, messages, turn, repairs, done)
                messages.extend(c.reply for c in done if c.reply is not None)
                pending = []
            turn += 1
            if turn >= self.max_turns:
                break
            completion = await session.complete(
                messages,
                tools=toolset.tools or None,
                response_format=self._response_format,
                parallel_tool_calls=self.parallel_tool_calls if toolset.tools else None,
                tool_choice=turn_tool_choice(
                    self.tool_choice, toolset, turn=turn, max_turns=self.max_turns
                ),
                stream=wants_stream(self.stream),
            )
            message = completion.message
            if getattr(message, "tool_calls", None):
                messages.append(assistant_message(message))
                pending = calls_of(message)
                found = transfer_of(pending, wire) if wire else None
                if found is not None:
                    transfer, replies = found
                    messages.extend(replies)
                    transfer.conversation = messages[saved.preamble :]
                    transfer.taken = answering.taken
                    return transfer
                continue
            refusal = getattr(message, "refusal", None)
            if refusal:
                return ActionResult.failure(call.call_id, "Refused", f"{self.name}: {refusal}")
            content = message.content or ""
            checked = await check_answer(
                self.name,
                content,
                self._output,
                self._output_checks,
                ctx,
                (repairs, self.max_repairs),
                cut_off=cut_off_of(completion.finish_reason, session.settings.max_tokens),
            )
            messages.append({"role": "assistant", "content": content})
            if isinstance(checked, ActionResult):
                checked.call_id = call.call_id
                return checked
            value, problem = checked
            if problem is not None:
                repairs += 1
                messages.append({"role": "user", "content": problem})
                continue
            return ActionResult.success(call.call_id, value)
        return ActionResult.failure(
            call.call_id,
            "MaxTurnsExceeded",
            f"{self.name}: no final answer after {self.max_turns} model turns",
        )

    def _stop(
        self,
        call: ActionCall,
        answering: Answering,
        saved: SavedConversation,
        messages: list[dict[str, Any]],
        turn: int,
        repairs: int,
        calls: list[Any],
    ) -> ActionResult:
        """The ``needs_input`` result of a turn whose tool asked, with the conversation
        saved (``resume_state``), so that a resume goes on from these tool calls."""
        asked = answering.asked
        assert asked is not None and answering.asked_from is not None
        result = asked.result(call.call_id, self.name, Usage(), role="tool", of="")
        result.resume_state = saved.model_copy(
            update={
                "messages": messages,
                "turn": turn,
                "repairs": repairs,
                "taken": answering.asked_from,
                "calls": calls,
            }
        ).model_dump(mode="json")
        return result
