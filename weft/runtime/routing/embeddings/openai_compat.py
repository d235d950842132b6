"""Embeddings from any OpenAI-compatible ``/v1/embeddings`` endpoint.

OpenAI itself, vLLM, Ollama, llama.cpp's server, LiteLLM and text-embeddings-
inference all speak this wire format. The ``openai`` package is imported on
first use. ``base_url`` and ``api_key`` default to ``$OPENAI_BASE_URL`` and
``$OPENAI_API_KEY`` (the client's own defaults); a local server that needs no
key gets a placeholder so the client does not refuse to start. The clients
take their ``http_client`` from ``weft.agents.model_requests``, so a test's
``block_network_models()`` keeps them on loopback.

``model_id`` defaults to the model name. Two servers may serve different
weights under one name; give an explicit ``model_id`` (for example
``"ollama/nomic-embed-text@v1.5"``) when vectors from them must not meet.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from weft.agents.model_requests import (
    ModelRequestBlocked,
    blocked_cause,
    model_http_client,
    sync_model_http_client,
)
from weft.runtime.routing.embeddings.base import EmbeddingError, Vectors, normalise

#: Output sizes of well-known models, so the dimension is known before the first call.
KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


class OpenAIEmbedder:
    """``Embedder`` over the ``openai`` client's ``embeddings.create``.

    ``dimensions`` is passed to the endpoint (text-embedding-3 models shorten
    their vectors on request). When the size is neither given nor known for the
    model, it is learnt from the first response; reading ``dimension`` before
    then raises ``EmbeddingError``. Requests are sent ``batch_size`` texts at a
    time; the client retries transient failures ``max_retries`` times, then
    ``EmbeddingError`` is raised naming the URL.
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        dimensions: int | None = None,
        model_id: str | None = None,
        batch_size: int = 256,
        timeout_s: float = 30.0,
        max_retries: int = 2,
    ) -> None:
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        self._api_key = api_key
        self.dimensions = dimensions
        self.model_id = model_id or (f"{model}@{dimensions}" if dimensions else model)
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._dimension: int | None = dimensions or KNOWN_DIMENSIONS.get(model)
        self._sync_client: Any = None
        self._async_client: Any = None

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            raise EmbeddingError(
                f"the dimension of embedding model '{self.model}' is not known before its first "
                "call; pass dimensions=N to OpenAIEmbedder"
            )
        return self._dimension

    def _client_args(self) -> dict[str, Any]:
        key = self._api_key or os.environ.get("OPENAI_API_KEY")
        if key is None and self.base_url:
            key = "not-needed"  # local servers ignore it; the client insists on one
        if key is None:
            raise EmbeddingError(
                f"OpenAIEmbedder({self.model!r}) needs an endpoint: set OPENAI_API_KEY for "
                "api.openai.com, or OPENAI_BASE_URL (base_url=) for an OpenAI-compatible server"
            )
        return {
            "base_url": self.base_url,
            "api_key": key,
            "timeout": self.timeout_s,
            "max_retries": self.max_retries,
        }

    def _import(self) -> Any:
        try:
            import openai
        except ImportError:
            raise EmbeddingError(
                "OpenAIEmbedder needs the openai package: pip install openai"
            ) from None
        return openai

    def _request(self, chunk: list[str]) -> dict[str, Any]:
        args: dict[str, Any] = {"model": self.model, "input": chunk}
        if self.dimensions:
            args["dimensions"] = self.dimensions
        return args

    def _collect(self, responses: list[Any], count: int) -> Vectors:
        rows: list[list[float]] = []
        for response in responses:
            rows.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        if len(rows) != count:
            raise EmbeddingError(
                f"embedding endpoint {self.base_url or 'api.openai.com'} returned {len(rows)} "
                f"vectors for {count} texts"
            )
        if not rows:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        vectors = normalise(np.asarray(rows, dtype=np.float32))
        if self._dimension is None:
            self._dimension = int(vectors.shape[1])
        elif vectors.shape[1] != self._dimension:
            raise EmbeddingError(
                f"embedding model '{self.model}' returned {vectors.shape[1]}-d vectors, "
                f"expected {self._dimension}"
            )
        return vectors

    def _failed(self, exc: Exception) -> EmbeddingError:
        where = self.base_url or "api.openai.com"
        reason = blocked_cause(exc) or exc
        return EmbeddingError(
            f"embedding request to {where} (model '{self.model}') failed: {reason}"
        )

    def _chunks(self, texts: Sequence[str]) -> list[list[str]]:
        items = [t if t.strip() else " " for t in texts]  # the API rejects empty strings
        return [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]

    def embed(self, texts: Sequence[str]) -> Vectors:
        openai = self._import()
        if self._sync_client is None:
            self._sync_client = openai.OpenAI(
                **self._client_args(), http_client=sync_model_http_client()
            )
        try:
            responses = [
                self._sync_client.embeddings.create(**self._request(chunk))
                for chunk in self._chunks(texts)
            ]
        except (openai.OpenAIError, ModelRequestBlocked) as exc:
            raise self._failed(exc) from exc
        return self._collect(responses, len(texts))

    async def aembed(self, texts: Sequence[str]) -> Vectors:
        openai = self._import()
        if self._async_client is None:
            self._async_client = openai.AsyncOpenAI(
                **self._client_args(), http_client=model_http_client()
            )
        try:
            responses = [
                await self._async_client.embeddings.create(**self._request(chunk))
                for chunk in self._chunks(texts)
            ]
        except (openai.OpenAIError, ModelRequestBlocked) as exc:
            raise self._failed(exc) from exc
        return self._collect(responses, len(texts))

    def __repr__(self) -> str:
        return f"OpenAIEmbedder(model={self.model!r}, base_url={self.base_url!r})"
