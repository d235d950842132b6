"""What every room of the runtime leans on: secrets redaction, logging, where state lives
and the one error for a file weft cannot use.

Nothing here imports another room, so every room may import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weft.runtime.support.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "FlushTimer": "weft.runtime.support.flush_timer",
    "StorageError": "weft.runtime.support.storage",
    "configure_logging": "weft.runtime.support.logging",
    "default_journal_path": "weft.runtime.support.home",
    "default_trace_path": "weft.runtime.support.home",
    "get_logger": "weft.runtime.support.logging",
    "register_secret": "weft.runtime.support.redaction",
    "register_sensitive": "weft.runtime.support.redaction",
    "secret": "weft.runtime.support.secrets",
    "starts_with": "weft.runtime.support.sqlite_text",
    "weft_home": "weft.runtime.support.home",
}

__all__ = [
    "FlushTimer",
    "StorageError",
    "configure_logging",
    "default_journal_path",
    "default_trace_path",
    "get_logger",
    "register_secret",
    "register_sensitive",
    "secret",
    "starts_with",
    "weft_home",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from weft.runtime.support.flush_timer import FlushTimer
    from weft.runtime.support.home import default_journal_path, default_trace_path, weft_home
    from weft.runtime.support.logging import configure_logging, get_logger
    from weft.runtime.support.redaction import register_secret, register_sensitive
    from weft.runtime.support.secrets import secret
    from weft.runtime.support.sqlite_text import starts_with
    from weft.runtime.support.storage import StorageError
