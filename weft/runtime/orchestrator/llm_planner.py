"""Planning with an LLM: structured output validated against ``Plan``, re-asked when wrong.

Each answer goes through three gates, and a failure at any of them is counted
as a ``PlanFailure`` of its kind and fed back to the model in the same
conversation, up to ``budget.max_plan_attempts`` answers in all:

1. ``malformed_json`` — the reply does not parse;
2. ``schema`` — it parses but is not a ``Plan`` (missing or extra fields);
3. ``invalid_plan`` — it is a ``Plan`` that breaks the rules (``PlanValidator``:
   cycle, unknown dependency, too many subtasks...) or the orchestrator's
   check (nobody can do a subtask, over budget).

A model error that survives the client's retries (auth, quota, network) is a
``model_error`` failure and ends planning: asking again cannot fix it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from weft.agents import ChatModel, ModelCallError, ModelPrice, ModelSettings
from weft.agents.structured import StructuredOutputError, parse_structured, response_format_for
from weft.protocols import RetryPolicy
from weft.runtime.orchestrator.plan import FailureKind, Plan, PlanFailure
from weft.runtime.orchestrator.planners import PlanOutcome, PlanRequest, describe_actions
from weft.runtime.orchestrator.validator import PlanValidator

#: A subtask id's characters, without the length bound of ``validator.ID_PATTERN``.
ID_START_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"

PLANNER_INSTRUCTIONS = """\
You are the planner of a team of agents. Break the user's task into subtasks the agents can do.

Agents available:
{agents}

Rules:
- Use at most {max_subtasks} subtasks, and fewer when the task is simple: one subtask is fine.
- Every subtask has a unique id (a letter first, then letters, digits, '_' or '-'), a
  self-contained description, the capability it needs (a few words matching an agent's
  skills), depends_on (the ids whose results it needs) and expected_output (may be empty).
- Subtasks that do not need each other's results must not depend on each other: they run
  in parallel. Dependencies must not form a cycle.
- Do not answer the task yourself; a final step combines the subtask results.
Reply with the plan as JSON only."""

_RAW_LIMIT = 2000


def plan_format(max_subtasks: int) -> dict[str, Any]:
    """``Plan``'s response format, with the subtask count bounded by this budget.

    ``minItems``/``maxItems`` and the id ``pattern`` make an empty or
    oversized plan, or a malformed id, impossible to write where the server
    enforces the schema (OpenAI's strict mode, and the grammar llama.cpp
    builds from it), so a small model cannot waste its attempts on them;
    elsewhere the validator still catches all three.
    """
    response_format = response_format_for(Plan)
    schema = response_format["json_schema"]["schema"]
    subtasks = schema["properties"]["subtasks"]
    subtasks["minItems"] = 1
    subtasks["maxItems"] = max_subtasks
    subtask = schema["$defs"]["Subtask"]["properties"]
    # the length bound stays with the validator: a {0,63} repeat becomes 63
    # nested grammar rules, which slows a grammar-constrained server badly
    subtask["id"]["pattern"] = ID_START_PATTERN
    subtask["depends_on"].setdefault("items", {})["pattern"] = ID_START_PATTERN
    return response_format


def model_failure(attempt: int, exc: ModelCallError) -> PlanFailure:
    """The ``model_error`` failure of ``exc``, with its type and whether it may pass."""
    return PlanFailure(
        attempt=attempt,
        kind="model_error",
        message=str(exc),
        error_type=exc.error_type,
        retryable=exc.retryable,
    )


class LLMPlanner:
    """A ``Planner`` on an OpenAI-compatible model; settings resolve like ``LLMAgent``'s."""

    def __init__(
        self,
        settings: ModelSettings | None = None,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        temperature: float | None = None,
        retry: RetryPolicy | None = None,
        prices: Mapping[str, ModelPrice] | None = None,
        instructions: str = PLANNER_INSTRUCTIONS,
    ) -> None:
        explicit = ModelSettings(
            model=model, base_url=base_url, api_key=api_key, temperature=temperature
        )
        self.chat = ChatModel(
            explicit.fill(settings) if settings else explicit, retry=retry, prices=prices
        )
        self.instructions = instructions

    def messages(self, request: PlanRequest) -> list[dict[str, Any]]:
        system = self.instructions.format(
            agents=describe_actions(request.actions),
            max_subtasks=request.budget.max_subtasks,
        )
        if request.hint is not None:
            system += (
                "\n\nA plan that worked for a similar task (adapt it; do not copy it blindly):\n"
                + request.hint.model_dump_json()
            )
        return [{"role": "system", "content": system}, {"role": "user", "content": request.task}]

    async def plan(self, request: PlanRequest) -> PlanOutcome:
        validator = PlanValidator(request.budget)
        failures: list[PlanFailure] = []
        messages = self.messages(request)
        response_format = plan_format(request.budget.max_subtasks)
        try:
            async with self.chat.session(request.context) as session:
                for attempt in range(1, request.budget.max_plan_attempts + 1):
                    try:
                        completion = await session.complete(
                            messages, response_format=response_format
                        )
                    except ModelCallError as exc:
                        failures.append(model_failure(attempt, exc))
                        return PlanOutcome(None, failures, session.usage)
                    content = completion.message.content or ""
                    kind: FailureKind
                    try:
                        plan = parse_structured(content, Plan)
                    except StructuredOutputError as exc:
                        kind, problems = exc.kind, [str(exc)]
                    else:
                        kind = "invalid_plan"
                        problems = validator.problems(plan) or await request.check(plan)
                    if not problems:
                        return PlanOutcome(plan, failures, session.usage)
                    message = "; ".join(problems)
                    failures.append(
                        PlanFailure(
                            attempt=attempt, kind=kind, message=message, raw=content[:_RAW_LIMIT]
                        )
                    )
                    if attempt < request.budget.max_plan_attempts:
                        request.say(
                            f"planner answer {attempt} of {request.budget.max_plan_attempts} "
                            f"rejected ({kind}): {_short(message)}; asking again"
                        )
                    messages.append({"role": "assistant", "content": content})
                    messages.append(
                        {
                            "role": "user",
                            "content": f"That plan was rejected: {message}. "
                            "Reply with a corrected plan as JSON only.",
                        }
                    )
                return PlanOutcome(None, failures, session.usage)
        except ModelCallError as exc:  # not configured: no session was opened
            failures.append(model_failure(1, exc))
            return PlanOutcome(None, failures)


def _short(message: str, limit: int = 160) -> str:
    """``message`` on one line, cut to ``limit`` characters for a progress line."""
    line = " ".join(message.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
