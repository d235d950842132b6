"""Structured logs: structlog, rendered as JSON lines or for the console.

``configure_logging`` routes structlog *and* the standard library's
``logging`` (paho-mqtt, weft's bus) through one handler on stderr, so every line
has the same shape. While an action runs, the executor binds ``run_id``,
``trace_id``, ``span_id``, ``node`` and ``agent`` in context variables
(``bind_call``), and every line logged by that action, or by anything it
awaits, carries them; secrets are masked as in traces.

Until logging is configured the executor binds nothing (``enabled`` is a plain
module attribute it checks), so an application that never asks for weft's
logs pays nothing per call.

Environment: ``WEFT_LOG_FORMAT=json|console`` and ``WEFT_LOG_LEVEL=debug|info|...``
(``configure_from_env``, called by the CLI).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, MutableMapping
from contextvars import Token
from typing import IO, Any

FORMATS = ("json", "console")

#: True once ``configure_logging`` ran; the executor binds call ids only then.
enabled = False


def configure_logging(
    format: str | None = None, level: str | int | None = None, *, stream: IO[str] | None = None
) -> None:
    """Send weft's and the standard library's logs to ``stream`` (stderr) as JSON or console text.

    ``format`` defaults to ``console`` on a terminal and ``json`` otherwise;
    ``level`` to ``info``. Raises ``ValueError`` for an unknown format or level.
    """
    global enabled
    import structlog

    out = stream or sys.stderr
    chosen = (format or ("console" if out.isatty() else "json")).lower()
    if chosen not in FORMATS:
        raise ValueError(f"unknown log format '{format}' (use json or console)")
    numeric = _level(level)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        # The traceback becomes text before masking: its last line is the exception's
        # message, which may quote a secret (a key the action was refused with).
        structlog.processors.format_exc_info,
        _redact,
    ]
    renderer: Any
    if chosen == "json":
        renderer = structlog.processors.JSONRenderer(default=str)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.set_name("weft")
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "weft"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    enabled = True


def configure_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Configure from ``WEFT_LOG_FORMAT`` / ``WEFT_LOG_LEVEL`` when either is set."""
    env = os.environ if environ is None else environ
    fmt = env.get("WEFT_LOG_FORMAT")
    level = env.get("WEFT_LOG_LEVEL")
    if not fmt and not level:
        return False
    configure_logging(fmt or None, level or None)
    return True


def get_logger(name: str = "weft") -> Any:
    """A structlog logger; lines carry the ids bound for the current call."""
    import structlog

    return structlog.stdlib.get_logger(name)


def bind_call(call: Any) -> Mapping[str, Token[Any]]:
    """Bind a call's ids for everything logged in the current task until ``unbind``.

    ``call`` is an ``ActionCall``; its ``call_id`` is its span id. Returns
    tokens for ``unbind`` (needed when the same task goes on after the call).
    """
    import structlog

    return structlog.contextvars.bind_contextvars(
        run_id=call.run_id,
        trace_id=call.trace_id,
        span_id=call.call_id,
        node=call.node,
        agent=call.action,
    )


def unbind(tokens: Mapping[str, Token[Any]]) -> None:
    """Restore what was bound before ``bind_call``."""
    import structlog

    structlog.contextvars.reset_contextvars(**tokens)


def _level(level: str | int | None) -> int:
    if level is None:
        return logging.INFO
    if isinstance(level, int):
        return level
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level '{level}' (use debug, info, warning or error)")
    return numeric


def _redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """Mask secrets and sensitive keys in every log line, as in traces.

    Keys starting with ``_`` (structlog's own bookkeeping, such as the log
    record) and ``exc_info`` are left alone; the traceback, rendered to text
    (``exception``) by ``format_exc_info`` before this runs, is masked like any
    value. A value masked under a sensitive key is registered as a secret when it
    looks like one (``redaction.looks_secret``).
    """
    from weft.runtime.support.redaction import MASK, is_sensitive_key, redactor

    masker = redactor()
    for key, value in list(event.items()):
        if key.startswith("_") or key == "exc_info":
            continue
        if is_sensitive_key(key) and value is not None:
            masker.register_leaves(value, only_secret_looking=True)
            event[key] = MASK
        elif isinstance(value, str | dict | list | tuple):
            event[key] = masker.value(value)
    return event
