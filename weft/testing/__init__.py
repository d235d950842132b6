"""Test doubles for LLM code: scripted and function models, a local OpenAI-compatible server.

Tests never call a real model. They serve a ``ScriptedModel`` (a FIFO script
of replies, tool calls, HTTP errors and malformed output) or a
``FunctionModel`` with ``OpenAIServer`` on loopback, point the real ``openai``
client at ``server.base_url``, and keep ``block_network_models()`` on so that
a request weft makes to any other host fails loudly (the switch lives in
``weft.agents.model_requests``, which weft's own ``openai`` clients consult)::

    from weft.testing import OpenAIServer, ScriptedModel, text, tool_call

    model = ScriptedModel([tool_call("word_count", {"text": "a b"}), text("2 words")])
    async with OpenAIServer(model) as server:
        ...  # LLMAgent("writer", base_url=server.base_url, tools=["word_count"])
    model.assert_complete()
"""

from weft.agents.model_requests import (
    ModelRequestBlocked,
    block_network_models,
    is_loopback,
    network_models_blocked,
)
from weft.testing.models import (
    FunctionModel,
    HangingModel,
    Model,
    ModelRequest,
    ScriptedModel,
    estimate_usage,
)
from weft.testing.server import OpenAIServer, hashing_embedder
from weft.testing.steps import (
    Failure,
    RawResponse,
    Reply,
    Step,
    TokenCounts,
    ToolCall,
    error,
    json_output,
    malformed_json,
    rate_limited,
    raw,
    server_error,
    text,
    tool_call,
    tool_calls,
)

__all__ = [
    "Failure",
    "FunctionModel",
    "HangingModel",
    "Model",
    "ModelRequest",
    "ModelRequestBlocked",
    "OpenAIServer",
    "RawResponse",
    "Reply",
    "ScriptedModel",
    "Step",
    "TokenCounts",
    "ToolCall",
    "block_network_models",
    "error",
    "estimate_usage",
    "hashing_embedder",
    "is_loopback",
    "json_output",
    "malformed_json",
    "network_models_blocked",
    "rate_limited",
    "raw",
    "server_error",
    "text",
    "tool_call",
    "tool_calls",
]
