"""What a client of weft's MCP and A2A servers learns when a call fails.

An exception an action raises keeps its traceback in the error it becomes
(``ErrorInfo.from_exception``: ``details["traceback"]``). Between weft's own
processes, on weft's bus, that is what a caller needs: its trace shows where
the remote tool failed. A client of ``weft mcp serve`` or ``weft a2a serve``
is anyone's MCP or A2A client, and the traceback would hand it the server's
file paths and source lines. So these servers send such a client the error's
type and message (the tool's own words), its retry advice, the argument at
fault and its other details (a question asked, an MCP error code), and keep
the traceback for the server: it is logged (logger ``weft.interop``, level
error; a structlog event with the traceback as ``exception`` once weft's
logging is configured, ``--log-format``), secrets masked as in every log.
``send_tracebacks`` (``--send-tracebacks``, for development) sends it too,
as before.
"""

from __future__ import annotations

import logging
from typing import Any

from weft.protocols import ActionResult
from weft.runtime.support import logging as weft_logging
from weft.runtime.support.redaction import redactor

__all__ = ["LOGGER", "TRACEBACK", "for_client"]

#: The key of ``ErrorInfo.details`` that holds a traceback.
TRACEBACK = "traceback"

#: The logger the servers report failed calls on.
LOGGER = "weft.interop"

_log = logging.getLogger(LOGGER)


def for_client(
    result: ActionResult,
    served: str,
    *,
    send_tracebacks: bool = False,
    logged: bool = False,
    **context: Any,
) -> ActionResult:
    """``result`` as a foreign client may see it: without its error's traceback (module
    docstring), which is logged here instead, naming ``served`` (what served the call:
    ``weft mcp``, ``weft a2a``) and ``context`` (the action, the task); ``logged``:
    the caller logged it already.

    ``result`` itself when its error holds no traceback; with ``send_tracebacks``
    it is logged and kept.
    """
    error = result.error
    stack = error.details.get(TRACEBACK) if error is not None else None
    if error is None or not isinstance(stack, str):
        return result
    if not logged:
        _log_failure(served, error.type, error.message, stack, context)
    if send_tracebacks:
        return result
    details = {k: v for k, v in error.details.items() if k != TRACEBACK}
    return result.model_copy(update={"error": error.model_copy(update={"details": details})})


def _log_failure(
    served: str, error_type: str, message: str, stack: str, context: dict[str, Any]
) -> None:
    stack = redactor().replace_secrets(stack)  # masked here too: logging may be unconfigured
    if weft_logging.enabled:
        weft_logging.get_logger(LOGGER).error(
            f"{served}: call failed",
            error_type=error_type,
            error=message,
            exception=stack,
            **context,
        )
        return
    where = " ".join(f"{key}={value}" for key, value in context.items())
    _log.error("%s: call failed (%s): %s: %s\n%s", served, where, error_type, message, stack)
