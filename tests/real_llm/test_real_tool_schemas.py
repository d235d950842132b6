"""A real server constrains tool calls whose parameters are models, enums and recursive types.

llama-cpp-python turns a named tool's parameters into a grammar. The schema
weft offers (definitions inlined, a recursive one kept as ``$ref``) must be
one it reads: a schema it could not read would fall back to any JSON, and a
135M model would then rarely produce arguments that validate.
"""

from __future__ import annotations

import enum
import json
from typing import Any

from openai import AsyncOpenAI
from pydantic import BaseModel

from weft import tool
from weft.agents import ToolSet

from .conftest import MODEL


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    city: str


class Person(BaseModel):
    name: str
    address: Address
    color: Color = Color.RED
    nick: str | None = None


class Branch(BaseModel):
    value: int
    children: list[Branch] = []


@tool
def register(person: Person, tags: list[Color], tree: Branch | None = None) -> str:
    """Register a person with their favourite colours."""
    return "ok"


async def test_arguments_for_nested_models_enums_and_a_recursive_model_validate(
    real_llm: str,
) -> None:
    tools: Any = ToolSet([register.spec]).tools
    choice: Any = {"type": "function", "function": {"name": "register"}}
    client = AsyncOpenAI(base_url=real_llm, api_key="local")
    replies: list[str] = []
    for seed in range(3):
        reply = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Register Ann, 1 Main St, Paris; likes blue."}],
            tools=tools,
            tool_choice=choice,
            temperature=0.7,
            seed=seed,
            max_tokens=512,  # room for a deep tree: a cut reply is no test of the schema
        )
        calls: Any = reply.choices[0].message.tool_calls
        assert calls, reply.choices[0].message.content
        replies.append(calls[0].function.arguments)
    await client.close()
    for arguments in replies:  # every one fits the grammar the schema became
        # read as weft reads them: a raw newline inside a string is allowed by the grammar
        register.arguments_model.model_validate(json.loads(arguments, strict=False))
