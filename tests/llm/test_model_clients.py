"""The clients weft makes for model calls: cheap to make, so parallel LLM calls stay parallel."""

from __future__ import annotations

import importlib
import ssl
from typing import Any

import openai
import pytest

import weft
from weft.agents import LLMAgent, model_requests
from weft.agents.model_requests import model_http_client, shared_tls_context
from weft.testing import FunctionModel, ModelRequest, OpenAIServer, text


@pytest.fixture
def tls_contexts_made(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every TLS context made from here on: by weft, or by a client's transport for itself.

    The HTTP library ``openai`` is built on (httpx, or httpx2 in newer releases) makes its
    transports' contexts with ``create_ssl_context`` in ``_transports.default``; one given a
    context (``verify=ctx``) makes none.
    """
    made: list[object] = []
    library = model_requests._library_of(openai.DefaultAsyncHttpxClient)
    assert library is not None, "the HTTP library of openai has no create_ssl_context"
    transports = importlib.import_module(
        library.__module__.partition(".")[0] + "._transports.default"
    )
    original = transports.create_ssl_context

    def counted(verify: Any = True, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(verify, ssl.SSLContext):
            made.append(verify)
        return original(verify, *args, **kwargs)

    def made_by_weft() -> Any:
        made.append("shared")
        return original()

    monkeypatch.setattr(transports, "create_ssl_context", counted)
    monkeypatch.setattr(model_requests, "_library_of", lambda client_class: made_by_weft)
    monkeypatch.setattr(model_requests, "_tls", None)
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    return made


@weft.tool
def numbers(n: int) -> list[int]:
    """The numbers 0 to n-1."""
    return list(range(n))


async def test_a_foreach_of_llm_calls_loads_the_certificates_once(
    tls_contexts_made: list[object],
) -> None:
    # Each call makes its own client; each client used to load the CA bundle on the event
    # loop (20-200 ms of CPU), so parallel LLM calls waited for each other's loads.
    async def answer(request: ModelRequest) -> Any:
        return text(f"done {request.messages[-1]['content']}")

    async with OpenAIServer(FunctionModel(answer)) as server:
        agent = LLMAgent("worker", base_url=server.base_url, model="m")
        workflow = weft.Workflow("fan-out")
        items = workflow.node("items", numbers, with_={"n": 8})
        workflow.node(
            "each", agent, after=items, foreach="${items}", with_={"task": "item ${item}"}
        )
        result = await weft.run_workflow(workflow, record=False)
    assert result.nodes["each"].output == [f"done item {i}" for i in range(8)]
    assert tls_contexts_made == ["shared"]


def test_the_shared_context_is_made_again_when_the_certificate_settings_change(
    tls_contexts_made: list[object], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    first = shared_tls_context()
    assert shared_tls_context() is first
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))  # a folder of CA certificates (empty)
    assert shared_tls_context() is not first
    assert tls_contexts_made == ["shared", "shared"]


def test_a_client_outside_a_block_has_no_hook_and_inside_one_refuses_other_hosts() -> None:
    guarded = model_http_client()  # the suite's autouse fixture blocks network models
    assert guarded.event_hooks["request"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(model_requests, "_depth", 0)
        assert model_http_client().event_hooks["request"] == []
