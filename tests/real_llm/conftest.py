"""A real OpenAI-compatible server for the suite: llama-cpp-python serving SmolLM2-135M.

Started once per session with ``scripts/real-llm-server`` (which installs what
is missing) on a free loopback port. A server that cannot be installed or
does not answer is a failure with instructions, never a skip: a suite that
silently drops its real-server half proves nothing about real servers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "real-llm-server"
#: Model loading is a second or two; the first start may also install (minutes).
START_TIMEOUT_S = float(os.environ.get("WEFT_REAL_LLM_START_TIMEOUT", "1200"))
MODEL = "smollm2"
REQUEST_TIMEOUT_S = "300"
#: Enough for a two-subtask plan; a tiny model left unbounded may ramble to its context's end.
MAX_TOKENS = "600"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="session")
def real_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running llama-cpp-python server (``.../v1``).

    Model requests get ``REQUEST_TIMEOUT_S`` (``WEFT_MODEL_TIMEOUT``): a 135M
    model on two busy cores can take more than the default 60 s to read a
    planner's long prompt and write a plan under a grammar; and at most
    ``MAX_TOKENS`` (``WEFT_MAX_TOKENS``) per reply.
    """
    port = _free_port()
    log = tmp_path_factory.mktemp("real-llm") / "server.log"
    env = {**os.environ, "PYTHON": sys.executable}
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(SCRIPT), str(port)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while not _answers(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"the real LLM server did not start (scripts/real-llm-server {port}, "
                    f"exit {process.poll()}); its output:\n{log.read_text()[-3000:]}\n"
                    "Run ./scripts/real-llm-server --install to see what is missing.",
                    pytrace=False,
                )
            time.sleep(0.5)
        settings = {"WEFT_MODEL_TIMEOUT": REQUEST_TIMEOUT_S, "WEFT_MAX_TOKENS": MAX_TOKENS}
        previous = {name: os.environ.get(name) for name in settings}
        os.environ.update(settings)
        try:
            yield base_url
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
