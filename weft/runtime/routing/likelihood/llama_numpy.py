"""A Llama decoder's forward pass in numpy, with a key/value cache, for scoring text.

Only what scoring needs: run a prefix once and keep its keys and values
(``prefill``, or ``prefill_many`` for several as one batch), then run one
continuation after several cached prefixes at once and return the
log-probability of each continuation token (``continuation_logprobs``).
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

    ``x``: (batch, length, heads, head_dim), Q and K heads together;
    ``cos``/``sin``: (batch, length, 1, head_dim/2).
    """
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


def _silu_gate(gate_up: Array) -> Array:
    """``silu(gate) * up`` for ``gate_up`` = gate | up (rows, 2 * ffn), in one buffer."""
    gate, up = np.split(gate_up, 2, axis=1)
    out = np.negative(gate)
    with np.errstate(over="ignore"):  # exp(-x) -> inf for x < -88 gives the right 0
        np.exp(out, out=out)
    out += 1.0
    np.divide(gate, out, out=out)
    out *= up
    return out


def _attention_bias(past_lengths: Sequence[int], n: int) -> Array:
    """Additive mask (batch, 1, 1, n, longest + n): 0 where a token may look, -inf elsewhere.

    Keys are laid out per row as its prefix, padding up to the longest prefix
    of the batch, then the ``n`` new tokens: row b's new token j sees the
    row's prefix and new tokens 0..j, never the padding. exp(-inf) is exactly
    0, so padding changes no probability.
    """
    longest = max(past_lengths)
    bias = np.zeros((len(past_lengths), 1, 1, n, longest + n), dtype=_F32)
    for b, length in enumerate(past_lengths):
        bias[b, ..., length:longest] = -np.inf
    bias[..., longest:][..., np.triu(np.ones((n, n), dtype=bool), k=1)] = -np.inf
    return bias


def _keys_values(
    k: Array, v: Array, past: Sequence[tuple[Array, Array] | None], longest: int
) -> tuple[Array, Array]:
    """Each row's cached and new keys and values, (batch, kv_heads, longest + n, d), padded."""
    batch, kvh, n, d = k.shape
    if longest == 0:
        return k, v
    keys = np.zeros((batch, kvh, longest + n, d), dtype=_F32)
    values = np.zeros_like(keys)
    for b, before in enumerate(past):
        if before is not None:
            length = before[0].shape[1]
            keys[b, :, :length] = before[0]
            values[b, :, :length] = before[1]
    keys[:, :, longest:] = k
    values[:, :, longest:] = v
    return keys, values


def _layer(
    w: LlamaWeights,
    layer: LlamaLayer,
    x: Array,
    rope: tuple[Array, Array],
    bias: Array,
    past: Sequence[tuple[Array, Array] | None],
) -> tuple[Array, Array, Array]:
    """One decoder layer over (batch, n, hidden), updating ``x`` in place.

    Row b attends to ``past[b]`` first; all rows' attention is one batched
    matmul over keys padded to the longest prefix (``bias`` masks the padding).
    Returns ``x`` and this layer's keys and values of the new tokens
    (batch, kv_heads, n, head_dim).
    """
    batch, n, hidden = x.shape
    h, kvh, d = w.heads, w.kv_heads, w.head_dim
    normed = _rms_norm(x, layer.attn_norm, w.eps).reshape(batch * n, hidden)
    qkv = (normed @ layer.w_qkv).reshape(batch, n, h + 2 * kvh, d)
    qk = _rope(qkv[:, :, : h + kvh], *rope).transpose(0, 2, 1, 3)
    q, k = qk[:, :h], np.ascontiguousarray(qk[:, h:])
    v = np.ascontiguousarray(qkv[:, :, h + kvh :].transpose(0, 2, 1, 3))
    keys, values = _keys_values(k, v, past, bias.shape[-1] - n)
    group = h // kvh
    scores = np.matmul(q.reshape(batch, kvh, group * n, d), keys.transpose(0, 1, 3, 2))
    scores = scores.reshape(batch, kvh, group, n, -1)
    scores *= d**-0.5
    scores += bias
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    attended = np.matmul(scores.reshape(batch, kvh, group * n, -1), values)
    attended = attended.reshape(batch, h, n, d).transpose(0, 2, 1, 3).reshape(batch * n, h * d)
    x += (attended @ layer.wo).reshape(batch, n, hidden)
    normed = _rms_norm(x, layer.ffn_norm, w.eps).reshape(batch * n, hidden)
    x += (_silu_gate(normed @ layer.w_gate_up) @ layer.w_down).reshape(batch, n, hidden)
    return x, k, v


