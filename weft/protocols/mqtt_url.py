"""``mqtt://`` and ``mqtts://`` URLs, read one way by the bus, the A2A client and YAML.

``mqtt://[user:password@]host[:port][/path][?options]``: ``mqtts`` means TLS
and port 8883 by default, ``mqtt`` port 1883. Each reader adds its own rules
(the bus its TLS options, A2A the agent's path); the scheme, host, port and
login are checked here, so a bad URL is refused with the same words wherever
it is given. The TLS options (``?ca=&cert=&key=&insecure=1``) are read here
too, and turned into an ``ssl.SSLContext`` here, for the same reason.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from weft.protocols.errors import WeftError


@dataclass(frozen=True, slots=True)
class MqttUrl:
    """The parts of a broker URL; ``path`` without its slashes, ``query`` as lists."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None
    path: str = ""
    query: dict[str, list[str]] = field(default_factory=dict)


def split_mqtt_url(url: str, what: str = "broker URL") -> MqttUrl:
    """``url``'s parts; ``ValueError`` naming ``what`` and what is wrong with it."""
    parts = urlsplit(url)
    shown = _without_password(url, parts.password)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"{what} {shown!r} must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError(f"{what} {shown!r} has no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{what} {shown!r} has a bad port") from None
    tls = parts.scheme == "mqtts"
    return MqttUrl(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        path=parts.path.strip("/"),
        query=parse_qs(parts.query, keep_blank_values=True),
    )


def _without_password(url: str, password: str | None) -> str:
    """``url`` with its password as ``***``: a refused URL is echoed in an error, which
    must not show the password given in it (the bus's ``redacted`` does the same)."""
    netloc = urlsplit(url).netloc
    if not password or "@" not in netloc:
        return url
    login, _, host = netloc.rpartition("@")
    return url.replace(netloc, f"{login.partition(':')[0]}:***@{host}", 1)


#: The query options of a broker URL, the same for the bus and the A2A client.
TLS_OPTIONS = ("ca", "cert", "insecure", "key")
_TRUE = ("1", "true", "yes")


@dataclass(frozen=True, slots=True)
class MqttTls:
    """What a broker URL's query says about TLS: ``?ca=&cert=&key=&insecure=1``.

    ``ca_file`` is the CA bundle that verifies the broker (the system's CAs
    when absent); ``cert_file``/``key_file`` a client certificate (the key may
    sit in the certificate's file); ``insecure`` skips the host name check
    (self-signed test setups only). Read by ``tls_options``; turned into an
    ``ssl.SSLContext`` by ``tls_context``.
    """

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False


class MqttTlsError(WeftError, ValueError):
    """A TLS option of a broker URL names a file that cannot be used.

    A ``ValueError`` (a bad URL is one everywhere in this module); readers
    that have an error type of their own (the bus's ``BusError``) re-raise
    its message as that.
    """


def tls_options(parts: MqttUrl, url: str, what: str = "broker URL") -> MqttTls:
    """The TLS options of ``url`` (split by ``split_mqtt_url``); ``ValueError`` for an
    unknown option, or a TLS option on a plain ``mqtt://`` URL (it would be ignored)."""
    query = parts.query
    unknown = set(query) - set(TLS_OPTIONS)
    if unknown:
        raise ValueError(
            f"{what} {url!r}: unknown option(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(TLS_OPTIONS)})"
        )
    if query and not parts.tls:
        raise ValueError(
            f"{what} {url!r}: the option(s) {', '.join(sorted(query))} need TLS: "
            "use mqtts:// (port 8883 unless given)"
        )

    def last(key: str) -> str | None:
        values = query.get(key)
        return values[-1] if values else None

    return MqttTls(
        ca_file=last("ca"),
        cert_file=last("cert"),
        key_file=last("key"),
        insecure=(last("insecure") or "").lower() in _TRUE,
    )


def tls_context(tls: MqttTls, what: str = "broker URL") -> ssl.SSLContext:
    """An ``ssl.SSLContext`` for a client of the broker, as ``tls`` says.

    The one place both MQTT clients (the bus and the A2A client) turn the
    options into TLS, so they mean the same and fail with the same words.
    Unlike the rest of ``weft.protocols`` this reads files: the certificates
    the options name, when called (at connect), never at import or parse.
    Raises ``MqttTlsError`` naming the option and the file that cannot be used.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if tls.ca_file is not None:
        _must_exist(tls.ca_file, "ca", what)
        try:
            context.load_verify_locations(cafile=tls.ca_file)
        except (ssl.SSLError, OSError) as exc:
            raise MqttTlsError(
                f"{what} option ca={tls.ca_file!r}: not a PEM CA certificate bundle ({exc})"
            ) from None
    if tls.key_file is not None and tls.cert_file is None:
        raise MqttTlsError(f"{what} option key={tls.key_file!r} needs cert= (the certificate)")
    if tls.cert_file is not None:
        _must_exist(tls.cert_file, "cert", what)
        if tls.key_file is not None:
            _must_exist(tls.key_file, "key", what)
        try:
            context.load_cert_chain(tls.cert_file, tls.key_file)
        except (ssl.SSLError, OSError) as exc:
            raise MqttTlsError(
                f"{what} options cert={tls.cert_file!r} key={tls.key_file!r}: "
                f"not a PEM client certificate and its private key ({exc})"
            ) from None
    if tls.insecure:
        context.check_hostname = False
    return context


def _must_exist(path: str, option: str, what: str) -> None:
    if not os.path.isfile(path):
        why = "is not a file" if os.path.exists(path) else "no such file"
        raise MqttTlsError(f"{what} option {option}={path!r}: {why}")
