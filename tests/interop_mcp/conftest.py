"""An MCP server process written with the SDK (``mcp_server_fixture.py``), over stdio and HTTP."""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

FIXTURE = Path(__file__).with_name("mcp_server_fixture.py")


@pytest.fixture(autouse=True)
def _stdio_servers_keep_weft_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK starts a stdio server with a bare environment (``HOME``, ``PATH``...);
    ``WEFT_HOME``, a temporary folder per test (tests/conftest.py), goes along too, so
    that the traces of ``weft mcp serve`` stay out of the working tree."""
    from mcp.client import stdio

    inherited = [*stdio.DEFAULT_INHERITED_ENV_VARS, "WEFT_HOME"]
    monkeypatch.setattr(stdio, "DEFAULT_INHERITED_ENV_VARS", inherited)


#: The fixture server as a command line, as a user writes it after ``mcp:``.
STDIO_COMMAND = f"{shlex.quote(sys.executable)} {shlex.quote(str(FIXTURE))}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Until something accepts on ``port``; fails at once if ``process`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def stdio_command() -> str:
    return STDIO_COMMAND


@pytest.fixture(scope="session")
def http_url() -> Iterator[str]:
    """The fixture server on streamable HTTP, one process for the whole session."""
    port = free_port()
    process = subprocess.Popen([sys.executable, str(FIXTURE), "http", str(port)])
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(process)
