"""``weft route``: explains a decision from cards in a file, actions or a broker, or why not."""

from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli import cli

CARDS = textwrap.dedent(
    """
    agents:
      - agent_id: chart_maker
        description: Turns data into line, bar and scatter charts.
        skills: [plot a time series as a line chart]
        tags: [data]
      - agent_id: statistician
        description: Runs hypothesis tests and regressions.
        skills: [run a t-test between two groups]
        tags: [data]
        cost_per_call: 0.5
      - agent_id: translator
        description: Translates documents between languages.
        skills: [translate a document into German]
    """
)


@pytest.fixture
def cards_file(tmp_path: Path) -> Path:
    path = tmp_path / "cards.yaml"
    path.write_text(CARDS)
    return path


def test_route_prints_ranked_candidates_with_score_parts_and_the_winner(cards_file: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["route", "plot monthly revenue as a line chart", "--cards", str(cards_file),
         "--embedder", "hashing"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if line.startswith("#"))
    for column in ("AGENT", "SCORE", "BEST", "MEAN", "LEXICAL", "NOT_SKILL", "COST", "LOAD"):
        assert column in header
    assert lines[lines.index(header) + 1].split()[1] == "chart_maker"
    assert "chosen: chart_maker (version 1)" in result.output
    assert "weft/hashing-384" in result.output


def test_route_says_how_it_read_a_request_that_says_what_it_does_not_want(
    cards_file: Path,
) -> None:
    text = "I already have the chart. Now run a t-test, no need to translate anything."
    args = ["route", text, "--cards", str(cards_file), "--embedder", "hashing"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "read as: 'Now run a t-test'" in result.output.splitlines()[1]
    plain = CliRunner().invoke(cli, ["route", "run a t-test", *args[2:]])
    assert "read as:" not in plain.output  # nothing left out, nothing said


def test_route_with_minilm_picks_by_meaning(cards_file: Path, minilm: object) -> None:
    result = CliRunner().invoke(
        cli,
        ["route", "Is the uplift between the two variants significant?", "--cards",
         str(cards_file), "-c", "statistics"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "chosen: statistician" in result.output


def test_route_json_is_the_routing_decision(cards_file: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["route", "plot a line chart", "--cards", str(cards_file), "--embedder", "hashing",
         "--max-cost", "0.1", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["chosen"]["agent_id"] == "chart_maker"
    assert decision["request"]["max_cost"] == 0.1
    excluded = {c["agent_id"]: c["excluded"] for c in decision["candidates"] if c["excluded"]}
    assert "over budget" in excluded["statistician"]


def test_route_exits_1_when_no_agent_qualifies(cards_file: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["route", "plot a chart", "--cards", str(cards_file), "--embedder", "hashing",
         "--require-tag", "legal"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no agent qualifies" in result.output
    assert "missing tags: legal" in result.output


def test_route_reads_cards_from_actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_agents.py").write_text(
        textwrap.dedent(
            '''
            from weft import tool

            @tool
            def translate(text: str, language: str) -> str:
                """Translate a text into another language."""
                return text

            @tool
            def plot(data: str) -> str:
                """Draw a line chart of the data."""
                return data

            agents = [translate, plot]
            '''
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(
        cli, ["route", "translate the text into French", "--agents", "my_agents:agents",
              "--embedder", "hashing"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "chosen: translate" in result.output


def test_route_without_cards_says_where_they_can_come_from() -> None:
    result = CliRunner().invoke(cli, ["route", "anything", "--embedder", "hashing"])
    assert result.exit_code == 2
    assert "--cards FILE" in result.output and "--broker URL" in result.output


def test_a_bad_card_file_names_the_file_and_the_card(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("- agent_id: ok\n- description: no id here\n")
    result = CliRunner().invoke(cli, ["route", "x", "--cards", str(path), "--embedder", "hashing"])
    assert result.exit_code == 2
    assert f"{path}: card #2" in result.output and "agent_id" in result.output


def test_a_card_file_with_an_unknown_field_names_it(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("- agent_id: ok\n  skils: [translate]\n")
    result = CliRunner().invoke(cli, ["route", "x", "--cards", str(path), "--embedder", "hashing"])
    assert result.exit_code == 2
    assert f"{path}: card #1 (ok): unknown field 'skils'" in result.output


def test_broker_without_the_live_registry_module_is_explained(
    cards_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "weft.runtime.remote.live_registry" else real(name, *a),
    )
    result = CliRunner().invoke(
        cli, ["route", "x", "--broker", "mqtt://127.0.0.1:1", "--embedder", "hashing"]
    )
    assert result.exit_code == 2
    assert "weft.runtime.remote.live_registry" in result.output
    assert "Traceback" not in result.output


async def test_route_with_a_broker_routes_among_the_live_agents(mqtt_broker_url: str) -> None:
    import asyncio
    import uuid

    from weft import tool
    from weft.protocols import CapabilityCard
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
    from weft.runtime.remote.agent_host import AgentHost

    @tool(card=CapabilityCard(agent_id="charts", description="Draws line and bar charts."))
    def charts(data: str) -> str:
        return data

    @tool(card=CapabilityCard(agent_id="translate", description="Translates documents."))
    def translate(text: str) -> str:
        return text

    namespace = f"t-{uuid.uuid4().hex[:12]}"
    async with (
        MqttBus(mqtt_broker_url, namespace=namespace) as bus,
        AgentHost(bus, [charts, translate], agent_id="worker-1"),
    ):
        result = await asyncio.to_thread(
            CliRunner().invoke,
            cli,
            ["route", "draw a line chart of revenue", "--broker", mqtt_broker_url,
             "--namespace", namespace, "--embedder", "hashing"],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "chosen: charts" in result.output


def test_two_cards_with_one_id_are_refused_not_merged(tmp_path: Path) -> None:
    """An index by agent id kept one of them silently: the other agent was never routed to."""
    path = tmp_path / "twice.yaml"
    path.write_text(
        "cards:\n  - {id: desk, name: Translator, description: Translates text.}\n"
        "  - {id: desk, name: Weather, description: Forecasts the weather.}\n"
    )
    result = CliRunner().invoke(cli, ["route", "x", "--cards", str(path), "--embedder", "hashing"])
    assert result.exit_code == 2
    assert f"{path}: card #2: agent id 'desk' is used by card #1 too" in result.output
