"""weft.testing: the scripted and function models, the local server, and the network switch."""

from __future__ import annotations

import asyncio

import openai
import pytest

from weft import RetryPolicy
from weft.agents import ChatModel, ModelCallError, ModelSettings
from weft.agents.model_requests import blocked_cause, model_http_client, sync_model_http_client
from weft.runtime.routing.embeddings.base import EmbeddingError
from weft.runtime.routing.embeddings.openai_compat import OpenAIEmbedder
from weft.testing import (
    FunctionModel,
    ModelRequestBlocked,
    OpenAIServer,
    ScriptedModel,
    block_network_models,
    is_loopback,
    network_models_blocked,
    raw,
    text,
    tool_call,
)


def client(server: OpenAIServer, **options: object) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0, **options)


async def ask(c: openai.AsyncOpenAI, content: str = "hi", model: str = "m") -> object:
    return await c.chat.completions.create(
        model=model, messages=[{"role": "user", "content": content}]
    )


async def test_scripted_steps_are_served_in_order_and_requests_recorded() -> None:
    model = ScriptedModel([text("one"), tool_call("f", {"x": 1}), text("two")])
    async with OpenAIServer(model) as server:
        c = client(server)
        first = await ask(c, "a")
        second = await ask(c, "b")
        third = await ask(c, "c")
        await c.close()
    assert first.choices[0].message.content == "one"  # type: ignore[attr-defined]
    call = second.choices[0].message.tool_calls[0]  # type: ignore[attr-defined]
    assert (call.function.name, call.function.arguments) == ("f", '{"x": 1}')
    assert second.choices[0].finish_reason == "tool_calls"  # type: ignore[attr-defined]
    assert third.choices[0].message.content == "two"  # type: ignore[attr-defined]
    assert [r.last_user_text for r in model.requests] == ["a", "b", "c"]
    model.assert_complete()


async def test_assert_complete_fails_on_unused_steps() -> None:
    model = ScriptedModel([text("used"), text("never requested")])
    async with OpenAIServer(model) as server:
        c = client(server)
        await ask(c)
        await c.close()
    with pytest.raises(AssertionError, match="1 scripted step"):
        model.assert_complete()


async def test_a_request_after_the_script_ends_is_a_server_error_and_fails_the_check() -> None:
    model = ScriptedModel([])
    async with OpenAIServer(model) as server:
        c = client(server)
        with pytest.raises(openai.InternalServerError, match="script exhausted"):
            await ask(c)
        await c.close()
    with pytest.raises(AssertionError, match="after the script was exhausted"):
        model.assert_complete()


async def test_a_function_model_may_wait_for_something_before_answering() -> None:
    release = asyncio.Event()

    async def answer(request: object) -> str:
        await asyncio.wait_for(release.wait(), timeout=5)
        return "released"

    async with OpenAIServer(FunctionModel(answer)) as server:
        c = client(server)
        pending = asyncio.ensure_future(ask(c))
        await asyncio.sleep(0)
        assert not pending.done()
        release.set()
        response = await pending
        await c.close()
    assert response.choices[0].message.content == "released"  # type: ignore[attr-defined]


async def test_models_are_chosen_by_the_requested_model_name() -> None:
    models = {"a": ScriptedModel([text("from a")]), "b": ScriptedModel([text("from b")])}
    async with OpenAIServer(models) as server:
        c = client(server)
        b = await ask(c, model="b")
        a = await ask(c, model="a")
        with pytest.raises(openai.NotFoundError, match="does not exist"):
            await ask(c, model="c")
        await c.close()
    assert b.choices[0].message.content == "from b"  # type: ignore[attr-defined]
    assert a.choices[0].message.content == "from a"  # type: ignore[attr-defined]


async def test_a_raw_broken_body_reaches_the_client_as_it_is() -> None:
    model = ScriptedModel([raw('{"choices": [', status=200)])
    async with OpenAIServer(model) as server:
        c = client(server)
        with pytest.raises(ValueError, match="Expecting value"):
            await ask(c)
        await c.close()


