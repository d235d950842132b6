"""Implementations of actions: tools from functions, and (later) LLM and team agents."""

from weft.agents.tool import FunctionAction, describe_validation_error, tool

__all__ = ["FunctionAction", "describe_validation_error", "tool"]
