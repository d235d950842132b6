"""Why a broker refused a client at connect, in the same words for the bus and the A2A client.

A wrong password, a login the broker does not admit, or a broker certificate
the client does not trust is a mistake in the URL (or in the broker's users),
not an outage: connecting again gets the same answer. Both MQTT clients of
weft (the bus on paho, the A2A requester on aiomqtt) ask these two functions
whether a failed connect is such a refusal, and stop at once with their
words when it is, instead of retrying or waiting as for a broker that is
down. Neither function ever sees or returns the password.

Refusals are told apart by what the broker or the TLS layer reports, never
by message text: the CONNACK's MQTT v5 reason code (``connack_refusal``)
and the ``ssl`` exception in the connect error's chain (``tls_refusal``).
A reason code that may pass (0x88 server unavailable, 0x89 server busy,
0x97 quota exceeded, 0x9F connection rate exceeded) is not a refusal here:
``None``, and the caller treats it as it treats an unreachable broker.
"""

from __future__ import annotations

import ssl

__all__ = [
    "BAD_USER_NAME_OR_PASSWORD",
    "CLOSED_BEFORE_CONNACK",
    "NOT_AUTHORIZED",
    "RESET_IN_TLS_HANDSHAKE",
    "closed_before_connack",
    "connack_refusal",
    "tls_refusal",
]

#: MQTT v5 CONNACK reason code 0x86, "Bad User Name or Password".
BAD_USER_NAME_OR_PASSWORD = 0x86
#: MQTT v5 CONNACK reason code 0x87, "Not authorized" (Mosquitto's answer to a wrong password).
NOT_AUTHORIZED = 0x87
#: The other codes that say this client, as configured, will not be let in.
_FINAL = {
    0x84: "the broker does not speak this MQTT version (unsupported protocol version)",
    0x85: "the broker does not accept this client id (client identifier not valid)",
    0x8A: "this client is banned",
    0x8C: "the broker wants another authentication method (bad authentication method)",
}
#: A broker that drops the socket instead of answering the CONNECT: how TLS 1.3 refuses a
#: client certificate, and what a TLS listener does with plain MQTT (or a full broker).
CLOSED_BEFORE_CONNACK = "the broker closed the connection before accepting it"
#: MQTT 3.1.1 CONNACK return codes (4 bad user name or password, 5 not authorized) as v5's.
_V311 = {4: BAD_USER_NAME_OR_PASSWORD, 5: NOT_AUTHORIZED}
_LOGIN_HINT = "give one in the URL: mqtt://USER:PASSWORD@HOST:PORT"
_UNTRUSTED = "use ?ca=FILE with the CA that signed the broker's certificate"
_PLAIN_PORT = " (is this a TLS listener? for a plain one use mqtt://)"
#: What a plain MQTT listener does with a TLS ClientHello: it drops the socket mid-handshake.
RESET_IN_TLS_HANDSHAKE = (
    "the broker reset the TLS handshake: is this a plain MQTT listener? then use mqtt://"
)
#: How that drop surfaces in the TLS client.
_RESET_IN_HANDSHAKE = (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError)
_HOSTNAME_MISMATCH = 62  # X509_V_ERR_HOSTNAME_MISMATCH
#: ssl errors of a connection cut short (the peer went away), not of a refusal.
_CUT_SHORT = (ssl.SSLEOFError, ssl.SSLSyscallError, ssl.SSLZeroReturnError)


def connack_refusal(code: int, username: str | None, *, v311: bool = False) -> str | None:
    """Why the broker refused the connection, from its CONNACK reason ``code``; ``None``
    when the code is not a refusal of this client (e.g. server busy: try again later).

    ``username`` is the login the client sent (``None``: none); it is named, the
    password never is. ``v311`` reads ``code`` as an MQTT 3.1.1 return code.
    """
    if v311:
        mapped = _V311.get(code)
        if mapped is None:
            return None
        code = mapped
    tag = f"MQTT reason code 0x{code:02X}"
    if code == BAD_USER_NAME_OR_PASSWORD:
        who = f" of user {username!r}" if username else ""
        return f"bad username or password: the login{who} was refused ({tag})"
    if code == NOT_AUTHORIZED and username:
        return (
            f"not authorized: the login of user {username!r} was refused "
            f"(bad password, or a user the broker does not admit; {tag})"
        )
    if code == NOT_AUTHORIZED:
        return f"not authorized: the broker admits no client without a login ({_LOGIN_HINT}; {tag})"
    words = _FINAL.get(code)
    return f"{words} ({tag})" if words else None


def tls_refusal(error: BaseException) -> str | None:
    """Why TLS failed, when an ``ssl`` error is in ``error``'s chain (its cause or the
    exception it was raised while handling: aiomqtt re-raises ``from None``, which
    keeps the original as the context); ``None`` when there is none, or when the
    connection was only cut short."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            what = current.verify_message or current.reason or "the certificate chain"
            if current.verify_code == _HOSTNAME_MISMATCH:
                return (
                    f"TLS: certificate verify failed: {what} (the broker's certificate does "
                    "not name this host: connect by a name it has; ?insecure=1 skips this "
                    "check, for test setups only)"
                )
            return f"TLS: certificate verify failed: {what} ({_UNTRUSTED})"
        if isinstance(current, ssl.SSLError) and not isinstance(current, _CUT_SHORT):
            reason = current.reason or ""
            hint = _PLAIN_PORT if reason == "WRONG_VERSION_NUMBER" else ""
            if "ALERT" in reason:  # the broker's TLS stack sent an alert: it refused this client
                hint = f" ({closed_before_connack(True)})"
            return f"TLS: {reason or current}{hint}"
        current = current.__cause__ or current.__context__
    return None


def closed_before_connack(tls: bool) -> str:
    """What to check when the broker closed the socket before its CONNACK (``tls``: the
    URL is ``mqtts://``), to follow ``CLOSED_BEFORE_CONNACK``. Not a refusal by itself:
    a broker at its connection limit does the same, so callers treat it as an
    unreachable broker, only at once instead of after their connect timeout."""
    if tls:
        return "does it require a client certificate, and trust this one?"
    return "is this a TLS listener? then use mqtts://"


def reset_in_tls_handshake(error: BaseException) -> bool:
    """Whether ``error`` (or one in its chain: MQTT clients wrap the socket's error) is
    the drop a plain listener answers a TLS ClientHello with (``RESET_IN_TLS_HANDSHAKE``
    says what to check); only meaningful for an ``mqtts://`` connection."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _RESET_IN_HANDSHAKE):
            return True
        current = current.__cause__ or current.__context__
    return False
