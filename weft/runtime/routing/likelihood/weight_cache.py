"""An on-disk cache of dequantized float32 weights, memory-mapped on every later load.

Why: reading SmolLM2's GGUF and dequantizing its Q4_1/Q8_0 blocks to float32
costs about 6 s per process (parsing the GGUF's 49k-token metadata is half of
it), and the likelihood stage runs in one-shot commands (``weft route``). The
float32 tensors are written once into one flat file, with a manifest and the
tokenizer as JSON; a later process maps the file (``np.memmap``, read-only)
and is ready in a fraction of a second. Mapped pages are the OS page cache:
several processes share one copy, and only what a forward pass touches is
read.

Where: ``$WEFT_MODEL_CACHE`` when set (``0``, ``off`` or empty turn the cache
off), else ``$WEFT_HOME/cache/models``, else ``~/.weft/cache/models``: weights
belong to the user, like the keys and the card-signature cache beside them,
not to one project folder. A folder is named by the model, the first 16 hex
digits of the source file's pinned SHA-256 and ``FORMAT_VERSION`` (bumped
whenever what is stored, or how it is laid out, changes), so an older layout
is never read as a newer one.

Trust and failure: a cache is written in a temporary folder beside its final
place and renamed into place in one step, manifest last, so a crash or two
processes racing never leave a half-written folder under the final name.
A folder is read only if its manifest parses, names this format and source,
and the data file has exactly the size and modification time the manifest
recorded and every tensor fits in it; the caller also checks each tensor's
shape against the model's configuration. Anything else is treated as absent
and rebuilt. The bytes themselves are not re-hashed (about 0.5 s for 0.6 GB,
most of what the cache saves): the atomic rename is what keeps them whole.
A folder that cannot be written (read-only, full disk) makes ``write_cache``
return False, and the caller keeps the weights it has in memory. What a
writer that died leaves behind (a hidden staging folder) is deleted by the
next writer once it is ten minutes old.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, ValidationError

from weft.runtime.support.home import identity_home

__all__ = [
    "CACHE_ENV",
    "FORMAT_VERSION",
    "CachedWeights",
    "cache_folder",
    "default_cache_root",
    "read_cache",
    "write_cache",
]

log = logging.getLogger(__name__)

#: Environment variable naming the folder model caches live in; ``0``/``off``/empty: no cache.
CACHE_ENV = "WEFT_MODEL_CACHE"
#: Version of what a cache folder holds; a new one makes older folders invisible.
FORMAT_VERSION = 1
_OFF = {"", "0", "off", "false", "no", "none"}
_DATA = "weights.f32"
_TOKENIZER = "tokenizer.json"
_MANIFEST = "manifest.json"
#: Tensor offsets are aligned to this many bytes (a cache line; BLAS likes aligned rows).
_ALIGN = 64
_ITEM = np.dtype(np.float32).itemsize
_UNWRITABLE = (
    "model cache %s cannot be written (%s); loading without it (slower): "
    "set %s to a writable folder, or %s=off to silence this"
)
#: A staging folder older than this (seconds) was left by a writer that died: it is deleted.
ABANDONED_AFTER_S = 600.0


class TensorEntry(BaseModel):
    """One tensor in the data file: where it starts (bytes) and its shape."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """The caller's name for the tensor (e.g. ``blk.0.w_qkv``)."""
    shape: tuple[int, ...]
    """Its shape, row-major (C order)."""
    offset: int
    """Byte offset in the data file, a multiple of the alignment."""


class Manifest(BaseModel):
    """What a cache folder holds; written last, so its presence means the rest is complete."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: int
    """``FORMAT_VERSION`` of the code that wrote it."""
    source_sha256: str
    """SHA-256 of the file the weights were read from (the pinned one)."""
    config: dict[str, int | float]
    """The model's hyperparameters, so a warm load never opens the source file."""
    tensors: list[TensorEntry]
    """Every float32 tensor in the data file."""
    data_bytes: int
    """Size of the data file."""
    data_mtime_ns: int
    """Modification time of the data file when written: a later edit in place invalidates it."""


@dataclass(frozen=True, slots=True)
class CachedWeights:
    """A cache read back: read-only memory-mapped tensors, the configuration, the tokenizer."""

    tensors: dict[str, NDArray[np.float32]]
    config: dict[str, int | float]
    tokenizer_json: str
    data_file: Path


def default_cache_root() -> Path | None:
    """``$WEFT_MODEL_CACHE``, else ``$WEFT_HOME/cache/models``, else ``~/.weft/cache/models``.

    None when ``$WEFT_MODEL_CACHE`` is ``0``, ``off`` or empty: no cache is read or written.
    """
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        return None if configured.strip().lower() in _OFF else Path(configured)
    return identity_home() / "cache" / "models"


def cache_folder(root: Path, model: str, source_sha256: str) -> Path:
    """The folder one model's cache lives in under ``root`` (see the module docstring)."""
    return root / f"{model}-{source_sha256[:16]}-f32-v{FORMAT_VERSION}"


def read_cache(folder: Path, source_sha256: str) -> CachedWeights | None:
    """The cache in ``folder`` if it is complete and of this format and source, else None.

    Never raises for a missing or damaged folder: the reason is logged at
    debug level and the caller rebuilds it.
    """
    try:
        manifest = Manifest.model_validate_json((folder / _MANIFEST).read_bytes())
        problem = _problem(folder, manifest, source_sha256)
        if problem is None:
            tokenizer_json = (folder / _TOKENIZER).read_text(encoding="utf-8")
            return _mapped(folder, manifest, tokenizer_json)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, ValidationError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    log.debug("model cache %s is not usable (%s)", folder, problem)
    return None


