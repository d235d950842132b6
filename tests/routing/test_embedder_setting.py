"""``$WEFT_EMBEDDER``: one setting picks the embedding model of ``weft route``, ``weft ask``
and capability nodes; a wrong value is one line naming the variable."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli import cli
from weft.testing import OpenAIServer, ScriptedModel

CARDS = """
agents:
  - agent_id: charts
    description: Draws charts and plots from tables of numbers.
    skills: [bar charts, line plots]
  - agent_id: translator
    description: Translates documents between languages.
    skills: [translation]
"""

TOOLS = '''
from weft import tool

@tool
def research(topic: str) -> str:
    """Research facts about a topic."""
    return "facts on " + topic.lower()

@tool
def total(counts: str) -> str:
    """Add the counts up."""
    return str(sum(int(x) for x in counts.split()))

agents = [research, total]
'''


@pytest.fixture
def cards_file(tmp_path: Path) -> Path:
    path = tmp_path / "cards.yaml"
    path.write_text(CARDS)
    return path


def test_weft_route_embeds_with_the_model_weft_embedder_names(
    cards_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OpenAIServer(ScriptedModel()) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("WEFT_EMBEDDER", "openai:local-embed")
        args = ["route", "Draw a bar chart of sales", "--cards", str(cards_file), "--json"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code in (0, 1), result.output
        assert json.loads(result.stdout)["embedding_model"] == "local-embed"
        # The flag wins over the variable.
        result = CliRunner().invoke(cli, [*args, "--embedder", "hashing"])
        assert json.loads(result.stdout)["embedding_model"].startswith("weft/hashing")


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("bogus", "WEFT_EMBEDDER=bogus: unknown embedder 'bogus'"),
        ("openai:m", "WEFT_EMBEDDER=openai:m: set WEFT_EMBEDDER_URL (or OPENAI_BASE_URL)"),
    ],
)
def test_a_wrong_weft_embedder_is_one_line_naming_it(
    value: str, said: str, cards_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEFT_EMBEDDER", value)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["route", "Draw a chart", "--cards", str(cards_file)])
    assert result.exit_code == 2, result.output
    assert said in result.output and "Traceback" not in result.output
    (tmp_path / "setting_tools.py").write_text(TOOLS)
    monkeypatch.syspath_prepend(str(tmp_path))
    ask = ["ask", "Research tides", "--agents", "setting_tools", "--router", "capability"]
    result = CliRunner().invoke(cli, [*ask, "--journal", str(tmp_path / "j.db")])
    assert result.exit_code == 2, result.output
    assert said in result.output and "Traceback" not in result.output


def test_weft_embedder_url_serves_embeddings_apart_from_the_chat_model_s_server(
    cards_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPENAI_BASE_URL names the chat model's server (here: nothing listens); the
    embeddings come from WEFT_EMBEDDER_URL's."""
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    with OpenAIServer(ScriptedModel()) as server:
        monkeypatch.setenv("WEFT_EMBEDDER_URL", server.base_url)
        monkeypatch.setenv("WEFT_EMBEDDER", "openai:local-embed")
        args = ["route", "Draw a bar chart of sales", "--cards", str(cards_file), "--json"]
        result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 1), result.output
    assert json.loads(result.stdout)["embedding_model"] == "local-embed"


def test_embedder_openai_with_no_model_is_refused_not_defaulted(
    cards_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--embedder openai:`` names no model: before, it silently embedded with
    text-embedding-3-small."""
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.delenv("WEFT_EMBEDDER", raising=False)
    args = ["route", "Draw a chart", "--cards", str(cards_file), "--embedder", "openai:"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "--embedder openai:: embedder 'openai:' names no model" in result.output
    assert "give the model: openai:MODEL" in result.output and "Traceback" not in result.output


def test_weft_ask_routes_with_weft_embedder_and_keeps_each_model_s_outcomes_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "setting_tools2.py").write_text(textwrap.dedent(TOOLS))
    monkeypatch.syspath_prepend(str(tmp_path))
    memory = str(tmp_path / "memory")
    ask = ["ask", "Research tides", "--agents", "setting_tools2", "--memory", memory, "--json"]
    ask += ["--planner", "rules", "--aggregator", "concat"]
    first = CliRunner().invoke(cli, [*ask, "--journal", str(tmp_path / "j1.db")])
    assert first.exit_code == 0, first.output  # MiniLM: outcomes kept in the shared store
    with OpenAIServer(ScriptedModel()) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("WEFT_EMBEDDER", "openai:local-embed")
        second = CliRunner().invoke(
            cli, [*ask, "--no-memory", "--journal", str(tmp_path / "j2.db")]
        )
        assert second.exit_code == 0, second.output
        decisions = json.loads(second.stdout)["decisions"]
        assert {d["embedding_model"] for d in decisions.values()} == {"local-embed"}
        # The same memory store, another model: its own outcomes, not MiniLM's refused.
        third = CliRunner().invoke(cli, [*ask, "--journal", str(tmp_path / "j3.db")])
        assert third.exit_code == 0, third.output
        assert "Traceback" not in third.output
