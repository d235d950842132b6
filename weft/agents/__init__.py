"""Implementations of actions: tools from functions and LLM agents on the openai client.

``LLMAgent`` and its helpers import ``openai`` only when a model is called, so
importing this package stays cheap.
"""

from weft.agents.a2a_action import A2aAction, from_a2a
from weft.agents.a2a_mqtt_action import (
    A2aAgentNotFound,
    A2aBrokerRefused,
    A2aMqttAction,
    from_a2a_mqtt,
)
from weft.agents.chat_model import (
    DEFAULT_MODEL,
    DEFAULT_PRICES,
    LLM_RETRY,
    ChatModel,
    ModelCallError,
    ModelPrice,
    ModelSettings,
    llm_configured,
    model_defaults,
    resolve_settings,
)
from weft.agents.examples import InvalidExample
from weft.agents.langgraph_action import LangGraphAction, from_langgraph
from weft.agents.llm import TASK_INPUT_SCHEMA, LLMAgent, render_task
from weft.agents.mcp_action import (
    McpPromptAction,
    McpResourceReader,
    McpServerError,
    McpToolAction,
    McpTools,
    from_mcp,
    from_mcp_async,
)
from weft.agents.model_requests import (
    ModelRequestBlocked,
    model_http_client,
    sync_model_http_client,
)
from weft.agents.openai_tools import ToolSet, sanitize_tool_name
from weft.agents.sessions import MemorySession, SessionStore, SQLiteSession
from weft.agents.structured import StructuredOutputError, parse_structured, response_format_for
from weft.agents.tool import FunctionAction, describe_validation_error, tool
from weft.agents.worker_threads import (
    CallGivenUp,
    given_up,
    set_worker_threads,
    worker_threads,
)

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PRICES",
    "LLM_RETRY",
    "TASK_INPUT_SCHEMA",
    "A2aAction",
    "A2aAgentNotFound",
    "A2aBrokerRefused",
    "A2aMqttAction",
    "CallGivenUp",
    "ChatModel",
    "FunctionAction",
    "InvalidExample",
    "LLMAgent",
    "LangGraphAction",
    "McpPromptAction",
    "McpResourceReader",
    "McpServerError",
    "McpToolAction",
    "McpTools",
    "MemorySession",
    "ModelCallError",
    "ModelPrice",
    "ModelRequestBlocked",
    "ModelSettings",
    "SQLiteSession",
    "SessionStore",
    "StructuredOutputError",
    "ToolSet",
    "describe_validation_error",
    "from_a2a",
    "from_a2a_mqtt",
    "from_langgraph",
    "from_mcp",
    "from_mcp_async",
    "given_up",
    "llm_configured",
    "model_defaults",
    "model_http_client",
    "parse_structured",
    "render_task",
    "resolve_settings",
    "response_format_for",
    "sanitize_tool_name",
    "set_worker_threads",
    "sync_model_http_client",
    "tool",
    "worker_threads",
]
