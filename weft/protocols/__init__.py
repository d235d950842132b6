"""Pure data and wire formats: actions, cards, envelopes, topics, events, workflows.

Nothing here performs I/O or imports the rest of weft.
"""

from weft.protocols.actions import (
    ActionCall,
    ActionKind,
    ActionResult,
    ActionSpec,
    ActionState,
    ErrorInfo,
    ProgressEvent,
    Usage,
    idempotency_key_of,
    new_id,
)
from weft.protocols.capability import CapabilityCard
from weft.protocols.context import Action, ActionContext
from weft.protocols.envelope import Message, MessageProperties
from weft.protocols.errors import (
    ActionFailed,
    BusError,
    CallTimeoutError,
    DefinitionError,
    InputError,
    Location,
    ResumeMismatchError,
    RunFailedError,
    RunInProgressError,
    RunNotFoundError,
    WeftError,
)
from weft.protocols.events import EventKind, NodeState, RunEvent, RunState
from weft.protocols.remote import (
    AgentCard,
    AgentLoad,
    AgentStatus,
    CallAccepted,
    CallCancel,
    DeadLetter,
    DeadLetterReason,
    ServedResult,
    ServedSpan,
)
from weft.protocols.results import OutputNotJSON, json_result, json_value
from weft.protocols.routing import Candidate, Router, RouteRequest, RoutingDecision
from weft.protocols.schema import json_schema, workflow_json_schema
from weft.protocols.source import SourceMap, locate
from weft.protocols.topics import Topics, topic_matches
from weft.protocols.workflow import (
    ActionRef,
    Defaults,
    EdgeSpec,
    FailurePolicy,
    InputSpec,
    JoinMode,
    JoinSpec,
    JournalMode,
    NodeSpec,
    RetryPolicy,
    WorkflowSpec,
)

__all__ = [
    "Action",
    "ActionCall",
    "ActionContext",
    "ActionFailed",
    "ActionKind",
    "ActionRef",
    "ActionResult",
    "ActionSpec",
    "ActionState",
    "AgentCard",
    "AgentLoad",
    "AgentStatus",
    "BusError",
    "CallAccepted",
    "CallCancel",
    "CallTimeoutError",
    "Candidate",
    "CapabilityCard",
    "DeadLetter",
    "DeadLetterReason",
    "Defaults",
    "DefinitionError",
    "EdgeSpec",
    "ErrorInfo",
    "EventKind",
    "FailurePolicy",
    "InputError",
    "InputSpec",
    "JoinMode",
    "JoinSpec",
    "JournalMode",
    "Location",
    "Message",
    "MessageProperties",
    "NodeSpec",
    "NodeState",
    "OutputNotJSON",
    "ProgressEvent",
    "ResumeMismatchError",
    "RetryPolicy",
    "RouteRequest",
    "Router",
    "RoutingDecision",
    "RunEvent",
    "RunFailedError",
    "RunInProgressError",
    "RunNotFoundError",
    "RunState",
    "ServedResult",
    "ServedSpan",
    "SourceMap",
    "Topics",
    "Usage",
    "WeftError",
    "WorkflowSpec",
    "idempotency_key_of",
    "json_result",
    "json_schema",
    "json_value",
    "locate",
    "new_id",
    "topic_matches",
    "workflow_json_schema",
]
