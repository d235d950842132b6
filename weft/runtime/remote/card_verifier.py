"""Checking thousands of card signatures at once: on two cores, and once per card version.

Why: ``weft agents`` shows every agent's trust, so it checks every card's
Ed25519 signature, about 0.1 to 0.25 ms each on one core, with the GIL held
(threads do not help): 10,000 cards cost more than receiving them.
``verify_payloads`` spreads a large batch over the machine's cores (forked
workers, the calling process taking a share), ``AheadVerifier`` starts
checking on another core while the cards still arrive, and a
``SignatureCache`` remembers which payloads verified, so the next listing
checks only the cards that changed (an agent's heartbeat changes its card's
load: the cache serves listings closer together than that, and idle cards).

The cache holds SHA-256 digests of whole card payloads (tagged with a
version) whose signature verified: a signature check is a pure function of
the payload, so a payload with a known digest verifies, and any change to a
card (a new load, a new key, one altered byte) is a new digest, checked
again. Only successes are kept, so an unsigned or tampered card is never
read from it. The file lives with the keys and the trust list
(``$WEFT_HOME/cache``, else ``~/.weft/cache``), mode 0600: whoever can write
there could already add a trusted key. A cache file others may write, or
one that is not well formed, is ignored.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import tempfile
import warnings
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import orjson

from weft.runtime.remote.card_signing import CardSignature, verify_card_data
from weft.runtime.support.home import identity_home

log = logging.getLogger(__name__)

#: Starts the file and every digest's input: a new version forgets what older code verified.
FILE_TAG = b"weft verified card signatures v1\n"
_DIGEST = 32
#: Digests kept at most (the newest): 6.4 MB of cache for ten retained sets of 20,000 cards.
MAX_ENTRIES = 200_000
#: Fewer signatures than this are checked in this process: forking costs more than it saves.
PARALLEL_ABOVE = 1_000


def payload_digest(payload: bytes) -> bytes:
    """What the cache knows a payload by."""
    return hashlib.sha256(FILE_TAG + payload).digest()


def default_cache_path() -> Path:
    """``$WEFT_HOME/cache/verified-cards``, else ``~/.weft/cache/verified-cards``."""
    return identity_home() / "cache" / "verified-cards"


class SignatureCache:
    """Digests of card payloads whose signature verified, read from and saved to ``path``."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_path()
        self._known: set[bytes] | None = None
        self._added: dict[bytes, None] = {}

    def verified(self, payload: bytes) -> bool:
        """Whether ``payload`` is a card whose signature verified before."""
        return payload_digest(payload) in self._entries()

    def add(self, payload: bytes) -> None:
        """Remember that ``payload``'s signature verified (call only after checking it)."""
        digest = payload_digest(payload)
        known = self._entries()
        if digest not in known:
            known.add(digest)
            self._added[digest] = None

    def _entries(self) -> set[bytes]:
        if self._known is None:
            self._known = set(self._read())
        return self._known

    def _read(self) -> list[bytes]:
        """The digests in the file, oldest first; none if it is missing, foreign or damaged."""
        try:
            with self.path.open("rb") as file:
                stat = os.fstat(file.fileno())
                getuid = getattr(os, "getuid", None)  # not on Windows
                if stat.st_mode & 0o022 or (getuid is not None and stat.st_uid != getuid()):
                    log.warning("ignoring %s: other users may write it", self.path)
                    return []
                data = file.read()
        except OSError:
            return []
        body = data[len(FILE_TAG) :]
        if not data.startswith(FILE_TAG) or len(body) % _DIGEST:
            return []
        return [body[i : i + _DIGEST] for i in range(0, len(body), _DIGEST)]

    def save(self) -> None:
        """Write what was added since loading, with what the file holds now (another process
        may have saved meanwhile); never raises, a cache that cannot be written only costs
        time. Concurrent saves may lose each other's additions, never add a wrong one."""
        if not self._added:
            return
        merged = dict.fromkeys(self._read())
        merged.update(self._added)
        digests = list(merged)[-MAX_ENTRIES:]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            try:
                with os.fdopen(fd, "wb") as file:
                    file.write(FILE_TAG + b"".join(digests))
                os.replace(tmp, self.path)  # mkstemp made it 0600
            finally:
                Path(tmp).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not save the card signature cache %s: %s", self.path, exc)
            return
        self._added.clear()


