"""Dead letters: what a weft process does with a message it cannot handle.

A malformed or schema-violating message must never crash an agent or a
registry, and must not vanish silently either: it is logged and described on
``weft/{ns}/dead-letter`` (a ``DeadLetter`` record, never the whole payload),
where an operator can watch with ``mosquitto_sub -t 'weft/+/dead-letter'``.
"""

from __future__ import annotations

import logging

from weft.protocols import BusError, DeadLetter, DeadLetterReason, Message
from weft.runtime.bus.base import Bus

log = logging.getLogger(__name__)

EXCERPT_BYTES = 512


def dead_letter_for(
    message: Message, reason: DeadLetterReason, detail: str, received_by: str
) -> DeadLetter:
    """The record describing ``message``; keeps only the start of the payload."""
    correlation = message.properties.correlation_data
    return DeadLetter(
        reason=reason,
        detail=detail[:2000],
        topic=message.topic,
        received_by=received_by,
        payload_size=len(message.payload),
        excerpt=message.payload[:EXCERPT_BYTES].decode("utf-8", errors="replace"),
        response_topic=message.properties.response_topic,
        correlation_data=correlation.hex() if correlation is not None else None,
    )


async def publish_dead_letter(
    bus: Bus, message: Message, reason: DeadLetterReason, detail: str, received_by: str
) -> DeadLetter:
    """Log the problem and publish its record; never raises (a dead letter is best effort)."""
    record = dead_letter_for(message, reason, detail, received_by)
    log.warning(
        "dead letter from %s on %s (%s, %d bytes): %s",
        received_by,
        message.topic,
        reason.value,
        record.payload_size,
        record.detail,
    )
    try:
        await bus.publish(bus.topics.dead_letter(), record.model_dump_json(), qos=1)
    except BusError as exc:
        log.warning("could not publish a dead letter: %s", exc)
    return record
