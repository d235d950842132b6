"""Pytest fixtures for LLM tests: no real model calls, and a local server on demand.

Enable for a whole suite with ``pytest_plugins = ["weft.testing.pytest_plugin"]``
in the root ``conftest.py`` (it needs pytest and pytest-asyncio:
``pip install 'weft[testing]'``): the autouse fixture then blocks every non-loopback
model request in every test. ``openai_server`` serves a fresh ``ScriptedModel``
(reachable as ``openai_server.script``) and checks nothing itself, so a test
decides when to ``assert_complete()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from weft.agents.model_requests import block_network_models
from weft.testing.models import ScriptedModel
from weft.testing.server import OpenAIServer


@pytest.fixture(autouse=True)
def _weft_block_network_models() -> Iterator[None]:
    """Every test runs with non-loopback model requests blocked."""
    with block_network_models():
        yield


@pytest.fixture
def scripted_model() -> ScriptedModel:
    """An empty script; add steps with ``scripted_model.add(...)``."""
    return ScriptedModel()


@pytest_asyncio.fixture
async def openai_server(scripted_model: ScriptedModel) -> AsyncIterator[OpenAIServer]:
    """An ``OpenAIServer`` on the test's loop serving ``scripted_model``."""
    async with OpenAIServer(scripted_model) as server:
        yield server
