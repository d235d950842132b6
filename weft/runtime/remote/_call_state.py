"""Where one remote call stands (``RemoteAction``), and what a timeout says about it.

Kept apart from ``remote_action`` so that module stays about the policy
(when to send, re-send and move a call) and this one about its record.

An agent the call left is remembered by *incarnation*: its id and the
``incarnation_key`` of its card, a random id a process draws once when it
starts (``started_at`` in cards of weft before it), compared for equality
only, so that no clock needs to agree with another. An
agent restarted under the same fixed id (``--agent-id``, a service manager
restarting it) is a new process that never held the call, alive and
serving: the call may go to it. Only the process that lost the call is
avoided, as is an agent that fell silent and may thaw, and only while
another agent serves the action: when every agent that serves it is one
the call left, a fresh one of them gets it back (``RemoteAction._target``).
Its card being fresh proves it alive (its Will fired on a dropped
connection and it came back, or another process's card stood on its topic
for a moment), and it runs a call once whatever the attempt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from weft.protocols import ActionCall, ActionResult, ActionState
from weft.runtime.remote._remote_trace import LostAttempt
from weft.runtime.remote.directory import AgentInfo


@dataclass
class CallState:
    """Where one remote call stands."""

    call: ActionCall
    deadline: float
    attempt: int
    #: The agent the current attempt was sent to (or, through a pool, that accepted it).
    holder: str | None = None
    #: When it became the holder: its silence is counted from here at the earliest.
    holder_since: float = 0.0
    #: ``(agent, incarnation_key of its card)`` of the last holder of the current attempt,
    #: kept while it is ``returning``; None if unknown.
    incarnation: tuple[str, str] | None = None
    accepted: bool = False
    #: The holder sends ``CallsHeld`` reports, so a call it stopped listing lost its result.
    reports: bool = False
    sent_at: float | None = None
    sends: int = 0
    waiting: bool = False
    resend_at: float | None = None
    resend_gap: float = 0.0
    check_at: float | None = None
    gone_at: float | None = None
    returning: str | None = None
    restart_until: float | None = None
    lost: list[str] = field(default_factory=list)
    #: Agents among ``lost`` that were stopped and gave the call up (not dead).
    drained: list[str] = field(default_factory=list)
    #: ``(agent, incarnation_key)`` of each incarnation the call left; None: every one of it.
    left: set[tuple[str, str | None]] = field(default_factory=set)
    #: Attempts abandoned because their agent vanished or gave them up, for the trace.
    abandoned: list[LostAttempt] = field(default_factory=list)
    #: When the current attempt was first sent.
    attempt_sent_at: float | None = None
    #: User properties every send carries besides the ack request and trace context.
    asks: dict[str, str] = field(default_factory=dict)

    def leave(self, agent: str) -> tuple[str, str | None]:
        """Note that the call left ``agent``: the incarnation that held it, else all of them."""
        held = self.incarnation
        left = held if held is not None and held[0] == agent else (agent, None)
        self.left.add(left)
        self.lost.append(agent)
        return left

    def avoids(self, info: AgentInfo) -> bool:
        """True if the call left this incarnation of the agent: not to be sent there again."""
        agent = info.agent_id
        return (agent, info.card.incarnation_key) in self.left or (agent, None) in self.left


def why_no_result(
    state: CallState, name: str, namespace: str, default_timeout: float = 300.0
) -> str:
    """Why a call to action ``name`` got no result before its deadline, for the user.

    A call an agent accepted and kept too long says how to give it more time:
    the deadline is the node's ``timeout:``, else ``default_timeout``.
    """
    if state.lost and state.holder is None:
        return (
            f"{_lost_agents(state)}, and no replica was available to take it: no other live "
            f"agent serves '{name}'; start one (weft agent serve ...) and resume the run"
        )
    if state.returning is not None:
        return (
            f"agent '{state.returning}' lost its broker connection while serving the call "
            "and did not come back"
        )
    if state.holder is not None and state.accepted:
        return f"agent '{state.holder}' accepted the call but sent no result in time; " + (
            "give it more time with the node's 'timeout:' (seconds per attempt) or the "
            "workflow's 'defaults: {timeout: ...}'"
            if state.call.deadline is not None
            else f"a remote call without a 'timeout:' has {default_timeout:g}s: set the node's "
            "'timeout:' or the workflow's 'defaults: {timeout: ...}' to give it more"
        )
    if state.holder is not None:
        return f"the call was sent to agent '{state.holder}', which never acknowledged it"
    if state.sends == 0:
        return (
            f"no live agent serves '{name}' in namespace '{namespace}'; "
            "start one with: weft agent serve MODULE:OBJECT --broker URL"
        )
    return "no agent accepted the call"


def timed_out(
    state: CallState, name: str, namespace: str, budget: float, default_timeout: float
) -> ActionResult:
    """The ``RemoteTimeout`` result of a call to ``name`` that had ``budget`` seconds.

    It names the agent that accepted the call, if one did (``ActionResult.agent``):
    the call ran there, and the run's summary says so instead of "no agent answered".
    """
    why = why_no_result(state, name, namespace, default_timeout)
    result = ActionResult.failure(
        state.call.call_id,
        "RemoteTimeout",
        f"remote action '{name}': no result before the call deadline "
        f"({round(budget, 1):g}s): {why}",  # 8s for a node's 8 s, not 7.99s
        state=ActionState.TIMEOUT,
        retryable=True,
    )
    if state.accepted and state.holder is not None and state.returning is None:
        result.agent = state.holder
    return result


def waiting_note(state: CallState, name: str, namespace: str) -> str:
    """The log line of a call to ``name`` that waits because no agent can take it."""
    if state.lost:
        why = _lost_agents(state)
    else:
        why = f"no live agent serves it in namespace '{namespace}'"
    return (
        f"waiting for a replica of '{name}' ({why}): its calls wait for an agent serving "
        "it until their deadline (start one with: weft agent serve ...)"
    )


def _lost_agents(state: CallState) -> str:
    """What became of the agents the call left: vanished (died) or stopped (drained)."""
    lost = list(dict.fromkeys(state.lost))
    vanished = [a for a in lost if a not in state.drained]
    stopped = [a for a in lost if a in state.drained]
    parts = []
    if vanished:
        names = ", ".join(f"'{a}'" for a in vanished)
        parts.append(f"agent {names} vanished while serving the call")
    if stopped:
        names = ", ".join(f"'{a}'" for a in stopped)
        parts.append(f"agent {names} was stopped and gave the call up at its drain timeout")
    return " and ".join(parts)


def attempts(state: CallState) -> int | None:
    """Attempts this call made (``ActionResult.attempts``): None for just one."""
    made = state.attempt - state.call.attempt + 1
    return made if made > 1 else None