async def test_the_api_key_is_checked_when_the_server_requires_one() -> None:
    async with OpenAIServer(ScriptedModel([]), api_key="secret") as server:
        c = client(server)
        with pytest.raises(openai.AuthenticationError):
            await ask(c)
        await c.close()


async def test_embeddings_are_deterministic_in_float_and_base64() -> None:
    async with OpenAIServer(ScriptedModel([])) as server:
        c = client(server)
        floats = await c.embeddings.create(
            model="e", input=["red apple", "red apple", "blue sea"], encoding_format="float"
        )
        encoded = await c.embeddings.create(model="e", input="red apple")
        await c.close()
    a, b, other = (d.embedding for d in floats.data)
    assert a == b and a != other and len(a) == 32
    assert encoded.data[0].embedding == pytest.approx(a, abs=1e-6)
    assert sum(x * x for x in a) == pytest.approx(1.0)


def test_the_server_runs_on_its_own_thread_for_code_that_owns_its_loop() -> None:
    model = ScriptedModel([text("threaded")])
    with OpenAIServer(model) as server:

        async def call() -> str:
            c = client(server)
            response = await ask(c)
            await c.close()
            return response.choices[0].message.content  # type: ignore[attr-defined,no-any-return]

        assert asyncio.run(call()) == "threaded"
    model.assert_complete()


def guarded(base_url: str) -> openai.AsyncOpenAI:
    """A client made as weft makes its own: ``http_client`` from the switch."""
    http_client = model_http_client()
    assert http_client is not None  # the suite's autouse fixture is on
    return openai.AsyncOpenAI(
        base_url=base_url, api_key="k", max_retries=0, http_client=http_client
    )


async def test_the_switch_refuses_a_request_to_a_network_host_before_it_is_sent() -> None:
    c = guarded("https://models.example.com/v1")
    with pytest.raises((ModelRequestBlocked, openai.APIConnectionError)) as caught:
        await ask(c)
    await c.close()
    blocked = blocked_cause(caught.value)
    assert isinstance(blocked, ModelRequestBlocked)
    assert "models.example.com" in str(blocked)


async def test_the_switch_lets_a_request_to_the_local_server_through() -> None:
    model = ScriptedModel([text("local")])
    async with OpenAIServer(model) as server:
        c = guarded(server.base_url)
        response = await ask(c)
        await c.close()
    assert response.choices[0].message.content == "local"  # type: ignore[attr-defined]
    model.assert_complete()


def test_the_sync_client_is_guarded_too() -> None:
    http_client = sync_model_http_client()
    assert http_client is not None
    c = openai.OpenAI(
        base_url="http://10.0.0.1/v1", api_key="k", max_retries=0, http_client=http_client
    )
    with pytest.raises((ModelRequestBlocked, openai.APIConnectionError)) as caught:
        c.embeddings.create(model="m", input=["x"])
    c.close()
    assert isinstance(blocked_cause(caught.value), ModelRequestBlocked)


async def test_a_chat_model_reports_the_block_itself_and_does_not_retry_it() -> None:
    chat = ChatModel(
        ModelSettings(base_url="https://models.example.com/v1"),
        retry=RetryPolicy(max_attempts=3, initial_delay=0),
    )
    async with chat.session() as session:
        with pytest.raises(ModelCallError) as caught:
            await session.complete([{"role": "user", "content": "hi"}])
    assert (caught.value.error_type, caught.value.retryable) == ("ModelRequestBlocked", False)
    assert "models.example.com" in str(caught.value) and "(after" not in str(caught.value)


async def test_an_embedder_reports_the_block_in_its_error() -> None:
    embedder = OpenAIEmbedder(base_url="https://models.example.com/v1", max_retries=0)
    with pytest.raises(EmbeddingError, match=r"blocked"):
        await embedder.aembed(["hello"])


async def test_the_switch_nests_and_restores() -> None:
    with block_network_models():
        with block_network_models():
            assert network_models_blocked()
        assert network_models_blocked()
    assert network_models_blocked()  # still inside the autouse block


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("10.0.0.1", False),
        ("api.openai.com", False),
        ("localhost.example.com", False),
    ],
)
def test_loopback_hosts(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected
