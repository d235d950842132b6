"""Check an A2A agent card (JSON) against ``a2a-sdk``'s own ``AgentCard`` type.

The SDK's types are the protobuf messages of A2A's normative ``a2a.proto``;
a card is valid when protobuf's JSON parser reads it strictly (no unknown
field, every value of its field's type) and every field the proto marks
``REQUIRED`` is set: the checks ``a2a-sdk`` itself applies to the cards it
serves. ``a2a-sdk`` is the optional ``a2a`` extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from weft.protocols import ActionFailed

INSTALL_HINT = "A2A needs the 'a2a' extra: pip install 'weft[a2a]'"


class A2aCardInvalid(ActionFailed):
    """An A2A agent card that does not validate against the A2A schema."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_type="A2aCardInvalid", retryable=False)


def require_a2a_sdk() -> None:
    """``ImportError`` naming the extra when ``a2a-sdk`` is not installed."""
    try:
        import a2a.types  # noqa: F401
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc


def agent_card_proto(card: Mapping[str, Any]) -> Any:
    """``card`` as the SDK's ``a2a.types.AgentCard``; ``A2aCardInvalid`` says why not."""
    require_a2a_sdk()
    from a2a.types import AgentCard
    from a2a.utils.errors import InvalidParamsError
    from a2a.utils.proto_utils import validate_proto_required_fields
    from google.protobuf.json_format import ParseDict, ParseError

    name = card.get("name", "?")
    try:
        proto = ParseDict(dict(card), AgentCard())
    except ParseError as exc:
        raise A2aCardInvalid(f"A2A card {name!r}: {exc}") from None
    try:
        validate_proto_required_fields(proto)
    except InvalidParamsError as exc:
        errors = (exc.data or {}).get("errors", [])
        fields = ", ".join(f"{e['field']} ({e['message']})" for e in errors)
        raise A2aCardInvalid(f"A2A card {name!r}: required fields missing: {fields}") from None
    return proto


def validate_agent_card(card: Mapping[str, Any]) -> dict[str, Any]:
    """The card as the SDK writes it back (proto JSON), after ``agent_card_proto``'s checks."""
    from google.protobuf.json_format import MessageToDict

    result: dict[str, Any] = MessageToDict(agent_card_proto(card))
    return result
