"""The flow-control state machine allows only IoA's legal transitions."""

from __future__ import annotations

import itertools

import pytest

from weft.protocols.teams import TRANSITIONS, IllegalTransition, MemberReply, MessageType, TeamState
from weft.runtime.teams import FlowControl, is_legal
from weft.runtime.teams.state_machine import message_type_for, state_for

LEGAL = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}


@pytest.mark.parametrize("start,to", sorted(itertools.product(TeamState, TeamState)))
def test_a_move_succeeds_exactly_when_it_is_listed(start: TeamState, to: TeamState) -> None:
    flow = FlowControl(start)
    if (start, to) in LEGAL:
        assert flow.move(to) is to
        assert flow.state is to
    else:
        with pytest.raises(IllegalTransition):
            flow.move(to)
        assert flow.state is start


def test_nothing_follows_a_conclusion() -> None:
    flow = FlowControl()
    flow.move(TeamState.DISCUSSION)
    flow.move(TeamState.CONCLUSION)
    assert flow.concluded
    for state in TeamState:
        with pytest.raises(IllegalTransition):
            flow.move(state)


def test_a_team_cannot_vote_or_execute_before_it_is_formed() -> None:
    flow = FlowControl()
    for state in (TeamState.VOTE, TeamState.EXECUTION, TeamState.TEAMUP):
        with pytest.raises(IllegalTransition):
            flow.move(state)


def test_history_records_each_state_entered_once_per_visit() -> None:
    flow = FlowControl()
    for state in ("DISCUSSION", "DISCUSSION", "VOTE", "DISCUSSION", "EXECUTION", "CONCLUSION"):
        flow.move(TeamState(state))
    assert [s.value for s in flow.history] == [
        "TEAMUP",
        "DISCUSSION",
        "VOTE",
        "DISCUSSION",
        "EXECUTION",
        "CONCLUSION",
    ]
    assert is_legal(flow.history)
    assert not is_legal([TeamState.TEAMUP, TeamState.VOTE])


@pytest.mark.parametrize(
    "reply,kind,state",
    [
        ({"act": "speak"}, MessageType.SPEAK, TeamState.DISCUSSION),
        ({"act": "propose"}, MessageType.PROPOSAL, TeamState.VOTE),
        ({"act": "pause", "wait_for": ["t1"]}, MessageType.PAUSE, TeamState.EXECUTION),
        ({"act": "conclude"}, MessageType.CONCLUSION, TeamState.CONCLUSION),
        (
            {"act": "assign", "tasks": [{"to": "a", "task": "x", "mode": "async"}]},
            MessageType.ASSIGN_ASYNC,
            TeamState.DISCUSSION,
        ),
        (
            {
                "act": "assign",
                "tasks": [
                    {"to": "a", "task": "x", "mode": "async"},
                    {"to": "b", "task": "y", "mode": "sync"},
                ],
            },
            MessageType.ASSIGN_SYNC,
            TeamState.EXECUTION,
        ),
    ],
)
def test_each_move_leads_to_its_state(
    reply: dict[str, object], kind: MessageType, state: TeamState
) -> None:
    found = message_type_for(MemberReply.model_validate(reply))
    assert found is kind
    assert state_for(found, TeamState.DISCUSSION) is state
