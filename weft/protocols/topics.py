"""The bus topic layout, shared by every transport (see docs/protocol.md).

``weft/{ns}/cards/{agent}``        retained capability card
``weft/{ns}/agents/{agent}/call``  calls to one agent
``weft/{ns}/agents/{agent}/cancel`` cancellations of calls that agent holds
``weft/{ns}/pools/{pool}/call``    calls to a pool (shared subscription)
``weft/{ns}/replies/{client}``     replies to one caller
``weft/{ns}/runs/{run}/events``    run events
``weft/{ns}/teams/{team}``         team conversation
"""

from __future__ import annotations

DEFAULT_NAMESPACE = "default"
ROOT = "weft"


def _check_segment(value: str, what: str) -> str:
    if not value or any(c in value for c in "/+#\x00"):
        raise ValueError(f"{what} {value!r} must be non-empty and contain none of / + # NUL")
    return value


def check_namespace(value: str) -> str:
    """``value`` if it can be a topic namespace (one topic level), else ``ValueError``."""
    return _check_segment(value, "namespace")


class Topics:
    """Builds topics for one namespace; every segment is checked for wildcards."""

    def __init__(self, namespace: str = DEFAULT_NAMESPACE) -> None:
        self.namespace = _check_segment(namespace, "namespace")
        self.prefix = f"{ROOT}/{namespace}"

    def card(self, agent: str) -> str:
        return f"{self.prefix}/cards/{_check_segment(agent, 'agent')}"

    def all_cards(self) -> str:
        return f"{self.prefix}/cards/+"

    def agent_call(self, agent: str) -> str:
        return f"{self.prefix}/agents/{_check_segment(agent, 'agent')}/call"

    def agent_cancel(self, agent: str) -> str:
        return f"{self.prefix}/agents/{_check_segment(agent, 'agent')}/cancel"

    def pool_call(self, pool: str) -> str:
        return f"{self.prefix}/pools/{_check_segment(pool, 'pool')}/call"

    def shared_pool_subscription(self, pool: str) -> str:
        return f"$share/{_check_segment(pool, 'pool')}/{self.pool_call(pool)}"

    def replies(self, client: str) -> str:
        return f"{self.prefix}/replies/{_check_segment(client, 'client')}"

    def run_events(self, run_id: str) -> str:
        return f"{self.prefix}/runs/{_check_segment(run_id, 'run')}/events"

    def all_run_events(self) -> str:
        return f"{self.prefix}/runs/+/events"

    def team(self, team: str) -> str:
        return f"{self.prefix}/teams/{_check_segment(team, 'team')}"

    def dead_letter(self) -> str:
        return f"{self.prefix}/dead-letter"


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT topic filter matching, ``+`` one level and ``#`` the rest (MQTT 4.7).

    A ``$share/group/`` prefix is stripped from the pattern. Topics starting
    with ``$`` are not matched by a pattern starting with a wildcard.
    """
    if pattern.startswith("$share/"):
        pattern = pattern.split("/", 2)[2]
    if topic.startswith("$") and pattern[:1] in ("+", "#"):
        return False
    p_parts = pattern.split("/")
    t_parts = topic.split("/")
    for i, p in enumerate(p_parts):
        if p == "#":
            return True
        if i >= len(t_parts):
            return False
        if p != "+" and p != t_parts[i]:
            return False
    return len(p_parts) == len(t_parts)