def _run(
    w: LlamaWeights,
    ids: NDArray[np.int64],
    starts: Sequence[int],
    past: Sequence[PrefixCache | None],
) -> tuple[Array, list[tuple[Array, Array]]]:
    """Final-normed hidden states (batch, n, hidden) and each layer's new keys/values.

    The keys/values returned are those of ``ids`` only (batch, kv_heads, n, head_dim).
    """
    n = ids.shape[1]
    positions = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(n, dtype=np.int64)
    cos, sin = _rope_tables(positions, w.head_dim, w.rope_theta)
    rope = (cos[:, :, None], sin[:, :, None])
    bias = _attention_bias([0 if p is None else p.length for p in past], n)
    x = np.ascontiguousarray(np.moveaxis(w.output[:, ids], 0, -1))  # embedding lookup
    per_layer: list[tuple[Array, Array]] = []
    for i, layer in enumerate(w.layers):
        before = [None if p is None else (p.keys[i], p.values[i]) for p in past]
        x, k, v = _layer(w, layer, x, rope, bias, before)
        per_layer.append((k, v))
    return _rms_norm(x, w.output_norm, w.eps), per_layer


def prefill(w: LlamaWeights, ids: Sequence[int]) -> PrefixCache:
    """Runs a prefix (at least one token) and keeps what a continuation needs."""
    return prefill_many(w, [ids])[0]


def prefill_many(w: LlamaWeights, prefixes: Sequence[Sequence[int]]) -> list[PrefixCache]:
    """``prefill`` of several prefixes as one batch: the same caches, in less time.

    Why: a one-shot ``weft route`` runs five card prompts of ~70 tokens
    before its one decision, and matrices of 5 x 70 rows use BLAS better than
    five of 70 (measured ~30% less time). Shorter prefixes are padded at the
    end: attention is causal, so no real token sees the padding after it, and
    the padding's own keys are dropped.
    """
    if not prefixes or not all(prefixes):
        raise ValueError("a prefix needs at least one token (e.g. the BOS token)")
    lengths = [len(p) for p in prefixes]
    ids = np.full((len(prefixes), max(lengths)), w.bos_id, dtype=np.int64)
    for b, prefix in enumerate(prefixes):
        ids[b, : lengths[b]] = prefix
    hidden, per_layer = _run(w, ids, [0] * len(prefixes), [None] * len(prefixes))
    return [
        PrefixCache(
            keys=tuple(np.ascontiguousarray(k[b, :, :n]) for k, _ in per_layer),
            values=tuple(np.ascontiguousarray(v[b, :, :n]) for _, v in per_layer),
            last=hidden[b, n - 1].copy(),
            length=n,
        )
        for b, n in enumerate(lengths)
    ]


def _log_softmax_at(hidden: Array, output: Array, targets: NDArray[np.int64]) -> Array:
    """log P(target) per row of ``hidden`` (rows, hidden), with the tied output matrix.

    One matmul for all rows; the softmax's normaliser is computed in place in
    the logits buffer (rows x 49k floats), after the targets' logits are read.
    """
    logits = hidden @ output
    picked = logits[np.arange(len(targets)), targets]
    top = logits.max(axis=-1, keepdims=True)
    logits -= top
    np.exp(logits, out=logits)
    norm = np.log(logits.sum(axis=-1)) + top[:, 0]
    out: Array = picked - norm
    return out


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
    out = _log_softmax_at(rows, w.output, np.tile(targets, batch))
    return out.reshape(batch, n)


def sequence_logprobs(w: LlamaWeights, ids: Sequence[int]) -> Array:
    """log P(ids[j] | ids[:j]) for j >= 1, without any cache (a reference for the cached path)."""
    hidden, _ = _run(w, np.asarray([ids], dtype=np.int64), [0], [None])
    return _log_softmax_at(hidden[0, :-1], w.output, np.asarray(ids[1:], dtype=np.int64))
