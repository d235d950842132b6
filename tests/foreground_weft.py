"""``weft`` in a child process that takes Ctrl-C as a terminal's foreground job does.

A process started in the background inherits SIGINT ignored; this one puts Python's
``KeyboardInterrupt`` handler back first, so a test's SIGINT is a user's Ctrl-C.
Shared by ``test_interrupt`` and ``test_sigterm_stops_run``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LAUNCH = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from weft.cli import main; main()"
)


def foreground_weft(folder: Path, *args: str, home: Path | None = None) -> subprocess.Popen[str]:
    """``weft ARGS`` run from ``folder`` (``$WEFT_HOME`` at ``home`` when given), pipes open."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if home is not None:
        env["WEFT_HOME"] = str(home)
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, *args],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
