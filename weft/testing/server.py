"""A local OpenAI-compatible HTTP server that serves test models over loopback.

Tests drive the *real* ``openai`` client (request building, JSON parsing,
error classes, headers) against this server, so what passes here passes
against OpenAI, vLLM, Ollama or LiteLLM too, as far as the wire format goes.

It is a few dozen lines of HTTP/1.1 on ``asyncio.start_server`` rather than a
web framework: weft must not depend on one for its tests, and the client only
needs keep-alive, ``Content-Length`` bodies and JSON. Endpoints::

    POST /v1/chat/completions   (the model picks the answer; ``"stream": true``
                                 gets it as Server-Sent Events, see ``sse``)
    POST /v1/embeddings         (deterministic hashing vectors, float or base64)
    GET  /v1/models

Use it in async code as a context manager on the test's own loop, or with a
plain ``with`` block, which runs it on a background thread: that is what a
test needs when the code under test calls ``asyncio.run`` itself (a CLI)::

    async with OpenAIServer(ScriptedModel([text("hi")])) as server:
        agent = LLMAgent("a", base_url=server.base_url)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import struct
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

from weft.testing.models import Model, ModelRequest, parse_request, reply_json
from weft.testing.sse import stream_events
from weft.testing.steps import Failure, RawResponse, Reply, error

Embedder = Callable[[Sequence[str]], list[list[float]]]
#: Called before each chunk of a streamed answer is sent: ``(position, chunk)``.
ChunkHook = Callable[[int, dict[str, Any]], Awaitable[None]]
#: What the server does with ``stream_options``: honour it, ignore it (no usage), or refuse it.
StreamOptions = Literal["honour", "ignore", "refuse"]
#: What the server does with a streamed request that carries tools: stream the answer, or
#: send an empty stream, as llama-cpp-python's server does for ``tool_choice`` ``auto``.
StreamTools = Literal["stream", "empty"]


class _Events(list[bytes]):
    """A streamed body: the Server-Sent Events, written one by one."""


#: A response body: bytes, or the events of a streamed answer.
Body = bytes | _Events


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def hashing_embedder(dimensions: int = 32) -> Embedder:
    """Unit vectors from hashed words: deterministic, and similar texts share words."""

    def embed(texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            vec = [0.0] * dimensions
            for word in text.lower().split():
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                vec[int.from_bytes(digest[:4], "little") % dimensions] += (
                    1.0 if digest[4] & 1 else -1.0
                )
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            vectors.append([v / norm for v in vec])
        return vectors

    return embed


class OpenAIServer:
    """Serves ``model`` (or one model per requested model name) on 127.0.0.1.

    ``model`` may be a mapping from model name to model; the key ``"*"``
    answers any other name, and an unknown name gets a 404 like OpenAI's.
    ``api_key``, when set, is required as a bearer token (401 otherwise).
    Every chat request is recorded in ``requests``, whichever model served it.
    ``on_chunk`` is awaited before each chunk of a streamed answer (a test holds
    the stream there to see what arrived first); ``stream_options`` says how the
    server treats that field: ``"honour"`` (a usage chunk when asked), ``"ignore"``
    (never a usage chunk) or ``"refuse"`` (HTTP 400 naming it, as some servers do);
    ``stream_tools="empty"`` answers a streamed request with tools by a stream without
    a chunk (llama-cpp-python: "Automatic streaming tool choice is not supported").
    """

    def __init__(
        self,
        model: Model | Mapping[str, Model],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        embedder: Embedder | None = None,
        api_key: str | None = None,
        on_chunk: ChunkHook | None = None,
        stream_options: StreamOptions = "honour",
        stream_tools: StreamTools = "stream",
    ) -> None:
        self.models: Mapping[str, Model] = model if isinstance(model, Mapping) else {"*": model}
        self.host = host
        self.port = port
        self.embedder = embedder or hashing_embedder()
        self.api_key = api_key
        self.on_chunk = on_chunk
        self.stream_options = stream_options
        self.stream_tools = stream_tools
        self.requests: list[ModelRequest] = []
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._counter = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def base_url(self) -> str:
        """What to give the client as ``base_url`` (ends in ``/v1``)."""
        if self._server is None:
            raise RuntimeError("OpenAIServer is not started")
        return f"http://{self.host}:{self.port}/v1"

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> OpenAIServer:
        self._server = await asyncio.start_server(self._connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> OpenAIServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __enter__(self) -> OpenAIServer:
        """Run the server on its own thread and event loop until the block ends."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=main, name="weft-openai-server", daemon=True)
        self._thread.start()
        ready.wait(timeout=10)
        if failure:
            raise failure[0]
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._thread = None
        self._loop = None

    # -- HTTP ----------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line.strip():
                    break
                method, target, *_ = request_line.decode("latin-1").split()
                headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    key, _, value = line.decode("latin-1").partition(":")
                    headers[key.strip().lower()] = value.strip()
                body = await self._read_body(reader, headers)
                status, content_type, payload, extra = await self._dispatch(
                    method, target.split("?", 1)[0], headers, body
                )
                if isinstance(payload, _Events):
                    await self._write_events(writer, payload)
                    continue
                head = [
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
                    f"Content-Type: {content_type}",
                    f"Content-Length: {len(payload)}",
                    *(f"{k}: {v}" for k, v in extra.items()),
                    "",
                    "",
                ]
                writer.write("\r\n".join(head).encode("latin-1") + payload)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _write_events(self, writer: asyncio.StreamWriter, events: _Events) -> None:
        """A streamed answer: chunked transfer, one SSE event per chunk, then ``[DONE]``."""
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        writer.write((head + "Transfer-Encoding: chunked\r\n\r\n").encode("latin-1"))
        for position, event in enumerate([*events, b"[DONE]"]):
            if self.on_chunk is not None and event != b"[DONE]":
                await self.on_chunk(position, json.loads(event))
            data = b"data: " + event + b"\n\n"
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def _read_body(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if "content-length" in headers:
            return await reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int((await reader.readline()).strip().split(b";")[0], 16)
                if size == 0:
                    await reader.readline()
                    return b"".join(chunks)
                chunks.append(await reader.readexactly(size))
                await reader.readline()
        return b""

    async def _dispatch(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, Body, dict[str, str]]:
        """``(status, content type, body, headers)``; a streamed body is an ``_Events``."""
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            return self._failure(error(401, "invalid API key", type="invalid_request_error"))
        if path.endswith("/chat/completions"):
            if method != "POST":
                return self._failure(error(405, "use POST"))
            return await self._chat(headers, body)
        if path.endswith("/embeddings") and method == "POST":
            return self._embeddings(body)
        if path.endswith("/models") and method == "GET":
            names = [n for n in self.models if n != "*"] or ["weft-test-model"]
            data = [{"id": n, "object": "model", "created": 0, "owned_by": "weft"} for n in names]
            return (
                200,
                "application/json",
                json.dumps({"object": "list", "data": data}).encode(),
                {},
            )
        return self._failure(
            error(404, f"no endpoint {method} {path}", type="invalid_request_error")
        )

    async def _chat(
        self, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, Body, dict[str, str]]:
        try:
            request = parse_request(body, headers)
        except ValueError as exc:
            return self._failure(error(400, str(exc), type="invalid_request_error"))
        self.requests.append(request)
        streamed = request.body.get("stream") is True
        if streamed and "stream_options" in request.body and self.stream_options == "refuse":
            return self._failure(
                error(400, "Unrecognized request argument supplied: stream_options")
            )
        if streamed and request.body.get("tools") and self.stream_tools == "empty":
            return 200, "text/event-stream", _Events(), {}
        model = self.models.get(request.model) or self.models.get("*")
        if model is None:
            return self._failure(
                error(404, f"The model '{request.model}' does not exist", code="model_not_found")
            )
        try:
            step = await model.respond(request)
        except Exception as exc:  # a broken model is a server error, as with a real server
            step = error(500, f"test model raised {type(exc).__name__}: {exc}")
        if isinstance(step, Failure):
            return self._failure(step)
        if isinstance(step, RawResponse):
            return step.status, step.content_type, step.body, {}
        assert isinstance(step, Reply)
        self._counter += 1
        if streamed:
            asked = bool((request.body.get("stream_options") or {}).get("include_usage"))
            chunks = stream_events(
                step,
                request,
                self._counter,
                include_usage=asked and self.stream_options == "honour",
            )
            return 200, "text/event-stream", _Events(json.dumps(c).encode() for c in chunks), {}
        payload = json.dumps(reply_json(step, request, self._counter)).encode()
        return 200, "application/json", payload, {}

    def _embeddings(self, body: bytes) -> tuple[int, str, Body, dict[str, str]]:
        try:
            data = json.loads(body or b"{}")
        except json.JSONDecodeError as exc:
            return self._failure(error(400, f"request body is not JSON: {exc}"))
        given = data.get("input")
        texts = [given] if isinstance(given, str) else list(given or [])
        if not all(isinstance(t, str) for t in texts):
            return self._failure(error(400, "input must be a string or a list of strings"))
        vectors = self.embedder(texts)
        as_base64 = data.get("encoding_format") == "base64"
        items = [
            {
                "object": "embedding",
                "index": i,
                "embedding": (
                    base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if as_base64 else v
                ),
            }
            for i, v in enumerate(vectors)
        ]
        tokens = sum(len(t.split()) for t in texts)
        answer = {
            "object": "list",
            "data": items,
            "model": data.get("model", ""),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return 200, "application/json", json.dumps(answer).encode(), {}

    @staticmethod
    def _failure(failure: Failure) -> tuple[int, str, Body, dict[str, str]]:
        return (
            failure.status,
            "application/json",
            json.dumps(failure.body).encode(),
            failure.headers,
        )
