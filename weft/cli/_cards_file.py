"""Reading ``--cards FILE``: capability cards as weft, users and A2A agents write them.

A cards file is a list of cards, or a mapping with an ``agents`` or ``cards``
list. Each entry is one of:

- a weft capability card (``agent_id``, ``description``, ``skills``, ...);
- a card as users write one: ``id`` for ``agent_id``, and a ``name`` that is
  kept as the first sentence of the description, where both the embedding and
  the lexical score see it;
- an A2A agent card, as an agent serves it at ``/.well-known/agent-card.json``
  (``name``, ``description``, ``skills`` as objects with ``id``, ``description``,
  ``tags`` and ``examples``), read as weft reads the card of an A2A agent it
  calls (``weft.protocols.a2a.capability_from_a2a``). A file may also be one
  such card alone. Found by routing among cards someone else wrote: a saved
  agent card was refused for its ``url`` and ``capabilities`` fields.

A file is strict where the wire is lenient: an unknown field of a weft card is an
error naming the card, since it is most likely a misspelt one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from weft.protocols import CapabilityCard, DefinitionError
from weft.protocols.a2a import capability_from_a2a

#: Fields only an A2A agent card has (any one of them, with skills as objects, tells it).
_A2A_FIELDS = frozenset(
    {
        "url",
        "capabilities",
        "defaultInputModes",
        "defaultOutputModes",
        "protocolVersion",
        "supportedInterfaces",
        "preferredTransport",
        "provider",
    }
)


def load_cards_file(path: str) -> list[CapabilityCard]:
    """Capability cards from a YAML or JSON file; errors name the file and the entry."""
    from weft.workflows.yaml_io import loads_yaml, read_yaml_file

    if not Path(path).is_file():
        raise DefinitionError.single(f"{path}: no such file")
    # The workflow loader's reading: bounded (LoadLimits), errors name the line.
    data = loads_yaml(read_yaml_file(path), file=path)
    if is_a2a_card(data):
        data = [data]
    elif isinstance(data, dict):
        data = data.get("agents", data.get("cards"))
    if not isinstance(data, list):
        raise DefinitionError.single(
            f"{path}: expected a list of capability cards, or a mapping with an 'agents' or "
            "'cards' list, or an A2A agent card"
        )
    cards: list[CapabilityCard] = []
    first: dict[str, int] = {}
    for i, entry in enumerate(data):
        cards.append(_card(path, i + 1, entry))
        agent = cards[-1].agent_id
        if agent in first:  # an index by agent id would keep one of them, silently
            raise DefinitionError.single(
                f"{path}: card #{i + 1}: agent id '{agent}' is used by card #{first[agent]} "
                "too; each card needs its own id"
            )
        first[agent] = i + 1
    return cards


def is_a2a_card(entry: Any) -> bool:
    """Whether ``entry`` is an A2A agent card: skills as objects, and a field of A2A's."""
    if not isinstance(entry, dict) or not isinstance(entry.get("skills"), list):
        return False
    skills = entry["skills"]
    return (
        bool(skills) and all(isinstance(s, dict) for s in skills) and bool(_A2A_FIELDS & set(entry))
    )


def _card(path: str, number: int, entry: Any) -> CapabilityCard:
    from pydantic import ValidationError

    if is_a2a_card(entry):
        try:
            return capability_from_a2a(entry)
        except (ValueError, TypeError, AttributeError) as exc:
            name = entry.get("name", "?")
            raise DefinitionError.single(
                f"{path}: card #{number} ({name}), an A2A agent card: {exc}"
            ) from None
    entry = user_card_fields(entry)
    # CapabilityCard ignores unknown fields (the wire may carry newer ones); a file is strict.
    unknown = set(entry) - set(CapabilityCard.model_fields) if isinstance(entry, dict) else ()
    if unknown:
        fields = ", ".join(repr(str(k)) for k in sorted(unknown, key=str))
        name = entry.get("agent_id", "?")
        raise DefinitionError.single(f"{path}: card #{number} ({name}): unknown field {fields}")
    try:
        return CapabilityCard.model_validate(entry)
    except ValidationError as exc:
        name = entry.get("agent_id", "?") if isinstance(entry, dict) else "?"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'card'}: {e['msg']}" for e in exc.errors()
        )
        raise DefinitionError.single(f"{path}: card #{number} ({name}): {problems}") from None


def user_card_fields(entry: Any) -> Any:
    """Accept cards as users write them: ``id`` for ``agent_id``, a ``name``.

    The name is kept as the first sentence of the description, where both the
    embedding and the lexical score see it.
    """
    if not isinstance(entry, dict):
        return entry
    entry = dict(entry)
    if "id" in entry and "agent_id" not in entry:
        entry["agent_id"] = entry.pop("id")
    name = entry.pop("name", None)
    if isinstance(name, str) and name.strip():
        description = str(entry.get("description") or "")
        entry["description"] = f"{name.strip()}. {description}".strip()
    return entry
