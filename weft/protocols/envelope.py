"""The bus message: a topic, bytes, and the MQTT v5 properties weft relies on.

Both transports carry exactly this, so code above the bus never knows which
one it talks to. Payloads are bytes; ``weft`` payloads are JSON of the models
in ``weft.protocols`` (see docs/protocol.md).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MessageProperties(BaseModel):
    """The MQTT v5 properties used by weft's request/reply and tracing."""

    model_config = ConfigDict(extra="forbid")

    response_topic: str | None = Field(default=None, description="Where the reply must go.")
    correlation_data: bytes | None = Field(default=None, description="Echoed in the reply.")
    user_properties: dict[str, str] = Field(
        default_factory=dict, description="e.g. traceparent, weft-kind."
    )
    message_expiry: int | None = Field(
        default=None,
        ge=0,
        le=4_294_967_295,
        description="Seconds after which the broker drops the message (MQTT maximum 2^32-1).",
    )
    content_type: str | None = Field(default="application/json", description="Payload type.")


class Message(BaseModel):
    """One message as seen by a subscriber."""

    model_config = ConfigDict(extra="forbid")

    topic: str = Field(description="Concrete topic the message was published on.")
    payload: bytes = Field(default=b"", description="Raw payload.")
    qos: int = Field(default=1, ge=0, le=2, description="Delivery guarantee.")
    retain: bool = Field(default=False, description="Broker keeps it for new subscribers.")
    properties: MessageProperties = Field(default_factory=MessageProperties)
