"""``mqtt://`` and ``mqtts://`` URLs, read one way by the bus, the A2A client and YAML.

``mqtt://[user:password@]host[:port][/path][?options]``: ``mqtts`` means TLS
and port 8883 by default, ``mqtt`` port 1883. Each reader adds its own rules
(the bus its TLS options, A2A the agent's path); the scheme, host, port and
login are checked here, so a bad URL is refused with the same words wherever
it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit


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
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"{what} {url!r} must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError(f"{what} {url!r} has no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{what} {url!r} has a bad port") from None
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