def _problem(folder: Path, manifest: Manifest, source_sha256: str) -> str | None:
    """Why ``manifest`` does not describe a usable cache in ``folder``, or None."""
    if manifest.format != FORMAT_VERSION:
        return f"format {manifest.format}, not {FORMAT_VERSION}"
    if manifest.source_sha256 != source_sha256:
        return f"made from {manifest.source_sha256}, not {source_sha256}"
    stat = (folder / _DATA).stat()
    if (stat.st_size, stat.st_mtime_ns) != (manifest.data_bytes, manifest.data_mtime_ns):
        return f"{_DATA} changed since it was written (size or modification time)"
    for entry in manifest.tensors:
        size = int(np.prod(entry.shape, dtype=np.int64)) * _ITEM
        if entry.offset < 0 or entry.offset % _ALIGN or min(entry.shape, default=1) < 0:
            return f"tensor {entry.name!r} has a bad offset or shape"
        if entry.offset + size > manifest.data_bytes:
            return f"tensor {entry.name!r} runs past the end of {_DATA}"
    return None


def _mapped(folder: Path, manifest: Manifest, tokenizer_json: str) -> CachedWeights:
    data = folder / _DATA
    flat = np.memmap(data, dtype=np.float32, mode="r").view(np.ndarray)
    tensors: dict[str, NDArray[np.float32]] = {}
    for entry in manifest.tensors:
        start = entry.offset // _ITEM
        count = int(np.prod(entry.shape, dtype=np.int64))
        tensors[entry.name] = flat[start : start + count].reshape(entry.shape)
    return CachedWeights(tensors, dict(manifest.config), tokenizer_json, data)


def write_cache(
    folder: Path,
    source_sha256: str,
    tensors: Mapping[str, NDArray[np.float32]],
    config: Mapping[str, int | float],
    tokenizer_json: str,
) -> bool:
    """Writes a cache into ``folder`` atomically; False if it could not be written.

    A folder already there (found unusable by ``read_cache``) is moved aside
    and deleted first. When another process renames its complete cache into
    place first, that one is kept and this one discarded. OS errors (a
    read-only or full file system) are logged and answered with False, never
    raised: the cache only saves time.
    """
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        _sweep(folder)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    except OSError as exc:
        log.warning(_UNWRITABLE, folder, exc, CACHE_ENV, CACHE_ENV)
        return False
    try:
        _write_files(staging, source_sha256, tensors, config, tokenizer_json)
        if read_cache(folder, source_sha256) is not None:
            return True  # another process finished first: keep its cache
        _discard(folder)
        try:
            os.rename(staging, folder)
        except OSError:
            if read_cache(folder, source_sha256) is None:
                raise  # not a race lost to a complete cache: a real failure
        _fsync_dir(folder.parent)
        return True
    except OSError as exc:
        log.warning(_UNWRITABLE, folder, exc, CACHE_ENV, CACHE_ENV)
        return False
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_files(
    staging: Path,
    source_sha256: str,
    tensors: Mapping[str, NDArray[np.float32]],
    config: Mapping[str, int | float],
    tokenizer_json: str,
) -> None:
    entries: list[TensorEntry] = []
    data = staging / _DATA
    with open(data, "wb") as fh:
        offset = 0
        for name, tensor in tensors.items():
            pad = -offset % _ALIGN
            fh.write(b"\0" * pad)
            offset += pad
            block = np.ascontiguousarray(tensor, dtype=np.float32)
            fh.write(block.data.cast("B"))
            entries.append(TensorEntry(name=name, shape=block.shape, offset=offset))
            offset += block.nbytes
        fh.flush()
        os.fsync(fh.fileno())
    stat = data.stat()
    _write_text(staging / _TOKENIZER, tokenizer_json)
    manifest = Manifest(
        format=FORMAT_VERSION,
        source_sha256=source_sha256,
        config=dict(config),
        tensors=entries,
        data_bytes=stat.st_size,
        data_mtime_ns=stat.st_mtime_ns,
    )
    _write_text(staging / _MANIFEST, manifest.model_dump_json(indent=1))
    _fsync_dir(staging)


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _discard(folder: Path) -> None:
    """Moves an unusable cache folder out of the way, then deletes it.

    Renamed first so that no reader finds a half-deleted folder under the
    real name; a process that has it mapped keeps its (unlinked) files.
    """
    if not folder.exists():
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{folder.name}.stale.", dir=folder.parent))
    with contextlib.suppress(FileNotFoundError):  # another process moved it first
        os.rename(folder, aside / "old")
    shutil.rmtree(aside, ignore_errors=True)


def _sweep(folder: Path) -> None:
    """Deletes what crashed writers left beside ``folder`` (staging or stale folders).

    Only folders untouched for ``ABANDONED_AFTER_S``: one another process is
    writing now changed seconds ago.
    """
    now = time.time()
    for left in folder.parent.glob(f".{folder.name}.*"):
        with contextlib.suppress(OSError):
            if now - left.stat().st_mtime > ABANDONED_AFTER_S:
                shutil.rmtree(left, ignore_errors=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
