"""Wire payloads of agents in other processes: presence cards, acks, cancels, dead letters.

An agent process announces itself with one retained ``AgentCard`` on
``weft/{ns}/cards/{agent}`` and re-publishes it every heartbeat interval with
its current load, so the card *is* the heartbeat: a registry that subscribes
late, or after a broker restart, learns everything from one retained message.
The agent's MQTT Will is an empty retained payload on the same topic, so the
broker clears the card when the process dies.

Calls and results are ``ActionCall``/``ActionResult`` (``weft.protocols.actions``);
this module adds only what remote serving needs on top. See docs/protocol.md.
"""

from __future__ import annotations

import time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from weft.protocols.actions import ActionSpec

#: User property carrying W3C trace context: ``00-{trace_id}-{span_id}-01``.
TRACEPARENT = "traceparent"
#: User property a caller sets to ``1`` to be sent a ``CallAccepted`` before the result.
ACK_PROPERTY = "weft-ack"
#: User property on replies: ``accepted`` (a ``CallAccepted``) or ``result`` (an ``ActionResult``).
KIND_PROPERTY = "weft-kind"
KIND_ACCEPTED = "accepted"
KIND_RESULT = "result"


class AgentStatus(StrEnum):
    """Whether an agent takes new calls."""

    SERVING = "serving"
    DRAINING = "draining"


class AgentLoad(BaseModel):
    """How busy an agent is, as of its latest card."""

    model_config = ConfigDict(extra="forbid")

    in_flight: int = Field(default=0, ge=0, description="Calls running now.")
    queued: int = Field(default=0, ge=0, description="Calls received and waiting for a slot.")
    capacity: int = Field(default=1, ge=1, description="Calls the agent runs at once.")
    served: int = Field(default=0, ge=0, description="Calls answered since the agent started.")
    failed: int = Field(default=0, ge=0, description="Of those, answered with a non-ok state.")

    @property
    def ratio(self) -> float:
        """Occupied share of the capacity; above 1 when calls are queued."""
        return (self.in_flight + self.queued) / self.capacity


class AgentCard(BaseModel):
    """What an agent process serves and how loaded it is (retained on ``cards/{agent}``).

    Re-published every ``heartbeat_interval`` seconds with a higher ``seq``;
    an empty retained payload on the topic means the agent is gone.
    """

    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(description="Unique id of this agent process; names its topics.")
    status: AgentStatus = Field(
        default=AgentStatus.SERVING, description="'draining' after SIGTERM: no new calls."
    )
    actions: list[ActionSpec] = Field(description="The actions it serves, with their cards.")
    pools: dict[str, str] = Field(
        default_factory=dict,
        description="Action name -> pool; calls to weft/{ns}/pools/{pool}/call reach one replica.",
    )
    topic: str = Field(description="Its own call topic, weft/{ns}/agents/{agent}/call.")
    load: AgentLoad = Field(default_factory=AgentLoad, description="Load when this was sent.")
    heartbeat_interval: float = Field(
        default=5.0, gt=0, description="Seconds between re-publications of this card."
    )
    seq: int = Field(default=0, ge=0, description="Increases with every publication.")
    sent_at: float = Field(default_factory=time.time, description="Unix time of publication.")
    started_at: float = Field(default_factory=time.time, description="Unix time of agent start.")
    host: str = Field(default="", description="Host name of the agent process.")
    pid: int | None = Field(default=None, description="Process id of the agent process.")
    weft_version: str = Field(default="", description="weft version of the agent.")

    def serves(self, action: str) -> bool:
        return any(spec.name == action for spec in self.actions)

    def spec(self, action: str) -> ActionSpec | None:
        return next((spec for spec in self.actions if spec.name == action), None)


class CallAccepted(BaseModel):
    """Sent to the caller's Response Topic when a call is taken, if it asked (``weft-ack: 1``).

    Tells the caller which agent holds the call, so that it can re-send the
    call elsewhere if exactly that agent dies before answering.
    """

    model_config = ConfigDict(extra="forbid")

    call_id: str = Field(description="The accepted call.")
    attempt: int = Field(ge=1, description="The accepted attempt.")
    agent_id: str = Field(description="The agent that runs (or already ran) it.")
    at: float = Field(default_factory=time.time, description="Unix time of acceptance.")


class CallCancel(BaseModel):
    """Published to ``weft/{ns}/agents/{agent}/cancel`` when a caller gives up on a call."""

    model_config = ConfigDict(extra="forbid")

    call_id: str = Field(description="The call to cancel (every attempt of it).")
    reason: str = Field(default="cancelled by the caller", description="Why, for the logs.")


class DeadLetterReason(StrEnum):
    """Why a message could not be handled."""

    UNDECODABLE = "undecodable"
    INVALID_CALL = "invalid_call"
    UNKNOWN_ACTION = "unknown_action"
    TOO_LARGE = "too_large"
    INVALID_CARD = "invalid_card"
    INVALID_MESSAGE = "invalid_message"


class DeadLetter(BaseModel):
    """A message nobody could handle, published to ``weft/{ns}/dead-letter`` (QoS 1).

    The original payload is not forwarded whole (it may be huge or hostile):
    ``excerpt`` holds at most its first 512 bytes, decoded leniently.
    """

    model_config = ConfigDict(extra="forbid")

    reason: DeadLetterReason = Field(description="Category of the problem.")
    detail: str = Field(description="What exactly was wrong, for people.")
    topic: str = Field(description="Topic the message arrived on.")
    received_by: str = Field(description="Agent or client id that rejected it.")
    payload_size: int = Field(ge=0, description="Size of the original payload in bytes.")
    excerpt: str = Field(default="", description="Start of the payload (UTF-8, lenient).")
    response_topic: str | None = Field(default=None, description="Its Response Topic, if any.")
    correlation_data: str | None = Field(
        default=None, description="Its Correlation Data, hex-encoded."
    )
    at: float = Field(default_factory=time.time, description="Unix time of rejection.")
