"""A2A push notifications from weft's HTTP server, received by a real webhook on loopback.

Every call goes through ``a2a-sdk``'s own client. The webhook gets each task
update as a ``StreamResponse`` with the config's credentials; only the hosts
a server allows get POSTs (public addresses by default, else its allow-list);
a webhook that is down or slow neither fails nor holds up the task; with a
token the push config methods want it like every other method.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from a2a.client import Client, ClientConfig, ClientFactory
from a2a.types import (
    AuthenticationInfo,
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    ListTaskPushNotificationConfigsRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    Task,
    TaskPushNotificationConfig,
    TaskState,
)
from a2a.utils.errors import InvalidParamsError, PushNotificationNotSupportedError

from weft import ActionContext, tool
from weft.runtime.interop.a2a_push import A2aPush
from weft.runtime.interop.a2a_push_policy import PushPolicy
from weft.runtime.interop.a2a_server import A2aHttpServer

from .a2a_tools import echo, refuse
from .webhook import WebhookReceiver, status_is

TOKEN = "push-test-token.0123456789"


@tool
def shout(text: str, ctx: ActionContext) -> str:
    """Shouts the text, after saying it is about to."""
    ctx.progress("shouting", 0.5)
    return text.upper()


@tool
def approve(order: str, ctx: ActionContext) -> str:
    """Asks a person before it approves an order."""
    return f"{order} approved" if ctx.ask(f"Approve {order}?") == "yes" else f"{order} held"


@tool
async def linger(text: str, ctx: ActionContext) -> str:
    """Says it started, then waits until cancelled."""
    ctx.progress("started")
    await asyncio.Event().wait()
    return text


@pytest.fixture
async def hook() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as receiver:
        yield receiver


async def sdk_client(http: httpx.AsyncClient, url: str) -> Client:
    return await ClientFactory(ClientConfig(httpx_client=http, streaming=False)).create_from_url(
        url
    )


def user_message(text: str, *, skill: str | None = None, task: Task | None = None) -> Message:
    message = Message(message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=[Part(text=text)])
    if skill:
        message.metadata.update({"skill": skill})
    if task is not None:
        message.task_id, message.context_id = task.id, task.context_id
    return message


def with_push(
    message: Message, url: str, *, return_immediately: bool = False
) -> SendMessageRequest:
    config = TaskPushNotificationConfig(
        url=url,
        token="per-task-token",
        authentication=AuthenticationInfo(scheme="Bearer", credentials="webhook-secret"),
    )
    return SendMessageRequest(
        message=message,
        configuration=SendMessageConfiguration(
            task_push_notification_config=config, return_immediately=return_immediately
        ),
    )


async def send(client: Client, request: SendMessageRequest) -> Task:
    (event,) = [e async for e in client.send_message(request)]
    return event.task


def allowing(hook: WebhookReceiver, actions: list[Any], **kwargs: Any) -> A2aHttpServer:
    return A2aHttpServer(actions, push_allow=[f"127.0.0.1:{hook.port}"], **kwargs)


async def test_the_card_says_push_notifications_unless_they_are_off() -> None:
    async with (
        A2aHttpServer([echo]) as on,
        A2aHttpServer([echo], push=False) as off,
        httpx.AsyncClient() as http,
    ):
        cards = [(await http.get(s.url + ".well-known/agent-card.json")).json() for s in (on, off)]
        task = await send(
            await sdk_client(http, off.url), SendMessageRequest(message=user_message("x"))
        )
        with pytest.raises(PushNotificationNotSupportedError):
            await (await sdk_client(http, off.url)).create_task_push_notification_config(
                TaskPushNotificationConfig(task_id=task.id, url="https://hooks.example/a2a")
            )
    assert [c["capabilities"]["pushNotifications"] for c in cards] == [True, False]


async def test_the_webhook_gets_each_update_of_a_call_through_the_sdk_client(
    hook: WebhookReceiver,
) -> None:
    async with allowing(hook, [shout]) as server, httpx.AsyncClient() as http:
        client = await sdk_client(http, server.url)
        task = await send(client, with_push(user_message("hey"), hook.url))
        headers, done = await hook.wait_for(status_is("TASK_STATE_COMPLETED"))
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    assert hook.states() == ["TASK_STATE_SUBMITTED", "TASK_STATE_WORKING", "TASK_STATE_COMPLETED"]
    assert done["statusUpdate"]["taskId"] == task.id
    (artifact,) = [b["artifactUpdate"]["artifact"] for _, b in hook.posts if "artifactUpdate" in b]
    assert artifact["parts"] == [{"text": "HEY"}]
    working = next(b for _, b in hook.posts if status_is("TASK_STATE_WORKING")((_, b)))
    assert working["statusUpdate"]["status"]["message"]["parts"] == [{"text": "shouting"}]
    assert headers["authorization"] == "Bearer webhook-secret"
    assert headers["x-a2a-notification-token"] == "per-task-token"
    assert headers["content-type"] == "application/a2a+json"


async def test_a_failed_call_is_pushed_failed_with_its_error(hook: WebhookReceiver) -> None:
    async with allowing(hook, [refuse]) as server, httpx.AsyncClient() as http:
        client = await sdk_client(http, server.url)
        await send(client, with_push(user_message("spam"), hook.url))
        _, failed = await hook.wait_for(status_is("TASK_STATE_FAILED"))
    (part,) = failed["statusUpdate"]["status"]["message"]["parts"]
    assert "will not process 'spam'" in part["text"]


async def test_a_question_is_pushed_input_required_and_its_answer_completed(
    hook: WebhookReceiver,
) -> None:
    async with allowing(hook, [approve]) as server, httpx.AsyncClient() as http:
        client = await sdk_client(http, server.url)
        task = await send(client, with_push(user_message("#7"), hook.url))
        _, asked = await hook.wait_for(status_is("TASK_STATE_INPUT_REQUIRED"))
        answered = await send(client, SendMessageRequest(message=user_message("yes", task=task)))
        await hook.wait_for(status_is("TASK_STATE_COMPLETED"))
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    assert asked["statusUpdate"]["status"]["message"]["parts"] == [{"text": "Approve #7?"}]
    assert answered.status.state == TaskState.TASK_STATE_COMPLETED
    # the answer sets the task working again before it completes
    assert hook.states()[-3:] == [
        "TASK_STATE_INPUT_REQUIRED",
        "TASK_STATE_WORKING",
        "TASK_STATE_COMPLETED",
    ]


async def test_a_cancelled_task_is_pushed_canceled(hook: WebhookReceiver) -> None:
    async with allowing(hook, [linger]) as server, httpx.AsyncClient() as http:
        client = await sdk_client(http, server.url)
        task = await send(client, with_push(user_message("x"), hook.url, return_immediately=True))
        await hook.wait_for(status_is("TASK_STATE_WORKING"))
        await client.cancel_task(CancelTaskRequest(id=task.id))
        _, canceled = await hook.wait_for(status_is("TASK_STATE_CANCELED"))
    assert canceled["statusUpdate"]["taskId"] == task.id


async def test_a_client_creates_gets_lists_and_deletes_a_task_s_push_configs(
    hook: WebhookReceiver,
) -> None:
    async with allowing(hook, [echo]) as server, httpx.AsyncClient() as http:
        client = await sdk_client(http, server.url)
        task = await send(client, SendMessageRequest(message=user_message("x")))
        made = await client.create_task_push_notification_config(
            TaskPushNotificationConfig(task_id=task.id, id="mine", url=hook.url, token="t")
        )
        got = await client.get_task_push_notification_config(
            GetTaskPushNotificationConfigRequest(task_id=task.id, id="mine")
        )
        listed = await client.list_task_push_notification_configs(
            ListTaskPushNotificationConfigsRequest(task_id=task.id)
        )
        await client.delete_task_push_notification_config(
            DeleteTaskPushNotificationConfigRequest(task_id=task.id, id="mine")
        )
        after = await client.list_task_push_notification_configs(
            ListTaskPushNotificationConfigsRequest(task_id=task.id)
        )
    assert (made.id, made.task_id, made.url) == ("mine", task.id, hook.url)
    assert got == made
    assert list(listed.configs) == [made]
    assert list(after.configs) == []


async def test_a_webhook_host_off_the_allow_list_is_refused(hook: WebhookReceiver) -> None:
    async with allowing(hook, [echo]) as server, httpx.AsyncClient() as http:
        client = await sdk_client(http, server.url)
        for url in (f"http://localhost:{hook.port}/hook", f"http://127.0.0.1:{hook.port + 1}/"):
            with pytest.raises(
                InvalidParamsError, match="refused: its host is not on this server's push"
            ):
                await send(client, with_push(user_message("x"), url))
        task = await send(client, SendMessageRequest(message=user_message("x")))
        with pytest.raises(InvalidParamsError, match="refused"):
            await client.create_task_push_notification_config(
                TaskPushNotificationConfig(task_id=task.id, url="http://169.254.169.254/")
            )
    assert hook.posts == []


async def test_by_default_a_webhook_on_loopback_is_refused(hook: WebhookReceiver) -> None:
    async with A2aHttpServer([echo]) as server, httpx.AsyncClient() as http:
        client = await sdk_client(http, server.url)
        with pytest.raises(
            InvalidParamsError, match="only to http\\(s\\) URLs on public addresses"
        ):
            await send(client, with_push(user_message("x"), hook.url))
    assert hook.posts == []


async def test_a_webhook_that_is_down_does_not_fail_the_task(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = socket.socket()  # bound, never listening: every connection is refused
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    policy = PushPolicy([f"127.0.0.1:{port}"])
    try:
        async with (
            A2aHttpServer([echo], push=A2aPush(policy, connect_retries=0)) as server,
            httpx.AsyncClient() as http,
        ):
            client = await sdk_client(http, server.url)
            with caplog.at_level(logging.ERROR, logger="a2a.server.tasks"):
                task = await send(client, with_push(user_message("x"), f"http://127.0.0.1:{port}/"))
                assert server.push is not None
                await server.push.idle()
            stored = await client.get_task(GetTaskRequest(id=task.id))
    finally:
        closed.close()
    assert task.status.state == stored.status.state == TaskState.TASK_STATE_COMPLETED
    assert any("Error sending push-notification" in r.getMessage() for r in caplog.records)


async def test_a_webhook_that_has_not_answered_does_not_hold_the_task_up(
    hook: WebhookReceiver,
) -> None:
    hook.gate = asyncio.Event()  # the webhook answers nothing until the gate opens
    async with allowing(hook, [echo]) as server, httpx.AsyncClient() as http:
        client = await sdk_client(http, server.url)
        task = await send(client, with_push(user_message("x"), hook.url))
        assert task.status.state == TaskState.TASK_STATE_COMPLETED
        assert hook.posts == []
        hook.gate.set()
        await hook.wait_for(status_is("TASK_STATE_COMPLETED"))
    assert hook.states() == ["TASK_STATE_SUBMITTED", "TASK_STATE_COMPLETED"]


async def test_with_a_token_the_push_config_methods_want_it(hook: WebhookReceiver) -> None:
    async with allowing(hook, [echo], token=TOKEN) as server:
        guarded = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(headers=guarded) as http:
            client = await sdk_client(http, server.url)
            task = await send(client, with_push(user_message("x"), hook.url))
            await hook.wait_for(status_is("TASK_STATE_COMPLETED"))
        request = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "CreateTaskPushNotificationConfig",
            "params": {"taskId": task.id, "url": hook.url},
        }
        async with httpx.AsyncClient() as http:
            refused = await http.post(server.url, json=request)
            listed = await http.post(
                server.url,
                json={**request, "method": "ListTaskPushNotificationConfigs"},
            )
    assert (refused.status_code, listed.status_code) == (401, 401)
