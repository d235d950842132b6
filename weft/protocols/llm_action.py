"""The ``llm:`` entry of a workflow file's ``actions:``: an LLM agent defined in YAML alone.

Data only, as the rest of ``weft.protocols``; the checks that need other
actions or imports (tools and handoffs that exist, ``python:`` checks that
import) run when the workflow is loaded (``weft.runtime.engine.llm_actions``).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: What an environment variable's name may be (``api_key_env``).
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A ``module:function`` reference (the module dotted, the attribute maybe dotted).
_PYTHON_REF = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


class LlmSessionSpec(BaseModel):
    """Where an ``llm:`` agent keeps its conversations between calls (``session:``)."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(
        default=None,
        description="SQLite file holding the conversations, relative to the workflow file; "
        "left out, they are kept in memory for as long as the process runs.",
    )
    max_turns: int = Field(
        default=50, ge=1, description="Calls kept per conversation; the oldest are dropped."
    )
    conversation_id: str | None = Field(
        default=None,
        description="The conversation a call without a 'conversation_id' argument goes on "
        "(left out, such a call is refused: every call must say whose conversation it is).",
    )


class LlmExample(BaseModel):
    """A few-shot example of an ``llm:`` action: a task, and the answer the model learns from."""

    model_config = ConfigDict(extra="forbid")

    input: Any = Field(description="The task as text, or the agent's arguments ({task, context}).")
    output: Any = Field(
        description="The answer: text, or the JSON value when the action has 'output_schema'."
    )

    @field_validator("input")
    @classmethod
    def _text_or_arguments(cls, value: Any) -> Any:
        # One message for both shapes (a union would report a line per member).
        if not isinstance(value, str | dict):
            raise ValueError(
                f"'input' must be the task as text or the agent's arguments (a mapping), "
                f"got {type(value).__name__} {value!r}"
            )
        return value


class LlmActionSpec(BaseModel):
    """An LLM agent defined in the YAML alone (``actions: {writer: {llm: {...}}}``).

    It becomes a ``weft.agents.LLMAgent`` named after its entry: input
    ``{task, context?}``, output the model's text. Settings left out resolve
    when the agent calls its model, as for any ``LLMAgent``: ``WEFT_MODEL``,
    ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``. With ``output_schema`` the output
    is a JSON value that fits that JSON Schema instead of text. The schema,
    ``tool_choice``, ``parallel_tool_calls`` (needs ``tools``) and whether each
    example's output fits the schema are checked when the workflow is loaded
    (``weft.runtime.engine.llm_actions``), where their lines are known, and so are
    ``handoffs`` (other actions of the file) and the ``python:`` refs of the checks.
    """

    model_config = ConfigDict(extra="forbid")

    instructions: str = Field(default="", description="The system prompt.")
    model: str | None = Field(default=None, description="Model name (default: $WEFT_MODEL).")
    base_url: str | None = Field(
        default=None,
        description="http(s):// URL of an OpenAI-compatible endpoint, ending in /v1 "
        "(default: $OPENAI_BASE_URL, else OpenAI).",
    )
    api_key_env: str | None = Field(
        default=None,
        description="The environment variable holding the API key (default: OPENAI_API_KEY); "
        "read when the workflow is loaded. Name the variable here, never the key itself.",
    )
    tools: list[str] = Field(
        default_factory=list,
        description="Names of actions offered to the model as tools: python tools, MCP tools "
        "('<server>.<tool>'), workflows, A2A agents, other llm actions.",
    )
    temperature: float | None = Field(default=None, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int | None = Field(default=None, ge=1, description="Most tokens per answer.")
    max_turns: int = Field(
        default=8, ge=1, description="Model requests per call at most (tool rounds + answer)."
    )
    output_schema: dict[str, Any] | None = Field(
        default=None,
        description="A JSON Schema the answer must fit: the agent answers with that JSON value "
        "(asked for with response_format where the endpoint takes it, re-asked with the error "
        "when a reply does not fit).",
    )
    max_repairs: int = Field(
        default=1, ge=0, description="Re-asks of a reply that does not fit 'output_schema'."
    )
    tool_choice: str | None = Field(
        default=None,
        description="Sent with the tools on the first turn: auto (default), required, none, "
        "or the name of one of 'tools' to call first.",
    )
    stream: bool | None = Field(
        default=None,
        description="true streams every answer, false never (default: when someone reads it, "
        "as 'weft run' on a terminal).",
    )
    skills: list[str] = Field(
        default_factory=list,
        description="What the agent can do, for its capability card (with the action's "
        "'description'), so capability routing ('weft ask') can pick it.",
    )
    parallel_tool_calls: bool | None = Field(
        default=None,
        description="Whether the model may ask for several tool calls in one reply (sent only "
        "when set, with 'tools'; an endpoint that refuses the field has it dropped).",
    )
    examples: list[LlmExample] = Field(
        default_factory=list,
        description="Few-shot examples, shown in order before the task as earlier turns; their "
        "tasks also join the capability card's examples.",
    )

    handoffs: list[str] = Field(
        default_factory=list,
        description="Actions the model may hand the conversation to (a 'transfer_to_<name>' "
        "tool each): another llm action goes on with the conversation and answers; any other "
        "action is called and its output is the answer.",
    )
    max_handoffs: int = Field(
        default=5, ge=0, description="Handoffs one call may make at most (A -> B -> A counts 2)."
    )
    session: LlmSessionSpec | None = Field(
        default=None,
        description="Keep each conversation between calls: a call's 'conversation_id' argument "
        "says which one (its earlier turns are sent before the task).",
    )
    input_checks: list[str] = Field(
        default_factory=list,
        description="Guardrails on the input: 'module:function' refs, each given the call's "
        "arguments and answering None (fine) or what is wrong (the call is refused).",
    )
    output_checks: list[str] = Field(
        default_factory=list,
        description="Guardrails on the answer: 'module:function' refs answering None or what "
        "is wrong (the model is asked again within 'max_repairs', then the call fails).",
    )

    @field_validator("input_checks", "output_checks", mode="before")
    @classmethod
    def _python_refs(cls, value: Any) -> Any:
        # `- python: mod:fn` as well as `- mod:fn`, like an action's `python:` reference
        if not isinstance(value, list):
            return value
        refs = [v["python"] if isinstance(v, dict) and set(v) == {"python"} else v for v in value]
        for ref in refs:
            if not isinstance(ref, str) or not _PYTHON_REF.fullmatch(ref):
                raise ValueError(f"a check is a 'module:function' reference, got {ref!r}")
        return refs

    @field_validator("api_key_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        # The value is not echoed: a key pasted here by mistake stays out of the message.
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError(
                "'api_key_env' must name an environment variable (letters, digits and _, "
                "not starting with a digit) that holds the key, not the key itself"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.strip().startswith(("http://", "https://")):
            raise ValueError(f"'base_url' must be an http(s):// URL, got {value!r}")
        return value
