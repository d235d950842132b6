"""The ``weft`` command. Each command group lives in its own module and registers here.

User mistakes (``WeftError``) are printed as one clear message and exit with
status 2; nothing a user can cause ends in a traceback. Heavy imports happen
inside commands so that ``weft --help`` starts fast.
"""

from __future__ import annotations

from weft.cli._app import cli, main

__all__ = ["cli", "main"]