def _verify_chunk(payloads: list[bytes]) -> list[tuple[str | None, str | None]]:
    """Check each payload's signature (in a worker process): ``(signer, problem)`` pairs."""
    checked = []
    for payload in payloads:
        signature = verify_card_data(orjson.loads(payload))
        checked.append((signature.signer, signature.problem))
    return checked


def verify_payloads(
    payloads: Sequence[bytes], *, workers: int | None = None
) -> list[CardSignature]:
    """Each card payload's checked signature, in order; on several cores when there are many.

    ``workers``: forked processes to add to this one (default: one per
    further core); with fewer than ``PARALLEL_ABOVE`` payloads, or where
    ``fork`` is not available, everything is checked here.
    """
    with AheadVerifier(workers=workers) as verifier:
        return verifier.finish(payloads)


class AheadVerifier:
    """Checks card signatures in forked workers while the cards are still arriving.

    Why: the process that reads ten thousand cards is busy until the last
    one is in, and checking them after that adds their whole cost; a worker
    on another core checks each ``batch`` as soon as it is ``add``-ed.
    ``finish`` takes back the batches no worker has started, splits what is
    left between this process and the workers, and returns every
    signature. Forked, not spawned: a spawned worker would spend longer
    importing weft than checking its share. The workers run nothing but the
    checks and their pool's queues; Python 3.12 warns about forking a
    threaded process, which a process with an MQTT client is.
    """

    def __init__(self, *, workers: int | None = None, batch: int = 500) -> None:
        extra = max((os.cpu_count() or 1) - 1, 0) if workers is None else workers
        self.workers = extra if "fork" in multiprocessing.get_all_start_methods() else 0
        self.batch = batch
        self._waiting: list[bytes] = []
        self._sent: list[tuple[list[bytes], Future[list[tuple[str | None, str | None]]]]] = []
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> AheadVerifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add(self, payload: bytes) -> None:
        """Have ``payload``'s signature checked, soon, by a worker (``finish`` returns it)."""
        if self.workers:
            self._waiting.append(payload)
            if len(self._waiting) >= self.batch:
                self._send(self._waiting)
                self._waiting = []

    def _send(self, payloads: list[bytes]) -> bool:
        """Give ``payloads`` to a worker; one that cannot be started leaves them to ``finish``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                if self._pool is None:
                    context = multiprocessing.get_context("fork")
                    self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
                self._sent.append((payloads, self._pool.submit(_verify_chunk, payloads)))
            except (OSError, RuntimeError) as exc:  # no fork (limits), or a broken pool
                log.warning("checking card signatures in this process only: %s", exc)
                self.workers = 0
                return False
        return True

    def finish(self, payloads: Sequence[bytes]) -> list[CardSignature]:
        """The checked signature of each of ``payloads``, in order."""
        under_way: set[bytes] = set()
        for batch, future in self._sent:
            if not future.cancel():  # a worker has it: its answer is awaited below
                under_way.update(batch)
        self._sent = [(batch, future) for batch, future in self._sent if not future.cancelled()]
        todo = list(dict.fromkeys(p for p in payloads if p not in under_way))
        here = todo
        if self.workers and len(todo) >= PARALLEL_ABOVE:
            size = -(-len(todo) // (self.workers + 1))
            here = todo[:size]
            for start in range(size, len(todo), size):
                if not self._send(todo[start : start + size]):
                    here = todo  # no worker: all of it here (a batch sent is checked twice)
                    break
        checked = dict(zip(here, _verify_chunk(here), strict=True))
        for batch, future in self._sent:
            try:
                result = future.result()
            except Exception as exc:  # the worker died (BrokenProcessPool): check them here
                log.warning("a card signature worker failed (%s): checking here", exc)
                result = _verify_chunk(batch)
            checked.update(zip(batch, result, strict=True))
        self._sent = []
        return [CardSignature(*checked[payload]) for payload in payloads]

    def close(self) -> None:
        """Stop the workers (any check still under way is dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._sent = []
        self._waiting = []
