"""A Llama decoder's forward pass in numpy, with a key/value cache, for scoring text.

Only what scoring needs: run a prefix once and keep its keys and values
(``prefill``), then run one continuation after several cached prefixes at once
and return the log-probability of each continuation token (``continuation_logprobs``).
The layer is transformers' ``LlamaDecoderLayer``: RMSNorm, rotary position
embedding, grouped-query attention, SiLU-gated MLP, pre-norm residuals, and the
embedding matrix reused as the output layer. In float32 its log-probabilities
match transformers' on the same dequantized weights to about 1e-4
(``tests/routing/test_likelihood_model.py``).

Not thread-safe by itself: callers serialise use of one model (the chooser runs
all of it on one worker thread).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from weft.runtime.routing.likelihood.smollm import LlamaLayer, LlamaWeights

_F32 = np.float32
Array = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class PrefixCache:
    """A prefix already run: per layer its keys and values, and its last hidden state.

    ``keys[i]``/``values[i]``: (kv_heads, length, head_dim) after RoPE. ``last``:
    the final-normed hidden state of the last token, whose logits predict the
    continuation's first token.
    """

    keys: tuple[Array, ...]
    values: tuple[Array, ...]
    last: Array
    length: int

    @property
    def nbytes(self) -> int:
        return sum(k.nbytes + v.nbytes for k, v in zip(self.keys, self.values, strict=True))


def _rms_norm(x: Array, weight: Array, eps: float) -> Array:
    variance = np.mean(np.square(x), axis=-1, keepdims=True)
    normed: Array = (x / np.sqrt(variance + eps)).astype(_F32) * weight
    return normed


def _rope_tables(positions: NDArray[np.int64], head_dim: int, theta: float) -> tuple[Array, Array]:
    """cos and sin, (..., length, head_dim / 2), for adjacent-pair rotation."""
    inv = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))
    angles = positions[..., None].astype(np.float64) * inv
    return np.cos(angles).astype(_F32), np.sin(angles).astype(_F32)


def _rope(x: Array, cos: Array, sin: Array) -> Array:
    """Rotates adjacent pairs (x[2i], x[2i+1]): the order GGUF stores Q and K rows in.

    ``x``: (batch, heads, length, head_dim); ``cos``/``sin``: (batch, 1, length, head_dim/2).
    """
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


def _silu(x: Array) -> Array:
    with np.errstate(over="ignore"):  # exp(-x) -> inf for x < -88 gives the right 0
        return np.asarray(x / (1.0 + np.exp(-x)), dtype=_F32)


def _attention(q: Array, k: Array, v: Array, start: int, scale: float) -> Array:
    """Causal attention of ``q`` (heads, n, d) over ``k``/``v`` (kv_heads, start + n, d)."""
    heads, n, dim = q.shape
    group = heads // k.shape[0]
    qg = q.reshape(k.shape[0], group * n, dim)
    scores = np.matmul(qg, k.transpose(0, 2, 1)).reshape(heads, n, -1) * scale
    if n > 1:  # token j of the new ones sees the prefix and new tokens 0..j
        future = np.triu(np.ones((n, n), dtype=bool), k=1)
        scores[:, :, start:][:, future] = -np.inf
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    out: Array = np.matmul(weights.reshape(k.shape[0], group * n, -1), v)
    return out.reshape(heads, n, dim)


def _layer(
    w: LlamaWeights,
    layer: LlamaLayer,
    x: Array,
    cos: Array,
    sin: Array,
    past: Sequence[tuple[Array, Array] | None],
) -> tuple[Array, list[tuple[Array, Array]]]:
    """One decoder layer over (batch, n, hidden); row b attends to ``past[b]`` first."""
    batch, n, hidden = x.shape
    h, kvh, d = w.heads, w.kv_heads, w.head_dim
    normed = _rms_norm(x, layer.attn_norm, w.eps).reshape(batch * n, hidden)
    q = (normed @ layer.wq).reshape(batch, n, h, d).transpose(0, 2, 1, 3)
    k = (normed @ layer.wk).reshape(batch, n, kvh, d).transpose(0, 2, 1, 3)
    v = (normed @ layer.wv).reshape(batch, n, kvh, d).transpose(0, 2, 1, 3)
    q, k = _rope(q, cos, sin), _rope(k, cos, sin)
    kv: list[tuple[Array, Array]] = []
    attended = np.empty((batch, h, n, d), dtype=_F32)
    for b in range(batch):
        before = past[b]
        keys = k[b] if before is None else np.concatenate([before[0], k[b]], axis=1)
        values = v[b] if before is None else np.concatenate([before[1], v[b]], axis=1)
        start = 0 if before is None else before[0].shape[1]
        attended[b] = _attention(q[b], keys, values, start, d**-0.5)
        kv.append((keys, values))
    x = x + (attended.transpose(0, 2, 1, 3).reshape(batch * n, h * d) @ layer.wo).reshape(
        batch, n, hidden
    )
    normed = _rms_norm(x, layer.ffn_norm, w.eps).reshape(batch * n, hidden)
    gate, up = np.split(normed @ layer.w_gate_up, 2, axis=1)
    x = x + ((_silu(gate) * up) @ layer.w_down).reshape(batch, n, hidden)
    return x, kv


def _run(
    w: LlamaWeights,
    ids: NDArray[np.int64],
    starts: Sequence[int],
    past: Sequence[PrefixCache | None],
) -> tuple[Array, list[list[tuple[Array, Array]]]]:
    """Final-normed hidden states (batch, n, hidden) and each layer's keys/values per row."""
    n = ids.shape[1]
    positions = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(n, dtype=np.int64)
    cos, sin = _rope_tables(positions, w.head_dim, w.rope_theta)
    cos, sin = cos[:, None], sin[:, None]
    x = w.embedding[ids]
    per_layer: list[list[tuple[Array, Array]]] = []
    for i, layer in enumerate(w.layers):
        before = [None if p is None else (p.keys[i], p.values[i]) for p in past]
        x, kv = _layer(w, layer, x, cos, sin, before)
        per_layer.append(kv)
    return _rms_norm(x, w.output_norm, w.eps), per_layer


