"""Bearer tokens on weft's HTTP endpoints (A2A and MCP): the header, its check, the words.

A server started with a token (``weft a2a serve --http ... --token-env VAR``,
``weft mcp serve --http ... --token-env VAR``) answers only requests that
carry ``Authorization: Bearer <token>`` (RFC 6750); a client given one
(``from_a2a(url, token=...)``, ``from_mcp(url, token=...)``, YAML
``token_env:``) sends it on every request. Both sides share what is here,
so the header, the refusal and the A2A card's declaration of the scheme are
spelled once. No I/O: where the token comes from is the caller's business.
"""

from __future__ import annotations

import hmac
from typing import Any

__all__ = [
    "A2A_SCHEME",
    "REFUSED",
    "WRONG_TOKEN",
    "authorization",
    "bearer_matches",
    "check_token",
    "declare_bearer",
    "refusal",
]

#: The name of the scheme in an A2A card's ``securitySchemes``.
A2A_SCHEME = "bearer"
#: What a caller that sent no token is told (with the URL before it).
REFUSED = "refused: the agent wants a bearer token (token_env / token=)"
#: What a caller whose token was not accepted is told.
WRONG_TOKEN = "refused the bearer token it was sent: check token_env / token="
#: Characters a token may hold: RFC 6750's ``b64token`` (a header value must carry it as is).
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=")


def check_token(token: str | None, source: str) -> str:
    """``token`` when it can be a bearer token; ``ValueError`` naming ``source`` (never the
    value: a token pasted in the wrong place must not end up in an error message)."""
    if not token:
        raise ValueError(f"{source} is empty: it must hold the bearer token")
    if not set(token) <= _TOKEN_CHARS:
        raise ValueError(
            f"{source} must hold a bearer token of letters, digits and -._~+/= only "
            "(no spaces; the 'Bearer ' prefix is added for you)"
        )
    return token


def authorization(token: str) -> dict[str, str]:
    """The request header that carries ``token``."""
    return {"Authorization": f"Bearer {token}"}


def bearer_matches(header: bytes | None, token: bytes) -> bool:
    """Whether an ``Authorization`` header value carries ``token``, compared in constant time
    (the scheme's letter case does not matter, RFC 7235)."""
    if header is None:
        return False
    scheme, _, given = header.strip().partition(b" ")
    if scheme.lower() != b"bearer":
        return False
    return hmac.compare_digest(given.strip(), token)


def refusal(url: str, *, sent_token: bool) -> str:
    """The message of a call an HTTP agent refused with 401: names the URL, never the token."""
    return f"{url} {WRONG_TOKEN if sent_token else REFUSED}"


def declare_bearer(card: dict[str, Any]) -> dict[str, Any]:
    """An A2A card (JSON, as ``a2a_agent_card`` makes it) that requires a bearer token.

    A2A's ``AgentCard`` names its schemes in ``securitySchemes`` (here one HTTP
    ``Bearer`` scheme) and the ones a request must satisfy in
    ``securityRequirements``; the card itself stays readable without a token,
    since a client reads it to learn this.
    """
    scheme = {
        "httpAuthSecurityScheme": {
            "scheme": "Bearer",
            "description": "Send 'Authorization: Bearer <token>' with every request; the "
            "agent card is public.",
        }
    }
    return {
        **card,
        "securitySchemes": {A2A_SCHEME: scheme},
        "securityRequirements": [{"schemes": {A2A_SCHEME: {"list": []}}}],
    }
