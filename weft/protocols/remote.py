"""Wire payloads of agents in other processes: presence cards, acks, cancels, dead letters.

An agent process announces itself with one retained ``AgentCard`` on
``weft/{ns}/cards/{agent}`` and re-publishes it every heartbeat interval with
its current load, so the card *is* the heartbeat: a registry that subscribes
late, or after a broker restart, learns everything from one retained message.
The agent's MQTT Will is an empty retained payload on the same topic, so the
broker clears the card when the process dies.

Freshness is judged from the card itself (``card_age``): a card not refreshed
within ``STALE_AFTER_HEARTBEATS`` of its own ``heartbeat_interval`` is stale.

A card is signed by its agent (``public_key``, ``signature`` over
``card_signing_bytes``), so that a caller can tell the agents it trusts from
any other client the broker admits; checking is the caller's business
(``weft.runtime.remote.trust``).

Every payload here ignores fields it does not know, so an agent of a newer
weft can add fields and still be understood by an older caller.

Calls and results are ``ActionCall``/``ActionResult`` (``weft.protocols.actions``);
this module adds only what remote serving needs on top. See docs/protocol.md.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from weft.protocols.actions import ActionResult, ActionSpec

#: User property carrying W3C trace context: ``00-{trace_id}-{span_id}-01``.
TRACEPARENT = "traceparent"
#: User property a caller sets to ``1`` to be sent a ``CallAccepted`` before the result.
ACK_PROPERTY = "weft-ack"
#: User property a caller sets to ``1`` to be sent the call's ``ProgressEvent``s while it runs.
PROGRESS_PROPERTY = "weft-progress"
#: User property a caller sets to ``1`` to get the spans the server recorded for the call in
#: the result (``ServedResult.spans``), so they can join the caller's own trace store.
SPANS_PROPERTY = "weft-spans"
#: User property a caller sets to ``1`` to be told, every heartbeat interval, which of its
#: calls the agent still holds (a ``CallsHeld`` reply): how it tells a busy agent from a
#: silent one without re-sending anything.
HELD_PROPERTY = "weft-held"
#: User property on replies: ``accepted`` (a ``CallAccepted``), ``progress`` (a
#: ``ProgressEvent``), ``held`` (a ``CallsHeld``) or ``result`` (an ``ActionResult``).
KIND_PROPERTY = "weft-kind"
KIND_ACCEPTED = "accepted"
KIND_PROGRESS = "progress"
KIND_HELD = "held"
KIND_RESULT = "result"
#: Most calls one ``CallsHeld`` lists; an agent holding more sends several.
HELD_CHUNK = 500

#: A card not refreshed for this many of its heartbeat intervals is stale: one
#: heartbeat may be late by half an interval, and a frozen agent is stale in
#: less than two intervals.
STALE_AFTER_HEARTBEATS = 1.5
#: How far the age of a retained card may stray from the broker's count of it.
#: Brokers count Message Expiry in whole seconds (so their count is off by
#: less than one second); the rest is slack for the broker's own loop.
BROKER_AGE_TOLERANCE = 1.5


class AgentStatus(StrEnum):
    """Whether an agent takes new calls."""

    SERVING = "serving"
    DRAINING = "draining"


class AgentLoad(BaseModel):
    """How busy an agent is, as of its latest card."""

    model_config = ConfigDict(extra="ignore")

    in_flight: int = Field(default=0, ge=0, description="Calls running now.")
    queued: int = Field(default=0, ge=0, description="Calls received and waiting for a slot.")
    capacity: int = Field(default=1, ge=1, description="Calls the agent runs at once.")
    served: int = Field(default=0, ge=0, description="Calls answered since the agent started.")
    failed: int = Field(default=0, ge=0, description="Of those, answered with a non-ok state.")
    unsent: int = Field(
        default=0,
        ge=0,
        description="Replies the broker could not take (broker unreachable past the reconnect "
        "timeout); their callers re-send and get the kept result.",
    )

    @property
    def ratio(self) -> float:
        """Occupied share of the capacity; above 1 when calls are queued."""
        return (self.in_flight + self.queued) / self.capacity


class AgentCard(BaseModel):
    """What an agent process serves and how loaded it is (retained on ``cards/{agent}``).

    Re-published every ``heartbeat_interval`` seconds with a higher ``seq``;
    an empty retained payload on the topic means the agent is gone.
    """

    model_config = ConfigDict(extra="ignore")

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
    incarnation: str | None = Field(
        default=None,
        description="Random id the process draws once when it starts: tells a process "
        "restarted under the same ``agent_id`` from the one before by inequality, whatever "
        "their clocks say. None in cards of weft before it (``started_at`` stands in).",
    )
    host: str = Field(default="", description="Host name of the agent process.")
    pid: int | None = Field(default=None, description="Process id of the agent process.")
    weft_version: str = Field(default="", description="weft version of the agent.")
    expiry: int | None = Field(
        default=None,
        ge=1,
        description="Message Expiry Interval (s) the card was published with; the broker "
        "counts it down, so a receiver can age a retained card without trusting the "
        "sender's clock.",
    )
    public_key: str | None = Field(
        default=None,
        description="The agent's Ed25519 public key, base64 of its 32 raw bytes: the key "
        "``signature`` verifies with, and what a caller's trust list names.",
    )
    signature: str | None = Field(
        default=None,
        description="Ed25519 signature (base64) of ``card_signing_bytes`` of the card as "
        "sent; callers send calls only to agents whose card is signed by a key they "
        "trust for the action (docs/security.md). None: an unsigned card (older weft).",
    )

    @property
    def incarnation_key(self) -> str:
        """Which process of ``agent_id`` sent this card: ``incarnation``, else (a card of
        weft before it) ``started_at``. Compare two keys for equality only: a restarted
        process's clock may be behind its predecessor's."""
        return self.incarnation or f"started_at:{self.started_at!r}"

    @property
    def stale_after(self) -> float:
        """Seconds without a newer card after which the agent counts as stale."""
        return STALE_AFTER_HEARTBEATS * self.heartbeat_interval

    def serves(self, action: str) -> bool:
        return any(spec.name == action for spec in self.actions)

    def spec(self, action: str) -> ActionSpec | None:
        return next((spec for spec in self.actions if spec.name == action), None)


def card_signing_bytes(card: Mapping[str, Any]) -> bytes:
    """The bytes an agent signs: its card's JSON object without ``signature``, canonical.

    ``card`` is the JSON object *as sent* (parsed, not an ``AgentCard``), so
    the signature also covers fields the receiver does not know. Canonical
    means: keys sorted at every level, no whitespace (``,`` and ``:``),
    UTF-8 with non-ASCII characters as themselves, numbers as the shortest
    text that reads back to the same value (Python's ``json``, as most JSON
    writers do; an integer stays an integer). A client in another language
    signs the same bytes by writing its card this way (docs/protocol.md).
    Raises ``ValueError`` for values JSON cannot carry (NaN, infinities).
    """
    body = {key: value for key, value in card.items() if key != "signature"}
    text = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode()


def card_expiry(heartbeat_interval: float) -> int:
    """Message Expiry an agent publishes its card with: 20 heartbeats, at least a minute.

    Long enough never to drop the card of a live agent; short enough that a
    card nobody clears (its Will lost with a broker that kept the card) goes
    away by itself.
    """
    return max(60, math.ceil(20 * heartbeat_interval))


def card_age(
    card: AgentCard, now: float, *, replayed: bool, remaining_expiry: int | None = None
) -> float:
    """Seconds since ``card`` was published, on the receiver's clock ``now``.

    - A card delivered live (``replayed`` false) was published just now: 0,
      whatever the two machines' clocks say.
    - A card replayed from the broker's retained store (``replayed`` true:
      MQTT sets the retain flag only on messages sent because of a
      subscription) is as old as its own ``sent_at`` says, read against
      ``now``. Clocks of two machines disagree; when the card names the
      ``expiry`` it was published with and the broker passed on what is left
      of it (``remaining_expiry``: MQTT v5 brokers count it down while they
      hold a message), the broker's count bounds the age to within
      ``BROKER_AGE_TOLERANCE`` seconds, whatever the skew. Without both, the
      clocks are trusted (keep them in sync, e.g. with NTP).
    """
    if not replayed:
        return 0.0
    age = now - card.sent_at
    if card.expiry is not None and remaining_expiry is not None:
        held = card.expiry - remaining_expiry  # by the broker's clock
        age = min(max(age, held - BROKER_AGE_TOLERANCE), held + BROKER_AGE_TOLERANCE)
    return max(age, 0.0)


class CallAccepted(BaseModel):
    """Sent to the caller's Response Topic when a call is taken, if it asked (``weft-ack: 1``).

    An agent accepts a call when it receives it: a call waiting in its queue
    for a free slot is accepted too (``position`` says how far back). It
    tells the caller which agent holds the call, so that the caller sends it
    elsewhere only if exactly that agent dies or falls silent, never because
    it is busy.
    """

    model_config = ConfigDict(extra="ignore")

    call_id: str = Field(description="The accepted call.")
    attempt: int = Field(ge=1, description="The accepted attempt.")
    agent_id: str = Field(description="The agent that runs (or already ran) it.")
    at: float = Field(default_factory=time.time, description="Unix time of acceptance.")
    position: int = Field(
        default=0,
        ge=0,
        description="0: the call runs at once (or already ran); n: it is the n-th call "
        "waiting in the agent's queue for a free slot.",
    )
    held_interval: float | None = Field(
        default=None,
        gt=0,
        description="Seconds between the ``CallsHeld`` reports the agent sends while it holds "
        "the call (when the caller asked, ``weft-held: 1``); None from an agent that sends none.",
    )


class HeldCall(BaseModel):
    """One call an agent holds (queued or running), in a ``CallsHeld`` report."""

    model_config = ConfigDict(extra="ignore")

    call_id: str = Field(description="The call.")
    attempt: int = Field(ge=1, description="The attempt the agent holds.")
    correlation: str = Field(description="Correlation Data of the send it answers, hex-encoded.")


class CallsHeld(BaseModel):
    """The agent's heartbeat for the calls it holds for one caller (``weft-kind: held``).

    Sent every ``held_interval`` seconds to each Response Topic with calls the
    agent has received and not yet answered, when those calls asked for it
    (``weft-held: 1``); at most ``HELD_CHUNK`` calls per message. The
    message's Correlation Data is that of its first call, so a caller that
    does not know this kind drops it as a reply to a known call. A caller
    learns from it that the agent is alive and still has the call, however
    long its queue; silence past a bound is what lets it move a call.
    """

    model_config = ConfigDict(extra="ignore")

    agent_id: str = Field(description="The agent that holds the calls.")
    calls: list[HeldCall] = Field(description="Calls held for this caller.")
    queued: int = Field(default=0, ge=0, description="Calls waiting for a slot on the agent.")
    at: float = Field(default_factory=time.time, description="Unix time of the report.")


class ServedSpan(BaseModel):
    """A span the serving agent recorded for a call, as it travels back in the result.

    Its trace is the call's (the ``traceparent`` user property); ``parent_id``
    is the caller's call span for the agent's span of the call, and that span
    or another returned span for everything under it. Attribute values are
    JSON, already truncated and with secrets masked by the agent.
    """

    model_config = ConfigDict(extra="ignore")

    span_id: str = Field(description="16 hex characters.")
    parent_id: str | None = Field(default=None, description="Span id of its parent.")
    name: str = Field(description="Action, model or step name.")
    kind: str = Field(default="call", description="call, llm, route, memory... (docs/traces.md).")
    start: float = Field(description="Unix time it started.")
    end: float = Field(description="Unix time it ended.")
    status: str = Field(default="ok", description="ok, error, timeout, cancelled...")
    node: str | None = Field(default=None, description="Workflow node key of the call.")
    agent: str | None = Field(default=None, description="Agent that recorded it.")
    attributes: dict[str, Any] = Field(default_factory=dict, description="Its attributes.")


class ServedResult(ActionResult):
    """An ``ActionResult`` with the spans the server recorded (when asked, ``weft-spans: 1``).

    A caller that reads the reply as a plain ``ActionResult`` ignores them.
    The spans are bounded: at most as many as fit the agent's budget (the
    agent's own span first), ``spans_dropped`` counts the rest.
    """

    spans: list[ServedSpan] = Field(default_factory=list, description="Spans of the call.")
    spans_dropped: int = Field(default=0, ge=0, description="Spans left out to stay small.")

    def plain(self) -> ActionResult:
        """The result without its spans, as a plain ``ActionResult``."""
        return ActionResult(**{name: getattr(self, name) for name in ActionResult.model_fields})


class CallCancel(BaseModel):
    """Published to ``weft/{ns}/agents/{agent}/cancel`` when a caller gives up on a call."""

    model_config = ConfigDict(extra="ignore")

    call_id: str = Field(description="The call to cancel (every attempt of it).")
    reason: str = Field(default="cancelled by the caller", description="Why, for the logs.")


class DeadLetterReason(StrEnum):
    """Why a message could not be handled."""

    UNDECODABLE = "undecodable"
    INVALID_CALL = "invalid_call"
    UNKNOWN_ACTION = "unknown_action"
    TOO_LARGE = "too_large"
    TOO_DEEP = "too_deep"
    INVALID_CARD = "invalid_card"
    INVALID_MESSAGE = "invalid_message"


class DeadLetter(BaseModel):
    """A message nobody could handle, published to ``weft/{ns}/dead-letter`` (QoS 1).

    The original payload is not forwarded whole (it may be huge or hostile):
    ``excerpt`` holds at most its first 512 bytes, decoded leniently.
    """

    model_config = ConfigDict(extra="ignore")

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
