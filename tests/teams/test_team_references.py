"""Teams and clusters say which actions their arguments name, for runs that fetch them first.

``weft run --broker`` fetches, before the run, every action the workflow will
call; a team's members are named only in its ``with:``, so the team action
declares them (``weft.protocols.references``) and the distributed survey
reads the declaration.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from weft.protocols.references import referenced_actions_of
from weft.runtime.remote.distributed import survey, unresolved_actions
from weft.runtime.teams import Cluster, Team, cluster_action, team_action
from weft.workflows import Workflow


def test_a_team_action_names_its_members_pools_and_speaker_chooser() -> None:
    arguments = {
        "task": "t",
        "members": ["alice", "bob"],
        "pools": {"bob": ["carol"]},
        "selector": "llm:chair",
        "max_turns": "${inputs.turns}",  # a template elsewhere does not hide the names
    }
    assert sorted(referenced_actions_of(team_action, arguments)) == [
        "alice",
        "bob",
        "carol",
        "chair",
    ]


def test_a_cluster_action_names_its_members_and_synthesizer() -> None:
    arguments = {"task": "t", "members": ["w1", "w2"], "synthesizer": "editor"}
    assert sorted(referenced_actions_of(cluster_action, arguments)) == ["editor", "w1", "w2"]


def test_names_known_only_when_the_run_starts_are_left_out() -> None:
    assert referenced_actions_of(team_action, {"members": "${inputs.members}"}) == []
    assert referenced_actions_of(team_action, {"members": ["alice", "${inputs.who}"]}) == ["alice"]


def test_a_bad_argument_is_left_for_the_call_to_report() -> None:
    assert referenced_actions_of(team_action, {"members": []}) == []
    assert referenced_actions_of(team_action, {"members": ["a"], "pools": {"z": ["b"]}}) == ["a"]


def test_team_and_cluster_objects_name_the_members_they_were_given_by_name() -> None:
    assert referenced_actions_of(Team("t", ["alice", "bob"]), {"task": "x"}) == ["alice", "bob"]
    cluster = Cluster("c", ["w1", "w2"], synthesizer="editor")
    assert referenced_actions_of(cluster, {"task": "x"}) == ["w1", "w2", "editor"]


def test_an_action_without_the_declaration_names_nothing() -> None:
    assert referenced_actions_of(object(), {"members": ["alice"]}) == []


def test_the_distributed_survey_needs_the_members_named_in_a_team_node(tmp_path: Path) -> None:
    (tmp_path / "local_members.py").write_text("def alice(task: str) -> str:\n    return task\n")
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(
        textwrap.dedent(
            """\
            name: team
            actions:
              team: {python: "weft.runtime.teams:team_action"}
              alice: {python: "local_members:alice"}
            nodes:
              discuss:
                action: team
                with: {task: t, members: [alice, bob], selector: "llm:chair"}
            """
        )
    )
    found = survey(workflow)
    assert {"alice", "bob", "chair", "team"} <= found.needed
    assert unresolved_actions(workflow) == {"bob", "chair"}
    (where,) = found.referenced["bob"]
    assert where.file == str(workflow) and where.line == 8 and where.node == "discuss"


def test_a_builder_workflow_needs_the_members_a_team_object_was_given_by_name() -> None:
    wf = Workflow("w")
    wf.node("discuss", Team("panel", ["alice", "bob"]), with_={"task": "t"})
    wf.node("after", Team("quiet", ["carol"]), after="discuss")
    assert unresolved_actions(wf) == {"alice", "bob", "carol"}
