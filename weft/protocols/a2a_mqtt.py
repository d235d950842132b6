"""A2A over MQTT: topics, identifiers, properties and error codes of the binding.

weft's binding of A2A onto MQTT v5 follows EMQX's "A2A over MQTT" profile
0.1 (docs/a2a-mqtt.md has the text, what weft implements of it, and where
weft goes further); this module is its wire vocabulary, with no I/O:

- ``$a2a/v1/discovery/{org}/{unit}/{agent}``: the agent's A2A card, retained,
  with user property ``a2a-status`` (``online``/``offline``) and
  ``a2a-status-source`` (``agent``, or ``lwt`` on the Will);
- ``$a2a/v1/request/{org}/{unit}/{agent}``: JSON-RPC 2.0 requests (A2A 1.0
  method names: ``SendMessage``, ``SendStreamingMessage``, ``GetTask``,
  ``CancelTask``), each with MQTT v5 Response Topic and Correlation Data;
- ``$a2a/v1/request/{org}/{unit}/pool/{pool}``: a pool's requests, consumed
  through ``$share/a2a.{org}.{unit}.{pool}/...`` by every replica;
- replies on the request's Response Topic (recommended
  ``$a2a/v1/reply/{org}/{unit}/{agent}/{suffix}``), echoing its Correlation
  Data, with ``a2a-responder-agent-id`` naming the replica that answered.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any

#: weft's binding: EMQX's A2A over MQTT profile 0.1 as weft implements it (docs/a2a-mqtt.md).
A2A_MQTT_BINDING_URI = "urn:weft:a2a:mqtt:0.1"
#: The profile it follows.
EMQX_PROFILE = "https://www.emqx.com/mqtt-for-ai/a2a-over-mqtt/specification/0.1/"
ROOT = "$a2a/v1"

STATUS = "a2a-status"
STATUS_SOURCE = "a2a-status-source"
RESPONDER = "a2a-responder-agent-id"
CONTEXT = "a2a-context-id"
ONLINE, OFFLINE = "online", "offline"

# JSON-RPC 2.0 and A2A error codes, and the three the profile adds for the transport.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
TASK_NOT_FOUND = -32001
TASK_NOT_CANCELABLE = -32002
REQUEST_EXPIRED = -32003
RESPONDER_UNAVAILABLE = -32004
TRANSPORT_PROTOCOL_ERROR = -32005
#: ``error.data.a2a_error`` the profile requires for its three codes.
A2A_ERRORS = {
    REQUEST_EXPIRED: "request_expired",
    RESPONDER_UNAVAILABLE: "responder_unavailable",
    TRANSPORT_PROTOCOL_ERROR: "transport_protocol_error",
}

SEND_MESSAGE = "SendMessage"
SEND_STREAMING_MESSAGE = "SendStreamingMessage"
GET_TASK = "GetTask"
CANCEL_TASK = "CancelTask"

#: Task states after which a task changes no more.
TERMINAL_STATES = frozenset(
    {"TASK_STATE_COMPLETED", "TASK_STATE_FAILED", "TASK_STATE_CANCELED", "TASK_STATE_REJECTED"}
)
#: States that end a reply stream without ending the task.
INTERRUPTED_STATES = frozenset({"TASK_STATE_INPUT_REQUIRED", "TASK_STATE_AUTH_REQUIRED"})

_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.-]+$")


def check_identifier(value: str, what: str) -> str:
    """``value`` if it is a valid org, unit, agent, pool or group id, else ``ValueError``."""
    if not _IDENTIFIER.match(value or ""):
        raise ValueError(f"{what} {value!r} must match [A-Za-z0-9_.-]+ (A2A over MQTT)")
    return value


def is_uuid(value: Any) -> bool:
    """Whether ``value`` is a UUID (the profile wants requester-made task ids to be v4)."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class A2aMqttAddress:
    """Where one agent lives in the binding: ``{org}/{unit}/{agent}``."""

    org: str
    unit: str
    agent: str

    def __post_init__(self) -> None:
        check_identifier(self.org, "org id")
        check_identifier(self.unit, "unit id")
        check_identifier(self.agent, "agent id")

    @classmethod
    def parse(cls, text: str) -> A2aMqttAddress:
        """``org/unit/agent`` as an address; ``ValueError`` for another shape."""
        parts = text.split("/")
        if len(parts) != 3:
            raise ValueError(f"{text!r} is not an A2A over MQTT address 'org/unit/agent'")
        return cls(*parts)

    def __str__(self) -> str:
        return f"{self.org}/{self.unit}/{self.agent}"

    @property
    def client_id(self) -> str:
        """The MQTT client id the profile requires of the agent."""
        return str(self)

    @property
    def discovery_topic(self) -> str:
        return f"{ROOT}/discovery/{self}"

    @property
    def request_topic(self) -> str:
        return f"{ROOT}/request/{self}"

    def reply_topic(self, suffix: str) -> str:
        """The recommended reply topic of this (requesting) agent."""
        return f"{ROOT}/reply/{self}/{check_identifier(suffix, 'reply suffix')}"

    def pool_topic(self, pool: str) -> str:
        return pool_topic(self.org, self.unit, pool)


def discovery_filter(org: str, unit: str) -> str:
    """The filter for every agent card of one unit."""
    return (
        f"{ROOT}/discovery/{check_identifier(org, 'org id')}/{check_identifier(unit, 'unit id')}/+"
    )


def pool_topic(org: str, unit: str, pool: str) -> str:
    """The topic a requester publishes a pool's requests to (never ``$share/...``)."""
    check_identifier(org, "org id")
    check_identifier(unit, "unit id")
    return f"{ROOT}/request/{org}/{unit}/pool/{check_identifier(pool, 'pool id')}"


def pool_group(org: str, unit: str, pool: str, *, max_length: int = 64) -> str:
    """The shared-subscription group of a pool: ``a2a.{org}.{unit}.{pool}``, the same for
    every member; over ``max_length`` it is cut and ends in a short hash of the whole."""
    group = re.sub(r"[^A-Za-z0-9._]", "_", f"a2a.{org}.{unit}.{pool}")
    if len(group) <= max_length:
        return group
    digest = hashlib.sha256(group.encode()).hexdigest()[:8]
    return f"{group[: max_length - 9]}_{digest}"


def shared_pool_filter(org: str, unit: str, pool: str) -> str:
    """What a pool member subscribes to: the pool topic through its shared group."""
    return f"$share/{pool_group(org, unit, pool)}/{pool_topic(org, unit, pool)}"


def jsonrpc_result(request_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def jsonrpc_error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    """A JSON-RPC error reply; the profile's own codes carry ``data.a2a_error``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if code in A2A_ERRORS:
        error["data"] = {"a2a_error": A2A_ERRORS[code]}
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def ends_stream(reply: dict[str, Any]) -> bool:
    """Whether ``reply`` is the last of a streaming request's replies.

    An error ends it, and so does anything but a stream item: a status
    update or task ends it only in a terminal or interrupted state, an
    artifact update never does.
    """
    if "error" in reply:
        return True
    result = reply.get("result") or {}
    if "artifactUpdate" in result:
        return False
    item = result.get("statusUpdate") or result.get("task")
    if item is None:
        return True
    state = (item.get("status") or {}).get("state")
    return state in TERMINAL_STATES or state in INTERRUPTED_STATES
