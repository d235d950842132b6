"""One answered chat request (``Completion``) and what it cost: tokens, and USD by a price table.

``llm_calls`` counts answered requests only (a 429 is not billed and not
counted; it shows up in the retry notes instead). Tokens are the ones the
response reports (or ``chat_stream``'s estimate when a streamed answer came
without usage); cost is those tokens at the model's price, 0 for a model
the table does not list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from weft.agents.endpoint_profiles import StructuredMode
from weft.protocols import Usage


@dataclass
class Completion:
    """One answered request: the assistant message and what it cost."""

    message: Any
    finish_reason: str | None
    usage: Usage
    attempts: int
    #: The model the server says answered (may name a snapshot of the one asked for).
    model: str | None = None
    #: The structured-output rung the answer was asked on (``None``: none asked for).
    structured_mode: StructuredMode | None = None
    #: Whether the answer was streamed (``chat_stream``); the message is the same either way.
    streamed: bool = False
    #: The server sent no usage with its stream: the token counts are ``chat_stream``'s estimate.
    usage_estimated: bool = False


class ModelPrice(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid")

    input_per_million: float = Field(ge=0, description="USD per 1M prompt tokens.")
    output_per_million: float = Field(ge=0, description="USD per 1M completion tokens.")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million
        ) / 1_000_000


#: List prices at the time of writing; pass ``prices=`` to override or extend.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    name: ModelPrice(input_per_million=i, output_per_million=o)
    for name, (i, o) in {
        "gpt-4o-mini": (0.15, 0.60),
        "gpt-4o": (2.50, 10.00),
        "gpt-4.1": (2.00, 8.00),
        "gpt-4.1-mini": (0.40, 1.60),
        "gpt-4.1-nano": (0.10, 0.40),
        "o4-mini": (1.10, 4.40),
    }.items()
}


def price_of(model: str, prices: Mapping[str, ModelPrice]) -> ModelPrice | None:
    """Exact name first, else the longest listed name that ``model`` extends with ``-...``
    (a dated snapshot such as ``gpt-4o-mini-2024-07-18`` is priced as ``gpt-4o-mini``)."""
    if model in prices:
        return prices[model]
    matches = [name for name in prices if model.startswith(name + "-")]
    return prices[max(matches, key=len)] if matches else None


def usage_of(response: Any, model: str, prices: Mapping[str, ModelPrice], latency: float) -> Usage:
    """The ``Usage`` of one answered request to ``model``, which took ``latency`` seconds."""
    counted = getattr(response, "usage", None)
    prompt = int(getattr(counted, "prompt_tokens", 0) or 0)
    completion = int(getattr(counted, "completion_tokens", 0) or 0)
    price = price_of(model, prices)
    return Usage(
        llm_calls=1,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost=price.cost(prompt, completion) if price else 0.0,
        latency_s=latency,
    )
