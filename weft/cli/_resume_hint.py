"""The options a ``weft resume`` hint line needs, shared by ``weft run``, ``weft resume``
and ``weft ask``: whichever command stops a run prints the same command to finish it."""

from __future__ import annotations

import shlex
from urllib.parse import urlsplit, urlunsplit

from weft.cli._broker import from_environment


def again_options(journal_path: str | None, broker: str | None, namespace: str | None) -> str:
    """The options a later ``weft resume`` of this run needs, for the hint lines: the
    journal, and the broker and namespace given on the command line (not from the
    environment, which the next command has too). A password in the URL shows as ``***``."""
    flags: list[str] = []
    if journal_path:
        flags += ["--journal", journal_path]
    if broker is not None and not from_environment():
        flags += ["--broker", without_password(broker)]
        if namespace and namespace != "default" and not from_environment("namespace"):
            flags += ["--namespace", namespace]
    return "".join(f" {shlex.quote(flag)}" for flag in flags)


def without_password(url: str) -> str:
    """``url`` with its password as ``***``: a hint line is shown and copied around."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    login = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=login + parts.netloc.rpartition("@")[2]))
