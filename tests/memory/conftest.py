"""Fixtures of the memory tests: an embedded store, and a real ``chroma run`` server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMA = Path(sys.executable).parent / "chroma"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_chroma(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A ``chroma run`` on loopback storing under ``data``, and its URL (or the test fails)."""
    exe = str(CHROMA) if CHROMA.exists() else shutil.which("chroma")
    if exe is None:
        pytest.fail("the 'chroma' command (pip install chromadb) is needed for the server tests")
    port = _free_port()
    log = (data / "server.log").open("w")
    proc = subprocess.Popen(
        [exe, "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()  # the child has its own descriptor
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(
                    f"chroma run did not start on port {port}: "
                    + (data / "server.log").read_text()[-2000:]
                )
            time.sleep(0.2)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a ``chroma run`` on loopback, started for this session."""
    proc, url = start_chroma(tmp_path_factory.mktemp("chroma-server"))
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def own_chroma_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A ``chroma run`` for one test (which may stop it): the process and its URL."""
    data = tmp_path / "chroma-server"
    data.mkdir()
    proc, url = start_chroma(data)
    yield proc, url
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=30)
