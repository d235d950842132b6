"""How old a card is: from the card and the broker, never from when it arrived."""

from __future__ import annotations

import pytest

from weft.protocols import AgentCard
from weft.protocols.remote import BROKER_AGE_TOLERANCE, card_age, card_expiry

NOW = 1_767_225_600.0


def card(sent_at: float, *, heartbeat: float = 1.0, expiry: int | None = 60) -> AgentCard:
    return AgentCard(
        agent_id="a1",
        actions=[],
        topic="weft/t/agents/a1/call",
        heartbeat_interval=heartbeat,
        sent_at=sent_at,
        expiry=expiry,
    )


def test_a_card_is_stale_after_one_and_a_half_heartbeats_so_a_freeze_shows_within_two() -> None:
    assert card(NOW, heartbeat=5.0).stale_after == 7.5
    assert card(NOW, heartbeat=0.2).stale_after < 2 * 0.2


def test_a_card_delivered_live_is_news_whatever_the_senders_clock_says() -> None:
    behind = card(NOW - 100)  # the agent's clock is 100 s behind ours
    assert card_age(behind, NOW, replayed=False, remaining_expiry=60) == 0.0


def test_a_replayed_card_is_as_old_as_its_own_timestamp_when_the_clocks_agree() -> None:
    old = card(NOW - 25)
    assert card_age(old, NOW, replayed=True, remaining_expiry=35) == 25.0


def test_without_the_brokers_count_a_replayed_card_trusts_the_senders_clock() -> None:
    old = card(NOW - 25, expiry=None)  # an agent of an older weft names no expiry
    assert card_age(old, NOW, replayed=True, remaining_expiry=None) == 25.0
    assert card_age(card(NOW - 25), NOW, replayed=True, remaining_expiry=None) == 25.0


def test_a_frozen_agent_whose_clock_runs_ahead_still_ages_by_the_brokers_count() -> None:
    ahead = card(NOW + 100)  # sent 20 s ago by a clock 100 s ahead of ours
    age = card_age(ahead, NOW, replayed=True, remaining_expiry=40)
    assert age == pytest.approx(20 - BROKER_AGE_TOLERANCE)
    assert age > ahead.stale_after


def test_a_live_agent_whose_clock_runs_behind_is_not_aged_past_the_brokers_count() -> None:
    behind = card(NOW - 100)  # sent just now by a clock 100 s behind ours
    age = card_age(behind, NOW, replayed=True, remaining_expiry=60)
    assert age == pytest.approx(BROKER_AGE_TOLERANCE)


def test_a_card_from_the_future_is_no_younger_than_new() -> None:
    assert card_age(card(NOW + 5, expiry=None), NOW, replayed=True) == 0.0


@pytest.mark.parametrize(("heartbeat", "expiry"), [(0.5, 60), (5.0, 100), (60.0, 1200)])
def test_a_card_is_kept_by_the_broker_for_twenty_heartbeats_and_at_least_a_minute(
    heartbeat: float, expiry: int
) -> None:
    assert card_expiry(heartbeat) == expiry
