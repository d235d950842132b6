"""``weft route`` and ``$WEFT_BROKER``: the environment's broker only when no cards are given.

The rule is the one of ``run``, ``resume`` and ``ask`` (``weft.cli._broker``);
the broker points at a loopback port nobody listens on.
"""

from __future__ import annotations

import socket
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
    """
)


@pytest.fixture
def down_broker() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"mqtt://127.0.0.1:{probe.getsockname()[1]}"


def test_route_among_given_cards_ignores_weft_broker(tmp_path: Path, down_broker: str) -> None:
    cards = tmp_path / "cards.yaml"
    cards.write_text(CARDS)
    result = CliRunner().invoke(
        cli,
        ["route", "plot revenue as a line chart", "--cards", str(cards), "--embedder", "hashing"],
        env={"WEFT_BROKER": down_broker},
    )
    assert result.exit_code == 0, result.output
    assert "chosen: chart_maker" in result.output


def test_route_with_nothing_else_uses_weft_broker(down_broker: str) -> None:
    result = CliRunner().invoke(
        cli, ["route", "plot revenue", "--embedder", "hashing"], env={"WEFT_BROKER": down_broker}
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: cannot reach MQTT broker at {down_broker}")
    assert "Traceback" not in result.output
