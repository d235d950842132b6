"""Which webhook URLs weft's A2A server will POST push notifications to (SSRF guard).

A client names the webhook, and the server then makes requests from inside
its own network: left open, any client could have it POST to the cloud
metadata address, an admin port on loopback or a service behind the
firewall. So every URL is screened twice, when a client sets a push config
(a refused one is a JSON-RPC "invalid params" error naming the URL) and
again before each POST (a name may resolve elsewhere by then):

- by default (``PushPolicy()``), ``a2a-sdk``'s own policy
  (``validate_push_notification_url``): ``http``/``https`` URLs whose host
  resolves only to public unicast addresses, so no loopback, private,
  link-local (``169.254.169.254``), shared or reserved ones, as A2A's
  security section asks;
- with an allow-list (``PushPolicy(["127.0.0.1:9000", "hooks.example"])``,
  ``weft a2a serve --push-allow``), exactly the listed hosts, any port of
  an entry without one: the way to allow a webhook on loopback or a
  private network, and the tighter choice for a public server. Hosts are
  compared as written (``localhost`` is not ``127.0.0.1``); IP addresses
  in their canonical form.

The POSTs follow no redirects, so a listed host cannot send one elsewhere.
``a2a-sdk`` is imported when a URL is screened, so that the CLI can parse
``--push-allow`` without it.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["PushPolicy", "PushTarget"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _canonical_host(host: str) -> str:
    host = host.strip().lower()
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        return host.rstrip(".")


@dataclass(frozen=True)
class PushTarget:
    """One allow-list entry: a host, and the one port allowed (``None``: any)."""

    host: str
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> PushTarget:
        """``HOST``, ``HOST:PORT``, ``[IPv6]`` or ``[IPv6]:PORT``; ``ValueError`` naming
        the entry when it is none of these (a URL, an empty host, a bad port)."""
        entry = text.strip()
        if "://" in entry or "/" in entry:
            raise ValueError(f"{text!r} is a URL: give HOST or HOST:PORT, e.g. 127.0.0.1:9000")
        host, port = entry, ""
        if entry.startswith("["):
            host, bracket, rest = entry[1:].partition("]")
            if not bracket or (rest and not rest.startswith(":")):
                raise ValueError(f"{text!r} is not [IPv6] or [IPv6]:PORT")
            port = rest[1:]
            if rest and not port:
                raise ValueError(f"{text!r} has no port after ':'")
        elif entry.count(":") == 1:
            host, _, port = entry.partition(":")
            if not port:
                raise ValueError(f"{text!r} has no port after ':'")
        if not host:
            raise ValueError(f"{text!r} has no host: give HOST or HOST:PORT")
        if port and (not port.isdigit() or not 1 <= int(port) <= 65535):
            raise ValueError(f"{text!r}: port {port!r} is not a number in 1..65535")
        return cls(_canonical_host(host), int(port) if port else None)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


class PushPolicy:
    """The webhook URLs this server POSTs to (module docstring): the SDK's public-address
    policy, or exactly the hosts of ``allow`` (``PushTarget``s or their text)."""

    def __init__(self, allow: Iterable[PushTarget | str] | None = None) -> None:
        targets = [t if isinstance(t, PushTarget) else PushTarget.parse(t) for t in allow or ()]
        self.allow: tuple[PushTarget, ...] | None = tuple(targets) or None

    def describe(self) -> str:
        """The policy in a few words, for the server's status line."""
        if self.allow is None:
            return "webhooks on public addresses only"
        return "webhooks on " + ", ".join(str(t) for t in self.allow)

    def _listed(self, url: str) -> bool:
        assert self.allow is not None
        try:
            parsed = urllib.parse.urlsplit(url)
            port = parsed.port
        except ValueError:
            return False
        if parsed.scheme not in _DEFAULT_PORTS or not parsed.hostname:
            return False
        host = _canonical_host(parsed.hostname)
        port = port or _DEFAULT_PORTS[parsed.scheme]
        return any(t.host == host and t.port in (None, port) for t in self.allow)

    async def allows(self, url: str) -> bool:
        """Whether a notification may be POSTed to ``url`` (checked before each POST)."""
        if self.allow is None:
            from a2a.utils.push_url_validator import validate_push_notification_url

            return await validate_push_notification_url(url)
        return self._listed(url)

    async def check(self, url: str) -> bool:
        """``allows``, for a client setting a config: a refused URL raises the SDK's
        ``InvalidParamsError`` (JSON-RPC -32602) saying why, so the client learns it at once."""
        from a2a.utils.errors import InvalidParamsError

        if await self.allows(url):
            return True
        if self.allow is None:
            why = (
                "this server posts push notifications only to http(s) URLs on public "
                "addresses (its operator can allow others with --push-allow HOST[:PORT])"
            )
        else:
            why = "its host is not on this server's push allow-list (--push-allow)"
        raise InvalidParamsError(message=f"push notification URL {url!r} refused: {why}")
