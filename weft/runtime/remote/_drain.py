"""The answer a stopping agent gives for a call it gives up, and how a caller knows it.

An agent stopped with SIGTERM finishes what it holds for ``drain_timeout``
seconds (``AgentHost.stop``); the calls still held then are given up. The
caller must move them to another agent, exactly as when the agent dies: a
rolling restart of a pool of replicas must not end the runs whose calls
were on the replica being restarted.

Why an answer rather than silence: the caller's fail-over for a death waits
for the card to be cleared, and reads a card cleared while its own
connection wavered as a broker restart (and then waits for the same agent to
come back, which a stopped agent does not). An explicit result is read at
once and leaves no doubt. It is a plain ``ActionResult`` (state ``error``,
type ``AgentDraining``, ``retryable``), so no new message kind: a caller
that does not know the type treats it as a retryable failure, which is what
it is.

What moves the call is not the error type but the reply's envelope: the
host sends its own hand-back with the user property ``weft-handed-back: 1``
(``HANDED_BACK_PROPERTY``), which no action can set, since an action returns
a result, not the message that carries it. An action that itself returns or
raises an ``AgentDraining`` error (an agent wrapping another system that
uses the name) gets that error to its caller like any other: moving it
would run the call again elsewhere on the action's say-so. A caller that
knows the property (``RemoteAction``) re-sends a handed-back call as
``attempt + 1`` to another agent serving the action, with the same
``idempotency_key``, as it does for an agent that vanished.
"""

from __future__ import annotations

from weft.protocols import ActionResult, MessageProperties

#: ``error.type`` of a call an agent gave up because it was stopped (protocol.md, Errors).
DRAINED = "AgentDraining"
#: User property the host sets on the reply that hands a call back (value ``1``).
HANDED_BACK_PROPERTY = "weft-handed-back"


def drained_result(call_id: str, agent_id: str, drain_timeout: float) -> ActionResult:
    """The result of a call ``agent_id`` gave up at the end of its drain."""
    return ActionResult.failure(
        call_id,
        DRAINED,
        f"agent {agent_id} was stopped and gave the call up at its drain timeout "
        f"({drain_timeout:g}s); another agent serving the action can take it",
        retryable=True,
    )


def handed_back(properties: MessageProperties) -> bool:
    """True if a result reply with ``properties`` is its host's hand-back: move the call.

    Read from the reply's envelope, never from the result: an action's own
    ``AgentDraining`` error is that action's answer and is returned as such.
    """
    return properties.user_properties.get(HANDED_BACK_PROPERTY) == "1"
