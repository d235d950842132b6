"""Secrets as the runtime sees them: marking values secret, and what an agent sends back.

``redaction`` is the mechanism (the set of registered secrets, the masking
rules); this module is what the engine, the agent host and users call:

- ``secret(value)`` marks a value secret and hands it back unchanged, so it
  can be used inline: ``key = weft.secret(os.environ["SERVICE_KEY"])``;
- ``secret_parameters(schema)`` names the parameters an action's input schema
  marks secret (``"writeOnly": true``, which pydantic writes for ``SecretStr``
  and weft for a sub-workflow's secret inputs), whatever their names;
- ``scrub_result(result)`` (``scrub`` for any message) replaces the registered
  secrets in a result or a progress report before an agent host sends it back
  over the bus.

Masking is for what is recorded or shown. The action that needs a secret gets
the real value, and so does every node after it in the same process.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from weft.protocols import ActionResult
from weft.runtime.support.redaction import MIN_SECRET, redactor

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

__all__ = ["is_secret_property", "scrub", "scrub_result", "secret", "secret_parameters"]


def secret(value: str) -> str:
    """Register ``value`` as a secret of this process and return it unchanged.

    From now on it is masked (``[REDACTED]``) wherever it would be written
    down: outputs, error messages and tracebacks in the journal, the trace
    store, exports, the HTML view and logs. A value shorter than ``MIN_SECRET``
    (4) characters cannot be masked without garbling ordinary text: it is
    returned unregistered, with a warning.
    """
    if not isinstance(value, str):
        raise TypeError(f"weft.secret takes a string, not {type(value).__name__}")
    if value and len(value.strip()) < MIN_SECRET:
        log.warning("a secret of fewer than %d characters is not masked in records", MIN_SECRET)
    redactor().register_secret(value)
    return value


def is_secret_property(schema: Any) -> bool:
    """Whether a JSON Schema property is marked secret (``writeOnly``, or a password format)."""
    return isinstance(schema, Mapping) and (
        schema.get("writeOnly") is True or schema.get("format") == "password"
    )


def secret_parameters(schema: Mapping[str, Any]) -> frozenset[str]:
    """The parameters an input schema marks secret (``is_secret_property``)."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return frozenset()
    return frozenset(name for name, prop in properties.items() if is_secret_property(prop))


def scrub_result(result: ActionResult) -> ActionResult:
    """``result`` with this process's registered secrets masked in its output and error.

    For an agent host, before a result leaves it: a tool that echoes a secret
    argument, or the host's own key, does not send it back over the bus. Only
    registered secrets are replaced; keys are left alone (a token a remote tool
    returns under ``token`` is the data its caller asked for, and the caller
    masks it when it records it). ``result`` itself when it holds no secret.
    """
    return scrub(result)


def scrub(message: M) -> M:
    """``message`` (any pydantic model on its way out, e.g. a progress report) with the
    registered secrets in its strings masked; ``message`` itself when it holds none."""
    masker = redactor()
    if not masker.secrets:
        return message
    if not masker.may_hold_secret(message.model_dump_json()):
        return message
    data = masker.replace_secrets(message.model_dump(mode="json"))
    return type(message).model_validate(data)
