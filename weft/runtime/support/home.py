"""Where weft keeps its state on disk: one place, so every room agrees on it."""

from __future__ import annotations

import os
from pathlib import Path


def weft_home() -> Path:
    """Where weft keeps its journal and traces: ``$WEFT_HOME`` or ``./.weft``."""
    return Path(os.environ.get("WEFT_HOME") or ".weft")


def default_journal_path() -> Path:
    """The run journal that ``weft run``, ``weft resume`` and ``weft runs`` share."""
    return weft_home() / "journal.db"


def default_trace_path() -> Path:
    """The trace store that every traced run writes to unless told otherwise."""
    return weft_home() / "traces.db"


def identity_home() -> Path:
    """Where this user's agent keys and trust list live: ``$WEFT_HOME``, else ``~/.weft``.

    Unlike the journal (``./.weft``, one per project), an identity belongs to
    the user: an agent started in one folder and a caller started in another
    must find the same key, or the caller would not trust its own agents.
    """
    configured = os.environ.get("WEFT_HOME")
    return Path(configured) if configured else Path.home() / ".weft"


def default_key_path() -> Path:
    """The private key ``weft agent serve`` signs its card with unless given ``--key``."""
    return identity_home() / "keys" / "agent.key"


def default_trust_path() -> Path:
    """The trust list a caller reads unless given ``--trust`` or ``$WEFT_TRUST``."""
    return identity_home() / "trust.yaml"
