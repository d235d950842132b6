"""The likelihood stage's scorer for a larger model: any GGUF causal LM through llama-cpp-python.

SmolLM2-135M in numpy (``LikelihoodScorer``) is the default scorer: small,
no native build, about 0.5 s a decision. A ~10x larger model separates the
close pairs that the small one decides by topic (bench/RESULTS.md,
"likelihood stage with a 1.5B model": Qwen2.5-Coder-1.5B took the fourth set
0.783 -> 0.833 and the third 0.721 -> 0.817 at the same weight), at several
seconds a decision on two cores. Numpy cannot run it at that size in
reasonable time; llama.cpp can (quantised kernels), so this scorer is opt-in:
``weft route --rerank-model PATH.gguf`` or ``$WEFT_RERANK_MODEL``, with
``pip install llama-cpp-python`` (``scripts/real-llm-server --install`` builds it).

It scores exactly what the numpy scorer scores: the mean log-probability of
the subtask's tokens and the closing quote after ``card_prompt(card)``,
computed here from the full-vocabulary logits (log-sum-exp in float64).

One llama.cpp context holds one card prompt at a time. ``score_many`` is the
batch path (``LikelihoodChooser.refine_many``, ``weft route --batch``): each
distinct card prompt of all the decisions is run once, and every subtask that
has that card among its candidates is scored after it, the context cut back to
the prompt in between (``Llama.n_tokens``, which ``eval`` trims the KV cache
to). A single decision runs each of its card prompts (the last one stays, so
two decisions in a row over the same best card share it). Saving a context
per card is not worth it: a saved state carries every position's logits
(``logits_all``), about 60 MB for a 100-token prompt at a 150k vocabulary.

Uses llama-cpp-python's public ``Llama`` API only: ``tokenize``, ``reset``,
``eval``, ``n_tokens`` and ``scores`` (the per-position logits with
``logits_all=True``); tested with 0.3.36, the version ``scripts/real-llm-server
--install`` builds today.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from weft.protocols import CapabilityCard
from weft.runtime.routing.likelihood.chooser import PROMPT_LIMITS, LikelihoodChooser, card_prompt
from weft.runtime.routing.likelihood.packaged_models import (
    PACKAGED_MODELS,
    packaged_model_path,
)
from weft.runtime.routing.likelihood.smollm import LikelihoodModelError

#: The environment variable naming the GGUF file (``--rerank-model`` wins over it).
RERANK_MODEL_ENV = "WEFT_RERANK_MODEL"
LLAMA_CPP_HINT = (
    "pip install 'llama-cpp-python>=0.3.7' (a native build, several minutes; "
    "scripts/real-llm-server --install builds it without native CPU flags)"
)
#: One card prompt (clipped by ``PromptLimits``: under ~700 tokens) and a subtask's 128.
CONTEXT_TOKENS = 1024

#: The stage's weight with a larger model (router score + weight x likelihood), chosen on
#: the project set's tune half with Qwen2.5-Coder-1.5B (bench/routing_rerank_model.py): 0.5
#: and 0.75 tie there (top-1 0.836, no-fit caught 6/8), 1-4 do worse; the same weight as
#: SmolLM2's. The blind sets did better at 2-4 (bench/RESULTS.md): not tuned on, not used.
LARGER_MODEL_WEIGHT = 0.75

#: A job of ``score_many``: the subtask and the cards to score it after.
ScoreJob = tuple[str, Sequence[CapabilityCard]]


class LlamaCppScorer:
    """Per-card mean log-likelihood of a subtask under a GGUF model run by llama.cpp.

    Same interface as ``LikelihoodScorer`` (``score``), plus the batch path
    ``score_many``. Thread-confined like it: ``LikelihoodChooser`` calls it on the
    one model thread. ``threads``: llama.cpp's threads (default: every CPU).
    ``bos``: start each card prompt with the BOS token (None: as the GGUF's
    ``add_bos_token`` says; SmolLM2's and Qwen2.5's say no, and the numpy scorer
    always starts with it, so True scores what it scores).
    """

    def __init__(
        self, path: Path | str, *, threads: int | None = None, bos: bool | None = None
    ) -> None:
        self.path = Path(path)
        self.threads = threads or os.cpu_count() or 1
        self.bos = bos
        self._llm: Any = None
        self._held: list[int] = []  # the card prompt's tokens the context holds now
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        """The loaded ``llama_cpp.Llama`` (loads on first use; raises ``LikelihoodModelError``)."""
        if self._llm is None:
            self._llm = self._load()
        return self._llm

    def _load(self) -> Any:
        if not self.path.is_file():
            raise LikelihoodModelError(f"rerank model {self.path}: no such file")
        try:
            from llama_cpp import Llama
        except ImportError:
            raise LikelihoodModelError(
                f"rerank model {self.path} is run by llama-cpp-python, which is not "
                f"installed: {LLAMA_CPP_HINT}"
            ) from None
        try:
            return Llama(
                model_path=str(self.path),
                n_ctx=CONTEXT_TOKENS,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                logits_all=True,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:  # llama.cpp refused the file
            raise LikelihoodModelError(
                f"rerank model {self.path}: llama.cpp cannot load it as a GGUF causal "
                f"language model ({exc})"
            ) from None

    def score(self, subtask: str, cards: Sequence[CapabilityCard]) -> list[float]:
        """Mean log P(subtask tokens, then the closing quote | card prompt), per card."""
        return self.score_many([(subtask, cards)])[0]

    def score_many(self, jobs: Sequence[ScoreJob]) -> list[list[float]]:
        """``score`` for every job, each distinct card prompt run once for all of them."""
        with self._lock:
            llm = self.model
            results = [[0.0] * len(cards) for _, cards in jobs]
            by_prompt: dict[str, list[tuple[int, int]]] = {}
            for j, (_, cards) in enumerate(jobs):
                for position, card in enumerate(cards):
                    by_prompt.setdefault(card_prompt(card), []).append((j, position))
            tails = [self._tail(llm, subtask) for subtask, _ in jobs]
            prompt_ids = {prompt: self._prompt_ids(llm, prompt) for prompt in by_prompt}
            # The prompt the context holds already goes first: it costs nothing.
            held = self._held
            for prompt in sorted(by_prompt, key=lambda p: prompt_ids[p] != held):
                start = self._hold(llm, prompt_ids[prompt])
                for j, position in by_prompt[prompt]:
                    results[j][position] = self._mean_logprob(llm, start, tails[j])
            return results

    @staticmethod
    def _tail(llm: Any, subtask: str) -> list[int]:
        ids: list[int] = llm.tokenize((subtask + '"').encode(), add_bos=False, special=False)
        return ids[: PROMPT_LIMITS.subtask_tokens] or [llm.token_eos()]

    def _prompt_ids(self, llm: Any, prompt: str) -> list[int]:
        """The prompt's tokens, BOS first as ``bos`` says; its end kept when too long."""
        ids: list[int] = llm.tokenize(prompt.encode(), add_bos=self.bos is None, special=False)
        if self.bos and llm.token_bos() >= 0:
            ids = [llm.token_bos(), *ids]
        room = CONTEXT_TOKENS - PROMPT_LIMITS.subtask_tokens
        if len(ids) > room:  # PromptLimits keeps prompts far shorter; never cut the cue
            ids = ids[:1] + ids[len(ids) - room + 1 :]
        return ids

    def _hold(self, llm: Any, ids: list[int]) -> int:
        """Makes the context hold the prompt ``ids`` (evaluating it unless it does); its length."""
        if ids != self._held:
            self._held = []
            llm.reset()
            llm.eval(ids)
            self._held = ids
        return len(ids)

    @staticmethod
    def _mean_logprob(llm: Any, start: int, tail: list[int]) -> float:
        """Mean log P(tail | the held prompt), the context cut back to the prompt first."""
        llm.n_tokens = start  # eval trims the KV cache to here
        llm.eval(tail)
        logits = np.asarray(llm.scores[start - 1 : start - 1 + len(tail)], dtype=np.float64)
        top = logits.max(axis=1)
        norm = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
        picked = logits[np.arange(len(tail)), tail] - norm
        return float(picked.sum()) / len(tail)

    def close(self) -> None:
        """Frees the model (llama.cpp's context and weights)."""
        with self._lock:
            llm, self._llm, self._held = self._llm, None, []
        if llm is not None:
            llm.close()


