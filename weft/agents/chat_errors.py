"""What went wrong with a chat request: the error a user reads, and whether to ask again.

``classify`` turns an exception from the ``openai`` client into a
``Classified`` failure: a type, the server's own message, the HTTP status and
whether another attempt may succeed (rate limits, 408/409, 5xx, connection
errors, timeouts unless ``retry_on_timeout`` is off, a body that is not a
completion). A request that failed for good becomes a ``ModelCallError``.

**The message.** The ``openai`` client words an HTTP error as ``Error code:
400 - {'error': {'message': ...}}``: the status again, then the body as a
Python dict. What a user reads instead is the status once and what the
server said: the ``message`` of its JSON error body when it has one
(``{"error": {"message": ...}}`` or ``{"message": ...}``, also FastAPI's
``{"detail": ...}``), else the body's text::

    HTTP 400 from gpt-4o-mini at http://gpu-box:8000/v1: This model's maximum context length is ...

Anything that decides by the server's words (a refused optional field,
``endpoint_profiles.refusal_of``; a request validation error reported as a
500) reads ``Classified.detail``, the client's whole text with the body in
it, so a word the server put in another field (``param``) still counts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from weft.agents.model_requests import blocked_cause
from weft.protocols import ActionFailed, RetryPolicy

#: Most characters of a server's message kept in an error (an HTML page from a proxy is long).
MESSAGE_LIMIT = 2000

#: What stands for the message of an error body that has none.
NO_MESSAGE = "(the server sent no message)"

#: How to give a slow model more time, said when a request timed out.
TIMEOUT_HINT = (
    "a slow model needs longer: set WEFT_MODEL_TIMEOUT=SECONDS, "
    "or an agent's settings=ModelSettings(timeout=...)"
)

#: How servers built on pydantic (llama-cpp-python, others) word a refused request.
_REQUEST_VALIDATION = re.compile(r"\bvalidation errors?\b", re.I)


class ModelCallError(ActionFailed):
    """A model request failed for good (not retryable, or retries exhausted).

    An ``ActionFailed``: raised out of an action, it fails the call with its
    ``error_type`` (``RateLimitError``, ``ModelNotConfigured``, ...) and
    ``retryable`` advice. ``status`` is the HTTP status, when there was one.
    """

    def __init__(
        self, error_type: str, message: str, *, retryable: bool = False, status: int | None = None
    ) -> None:
        super().__init__(message, retryable=retryable, error_type=error_type)
        self.status = status


@dataclass
class Classified:
    """One failed attempt, judged: see the module docstring."""

    error_type: str
    #: What the server said (HTTP errors), or the client's own words; never the status.
    message: str
    retryable: bool
    status: int | None = None
    retry_after: float | None = None
    #: Everything the client said, body included: what word matching reads.
    detail: str = ""

    @property
    def short(self) -> str:
        """``HTTP 400: <server message>``, or the message when there was no HTTP answer."""
        return f"HTTP {self.status}: {self.message}" if self.status is not None else self.message

    @property
    def silent(self) -> bool:
        """Whether the server answered an HTTP error without any message (llama-cpp-python's
        server, when its handler crashes: ``{"error": {"message": ""}}``)."""
        return self.status is not None and self.message == NO_MESSAGE

    def text(self, endpoint: str) -> str:
        """The error a user reads, naming ``endpoint`` (``model at URL``) that failed."""
        if self.silent and self.status is not None and self.status >= 500:
            return f"HTTP {self.status} from {endpoint}: the server failed without saying why"
        if self.status is not None:
            return f"HTTP {self.status} from {endpoint}: {self.message}"
        return f"{endpoint}: {self.message}"


def body_text(body: Any) -> str:
    """An error body as text: JSON for what the client parsed, the text as sent otherwise."""
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    return json.dumps(body, default=str, ensure_ascii=False)


def server_message(body: Any) -> str:
    """What the server said in an error ``body`` (as the ``openai`` client parsed it).

    The client passes the inside of ``{"error": {...}}`` as the body when it is
    JSON, the text when it is not: the ``message`` (or FastAPI's ``detail``)
    of a JSON body, else the whole body; a placeholder when there is none.
    """
    said: Any = body
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            if body.get(key):
                said = body[key]
                break
        if isinstance(said, dict) and said is not body:  # {"error": {"message": ...}} nested
            said = said.get("message") or said
        elif said is body and any(key in body for key in ("message", "detail")):
            said = ""  # a JSON error body whose message is empty: nothing said
    text = (said if isinstance(said, str) else body_text(said)).strip()
    if not text:
        return NO_MESSAGE
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."


def classify(exc: Exception, policy: RetryPolicy, *, timeout: float | None = None) -> Classified:
    """The failure ``exc`` stands for; see the module docstring.

    ``timeout`` is the request's limit in seconds: a timed-out request says it,
    and how to raise it, since the usual cause is a slow local model rather
    than a server that is down (the client's own words are only ``Request
    timed out.``).
    """
    import openai

    name = type(exc).__name__
    blocked = blocked_cause(exc)
    if blocked is not None:
        return Classified(type(blocked).__name__, str(blocked), False, detail=str(blocked))
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry_after: float | None = None
        header = exc.response.headers.get("retry-after") if exc.response is not None else None
        if header:
            try:
                retry_after = float(header)
            except ValueError:
                retry_after = None
        # Older clients put the body in ``message``, newer ones its message only: both
        detail = f"{exc.message} {body_text(exc.body)}"
        retryable = status in (408, 409, 429) or status >= 500
        if status == 500 and _REQUEST_VALIDATION.search(detail):
            # a server that reports its request validation as a 500: asking
            # the same again gets the same answer
            retryable = False
        return Classified(name, server_message(exc.body), retryable, status, retry_after, detail)
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        timed_out = isinstance(exc, openai.APITimeoutError)
        said = str(exc) or name
        if timed_out and timeout is not None:
            said += f" (no answer within {timeout:g} s; {TIMEOUT_HINT})"
        return Classified(name, said, policy.retry_on_timeout or not timed_out, detail=said)
    if isinstance(exc, ValueError):
        # a body that is not a chat completion (truncated JSON, an HTML error
        # page from a proxy): usually transient, so worth another attempt
        said = f"the response is not a chat completion: {exc}"
        return Classified("InvalidResponse", said, True, detail=said)
    said = str(exc) or name
    return Classified(name, said, False, detail=said)
