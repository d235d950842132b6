"""LLM text streamed over A2A: as chunks of the task's answer artifact.

A2A streams an answer as ``TaskArtifactUpdateEvent``s of one artifact: the
first chunk with ``append: false``, the next ones ``append: true``, the last
one ``lastChunk: true`` (the spec's ``message/stream`` example; ``a2a-sdk``'s
``TaskUpdater.add_artifact(append=, last_chunk=)`` and its task store, which
appends the parts of an ``append`` chunk and replaces the artifact on one
without). Status messages are for what the agent is doing (weft's progress
reports), so they stay those.

weft serves it this way (``a2a_server``, ``a2a_mqtt``): on a
``SendStreamingMessage`` each piece of streamed text (``weft.protocols.streaming``)
is a chunk of the task's ``result`` artifact, and when the call ends the same
artifact is sent whole (``append`` false, ``lastChunk`` true), so the
finished task holds the answer once, as the action returned it, not the
pieces beside it. A blocking ``SendMessage`` (and ``GetTask`` after it) sees
no pieces: the agent is not asked to stream, and pieces of an agent that
always streams are dropped.

A weft client (``A2aAction``, ``A2aMqttAction``) passes the text of every
chunk but a whole artifact on to its caller as streamed text
(``chunk_text``), so ``weft run --stream`` shows a remote agent's answer as
it comes. It tells a weft agent whether anyone reads that text
(``STREAM_TEXT_METADATA`` in the request's metadata, ``false`` when no one
does): a run nobody watches pays nothing for it, yet still gets progress.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Request metadata a weft client sets: ``false`` when no one reads the agent's text.
STREAM_TEXT_METADATA = "weftStreamText"
#: The name of the artifact that holds a served call's output (and its streamed text).
RESULT_ARTIFACT = "result"


def text_wanted(*metadata: Mapping[str, Any] | None) -> bool:
    """Whether a streaming request's sender reads streamed text: yes unless it said no."""
    return not any(
        isinstance(m, Mapping) and m.get(STREAM_TEXT_METADATA) is False for m in metadata
    )


def chunk_text(update: Mapping[str, Any]) -> str | None:
    """The streamed text an ``artifactUpdate`` (JSON) carries, or ``None``.

    Every chunk counts but a whole artifact (``append`` false with
    ``lastChunk`` true: what weft sends last, replacing the chunks), so an
    agent that sends its one artifact without ``lastChunk`` is shown too.
    Only text parts are text; a chunk of data parts carries none.
    """
    if not update.get("append") and update.get("lastChunk"):
        return None
    artifact = update.get("artifact")
    parts = artifact.get("parts") if isinstance(artifact, Mapping) else None
    texts = [str(p["text"]) for p in parts or [] if isinstance(p, Mapping) and "text" in p]
    return "".join(texts) or None


def text_chunk(
    task_id: str, context_id: str, artifact_id: str, text: str, *, append: bool
) -> dict[str, Any]:
    """The ``artifactUpdate`` (JSON) carrying ``text`` as a chunk of the answer artifact."""
    artifact = {"artifactId": artifact_id, "name": RESULT_ARTIFACT, "parts": [{"text": text}]}
    return {"taskId": task_id, "contextId": context_id, "artifact": artifact, "append": append}
