"""``weft route --batch``: the evaluation contract, "no agent fits", and learning from outcomes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from weft.cli import cli
from weft.protocols import CapabilityCard, RouteRequest
from weft.runtime.routing.capability_router import CapabilityRouter
from weft.runtime.routing.embeddings import HashingEmbedder

USER_CARDS = textwrap.dedent(
    """
    cards:
      - id: chart_maker
        name: Chart Maker
        description: Turns data into line and bar charts. It does not run statistical tests.
        skills: [bar charts, line plots]
        tags: [data]
      - id: translator
        name: Polyglot
        description: Translates documents between languages.
        skills: [translate a document into German]
    """
)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    cards = tmp_path / "cards.yaml"
    cards.write_text(USER_CARDS)
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(
        '{"text": "plot revenue as a bar chart", "agent": "chart_maker"}\n\n'
        '{"text": "translate the manual into German"}\n'
    )
    return {"cards": cards, "tasks": tasks, "dir": tmp_path}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["route", "--embedder", "hashing", *args])
    return result.exit_code, result.output


def test_batch_prints_one_decision_per_line_in_order(files: dict[str, Path]) -> None:
    code, out = run("--cards", str(files["cards"]), "--batch", str(files["tasks"]), "--json")
    assert code == 0, out
    lines = [json.loads(x) for x in out.splitlines()]
    assert [x["text"] for x in lines] == [
        "plot revenue as a bar chart",
        "translate the manual into German",
    ]
    assert [x["chosen"] for x in lines] == ["chart_maker", "translator"]
    for x in lines:
        assert set(x) == {"text", "chosen", "candidates"}
        assert set(x["candidates"][0]) == {"agent_id", "score"}
        scores = [c["score"] for c in x["candidates"]]
        assert scores == sorted(scores, reverse=True)


def test_below_the_minimum_score_no_agent_fits(files: dict[str, Path]) -> None:
    code, out = run(
        "--cards", str(files["cards"]), "--batch", str(files["tasks"]), "--min-score", "50"
    )
    assert code == 0, out
    assert [json.loads(x)["chosen"] for x in out.splitlines()] == [None, None]
    code, out = run("--cards", str(files["cards"]), "--min-score", "50", "plot a bar chart")
    assert code == 1
    assert "no agent fits" in out


def test_feedback_is_recorded_before_routing_and_moves_the_decision(
    files: dict[str, Path],
) -> None:
    feedback = files["dir"] / "feedback.jsonl"
    text = "plot revenue as a bar chart"
    feedback.write_text(
        json.dumps({"text": text, "agent": "chart_maker", "success": False})
        + "\n"
        + json.dumps({"text": text, "agent": "translator", "success": True})
        + "\n"
    )
    args = ["--cards", str(files["cards"]), "--batch", str(files["tasks"])]
    code, out = run(*args, "--feedback", str(feedback))
    assert code == 0, out
    assert json.loads(out.splitlines()[0])["chosen"] == "translator"


def test_feedback_moves_the_decision_on_a_single_text_too(files: dict[str, Path]) -> None:
    feedback = files["dir"] / "feedback.jsonl"
    text = "plot revenue as a bar chart"
    feedback.write_text(
        json.dumps({"text": text, "agent": "chart_maker", "success": False})
        + "\n"
        + json.dumps({"text": text, "agent": "translator", "success": True})
        + "\n"
    )
    code, out = run("--cards", str(files["cards"]), "--feedback", str(feedback), "--json", text)
    assert code == 0, out
    assert json.loads(out)["chosen"]["agent_id"] == "translator"


def test_feedback_without_a_text_or_batch_says_what_to_add(files: dict[str, Path]) -> None:
    feedback = files["dir"] / "feedback.jsonl"
    feedback.write_text(json.dumps({"text": "x", "agent": "translator", "success": True}) + "\n")
    code, out = run("--cards", str(files["cards"]), "--feedback", str(feedback))
    assert code == 2
    assert f"--feedback {feedback} records outcomes before routing" in out
    assert "TEXT" in out and "--batch FILE" in out


def test_a_text_and_a_batch_together_are_refused(files: dict[str, Path]) -> None:
    code, out = run("--cards", str(files["cards"]), "--batch", str(files["tasks"]), "a text")
    assert code == 2
    assert "not both" in out


def test_bad_batch_lines_name_the_file_and_line(files: dict[str, Path]) -> None:
    bad = files["dir"] / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"nottext": 1}\n')
    code, out = run("--cards", str(files["cards"]), "--batch", str(bad))
    assert code == 2
    assert f"{bad}:2: missing field 'text'" in out
    code, out = run("--cards", str(files["cards"]))
    assert code == 2


async def test_outcomes_of_an_older_card_version_are_ignored() -> None:
    router = CapabilityRouter.open(HashingEmbedder())
    try:
        cards = [
            CapabilityCard(agent_id="a", description="Cleans messy CSV files."),
            CapabilityCard(agent_id="b", description="Cleans messy CSV files."),
        ]
        router.add_cards(cards)
        request = RouteRequest(text="clean the messy customer CSV file")
        await router.record_outcome(request, "b", True)
        assert (await router.route(request)).chosen.agent_id == "b"  # type: ignore[union-attr]
        vector = await router.query_vector(request)
        cleaning = frozenset({"clean"})
        assert router._estimates(vector, cleaning)["b"].evidence > 0
        router.add_cards([cards[1].model_copy(update={"version": 2})])
        assert "b" not in router._estimates(vector, cleaning)  # a new card version starts afresh
    finally:
        router.close()


def test_outcomes_decay_with_age() -> None:
    from weft.runtime.routing.chroma_store import chroma_client
    from weft.runtime.routing.outcome_memory import DAY_S, OutcomeMemory

    now = [1_000_000.0]
    memory = OutcomeMemory(
        chroma_client(path=None, url=None),
        model_id="test",
        dimension=4,
        collection="decay-test",
        clock=lambda: now[0],
    )
    vector = np.asarray([1, 0, 0, 0], dtype=np.float32)
    memory.record(vector, "a", True, "t", version=1)
    fresh = memory.estimates(vector)["a"].evidence
    now[0] += 30 * DAY_S
    assert memory.estimates(vector)["a"].evidence == pytest.approx(fresh / 2)
