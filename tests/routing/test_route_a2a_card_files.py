"""``weft route --cards`` reads A2A agent cards as agents serve them.

Found routing among cards someone else wrote: an agent card saved from
``/.well-known/agent-card.json`` was refused ("unknown field 'capabilities',
'defaultInputModes', 'defaultOutputModes', 'url'"), although weft reads the same
card when it calls that agent. Now such a card, alone or in a list, is read as
weft reads a called A2A agent's card (``capability_from_a2a``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli import cli
from weft.cli._cards_file import load_cards_file
from weft.protocols import DefinitionError

CURRENCY = {
    "name": "Currency Agent",
    "description": "Helps with exchange rates for currencies",
    "url": "http://localhost:10000/",
    "version": "1.0.0",
    "capabilities": {"streaming": True},
    "defaultInputModes": ["text"],
    "defaultOutputModes": ["text"],
    "skills": [
        {
            "id": "convert_currency",
            "name": "Currency Exchange Rates Tool",
            "description": "Helps with exchange values between various currencies",
            "tags": ["currency conversion", "currency exchange"],
            "examples": ["What is exchange rate between USD and GBP?"],
        }
    ],
}
WEATHER = {
    "name": "Weather Agent",
    "description": "Forecasts and current conditions for any city",
    "url": "http://localhost:10001/",
    "skills": [
        {
            "id": "forecast",
            "name": "Forecast",
            "description": "Seven-day weather forecast for a city",
            "tags": ["weather"],
            "examples": ["Will it rain in Paris tomorrow?"],
        }
    ],
}


def test_a_list_of_a2a_cards_is_read_with_their_skills_and_examples(tmp_path: Path) -> None:
    path = tmp_path / "cards.json"
    path.write_text(json.dumps([CURRENCY, WEATHER]))
    currency, weather = load_cards_file(str(path))
    assert currency.agent_id == "Currency Agent"
    assert currency.description == "Helps with exchange rates for currencies"
    assert "Helps with exchange values between various currencies" in currency.skills
    assert "currency conversion" in currency.skills
    assert currency.examples == ["What is exchange rate between USD and GBP?"]
    assert weather.agent_id == "Weather Agent"


def test_one_saved_agent_card_is_a_cards_file_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "agent-card.json"
    path.write_text(json.dumps(CURRENCY))
    (card,) = load_cards_file(str(path))
    assert card.agent_id == "Currency Agent"


def test_a_skill_without_an_id_names_the_card(tmp_path: Path) -> None:
    broken = {**WEATHER, "skills": [{"name": "Forecast", "description": "forecasts"}]}
    path = tmp_path / "cards.yaml"
    path.write_text(json.dumps([CURRENCY, broken]))
    with pytest.raises(
        Exception, match=r"cards.yaml: card #2 \(Weather Agent\), an A2A agent card"
    ):
        load_cards_file(str(path))


def test_a_weft_card_with_a_misspelt_field_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "cards.yaml"
    path.write_text("- id: calc\n  description: adds numbers\n  skils: [add]\n")
    with pytest.raises(DefinitionError, match=r"card #1 \(calc\): unknown field 'skils'"):
        load_cards_file(str(path))


def test_weft_route_batch_routes_among_a2a_cards(tmp_path: Path) -> None:
    cards = tmp_path / "cards.json"
    cards.write_text(json.dumps([CURRENCY, WEATHER]))
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(
        '{"text": "How many euros is 250 dollars?"}\n'
        '{"text": "Do I need an umbrella in Berlin on Friday?"}\n'
    )
    args = ["route", "--cards", str(cards), "--batch", str(tasks), "--json", "--no-rerank"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output + result.stderr
    chosen = [json.loads(line)["chosen"] for line in result.stdout.splitlines()]
    assert chosen == ["Currency Agent", "Weather Agent"]