def larger_model_stage(model: str | Path) -> LikelihoodChooser:
    """The likelihood stage scored by a larger model, with its own weight.

    ``model``: a GGUF file, or the name of a model shipped in PyPI packages
    (``packaged_models.PACKAGED_MODELS``: ``qwen2.5-coder-1.5b``), joined into
    the model cache on first use. Checked before any routing: the file must
    exist (the packages be installed) and llama-cpp-python too
    (``LikelihoodModelError`` names what is missing); the model itself loads on
    the first decision, on the model thread.
    """
    packaged = PACKAGED_MODELS.get(str(model).strip().lower())
    if importlib.util.find_spec("llama_cpp") is None:
        raise LikelihoodModelError(
            f"rerank model {model} is run by llama-cpp-python, which is not installed: "
            f"{LLAMA_CPP_HINT}"
        )
    file = packaged_model_path(packaged) if packaged else Path(model).expanduser()
    if not file.is_file():
        raise LikelihoodModelError(
            f"rerank model {model}: no such file (--rerank-model or ${RERANK_MODEL_ENV} "
            f"names a GGUF file, or one of: {', '.join(PACKAGED_MODELS)})"
        )
    return LikelihoodChooser(weight=LARGER_MODEL_WEIGHT, scorer=LlamaCppScorer(file))