def prefill(w: LlamaWeights, ids: Sequence[int]) -> PrefixCache:
    """Runs a prefix (at least one token) and keeps what a continuation needs."""
    if not ids:
        raise ValueError("a prefix needs at least one token (e.g. the BOS token)")
    hidden, per_layer = _run(w, np.asarray([ids], dtype=np.int64), [0], [None])
    return PrefixCache(
        keys=tuple(kv[0][0] for kv in per_layer),
        values=tuple(kv[0][1] for kv in per_layer),
        last=hidden[0, -1].copy(),
        length=len(ids),
    )


def _log_softmax_at(hidden: Array, embedding: Array, targets: NDArray[np.int64]) -> Array:
    """log P(target) per row of ``hidden`` (rows, hidden), with the tied output matrix."""
    logits = hidden @ embedding.T
    top = logits.max(axis=-1, keepdims=True)
    norm = np.log(np.exp(logits - top).sum(axis=-1)) + top[:, 0]
    picked: Array = logits[np.arange(len(targets)), targets] - norm
    return picked


def continuation_logprobs(
    w: LlamaWeights, prefixes: Sequence[PrefixCache], ids: Sequence[int]
) -> Array:
    """log P(ids[j] | prefix, ids[:j]) for each prefix: (len(prefixes), len(ids)).

    The continuation runs once for all prefixes as one batch (the matrices are
    shared; only attention is per prefix, over its own cache).
    """
    if not prefixes or not ids:
        return np.zeros((len(prefixes), len(ids)), dtype=_F32)
    batch, n = len(prefixes), len(ids)
    targets = np.asarray(ids, dtype=np.int64)
    firsts = np.stack([p.last for p in prefixes])  # predicts ids[0]
    if n > 1:  # the last token predicts nothing we score, so it is not run
        tokens = np.tile(targets[None, :-1], (batch, 1))
        hidden, _ = _run(w, tokens, [p.length for p in prefixes], prefixes)
        rows = np.concatenate([firsts[:, None], hidden], axis=1).reshape(batch * n, -1)
    else:
        rows = firsts
    out = _log_softmax_at(rows, w.embedding, np.tile(targets, batch))
    return out.reshape(batch, n)


def sequence_logprobs(w: LlamaWeights, ids: Sequence[int]) -> Array:
    """log P(ids[j] | ids[:j]) for j >= 1, without any cache (a reference for the cached path)."""
    hidden, _ = _run(w, np.asarray([ids], dtype=np.int64), [0], [None])
    return _log_softmax_at(hidden[0, :-1], w.embedding, np.asarray(ids[1:], dtype=np.int64))
