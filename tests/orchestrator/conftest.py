"""Orchestrator tests run the real openai client against OpenAIServer, never the network."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from weft import RetryPolicy
from weft.testing import block_network_models


@pytest.fixture(autouse=True)
def _no_network_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Block non-loopback model requests and ignore the developer's own model settings."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "WEFT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    with block_network_models():
        yield


@pytest.fixture
def no_wait() -> RetryPolicy:
    """Retries without delays, so retry tests take no time."""
    return RetryPolicy(max_attempts=3, initial_delay=0.0, jitter=False)
