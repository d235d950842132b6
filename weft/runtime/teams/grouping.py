"""Which subtasks share a channel: those whose routed agents are similar (Federation of Agents).

Two subtasks belong together when the agents routed to them are the same
agent, or their capability cards mean nearly the same (cosine of the
embedded card texts at least ``threshold``). Grouping is greedy in the order
given, each item joining the first group whose leader it resembles, so the
result is deterministic; an unrouted subtask stays alone. Pure apart from the
embedder's call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from weft.protocols import CapabilityCard
from weft.runtime.routing.embeddings.base import Embedder

#: Cosine above which two cards count as one kind of agent (MiniLM: paraphrases score 0.8+).
DEFAULT_THRESHOLD = 0.8


def card_text(card: CapabilityCard) -> str:
    """The text a card is compared by: its description and skills."""
    return " ".join([card.description, *card.skills]).strip() or card.agent_id


def group_similar(
    cards: Sequence[CapabilityCard | None],
    *,
    embedder: Embedder | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[list[int]]:
    """Indices of ``cards`` in groups, each group in order, groups by their first index.

    Without an ``embedder`` only the same agent groups. A group of one is a
    subtask with no similar peer: it runs alone, not in a cluster.
    """
    vectors = None
    known = [i for i, card in enumerate(cards) if card is not None]
    if embedder is not None and known:
        raw = np.asarray(embedder.embed([card_text(cards[i]) for i in known]), dtype=np.float32)  # type: ignore[arg-type]
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        vectors = dict(zip(known, raw / np.where(norms == 0, 1, norms), strict=True))
    groups: list[list[int]] = []
    for i, card in enumerate(cards):
        home = None
        if card is not None:
            for group in groups:
                leader = cards[group[0]]
                if leader is None:
                    continue
                same = leader.agent_id == card.agent_id
                if same or (
                    vectors is not None and float(vectors[group[0]] @ vectors[i]) >= threshold
                ):
                    home = group
                    break
        if home is None:
            groups.append([i])
        else:
            home.append(i)
    return groups


def plan_channels(
    subtasks: Sequence[tuple[str, frozenset[str], CapabilityCard | None]],
    *,
    embedder: Embedder | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[list[str]]:
    """Channels of a plan: ids of two or more subtasks with similar agents and the same inputs.

    ``subtasks`` are ``(id, dependencies, routed card)``. Only subtasks with
    identical dependencies share a channel, so the channel can run as one
    step where its members stood without a cycle (a member can never depend,
    even through others, on another member). Subtasks in no channel are left out.
    """
    by_inputs: dict[frozenset[str], list[int]] = {}
    for index, (_, deps, _) in enumerate(subtasks):
        by_inputs.setdefault(deps, []).append(index)
    channels: list[list[str]] = []
    for indices in by_inputs.values():
        cards = [subtasks[i][2] for i in indices]
        for group in group_similar(cards, embedder=embedder, threshold=threshold):
            if len(group) > 1:
                channels.append([subtasks[indices[i]][0] for i in group])
    return sorted(channels, key=lambda ids: [s[0] for s in subtasks].index(ids[0]))
