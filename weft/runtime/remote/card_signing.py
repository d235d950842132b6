"""Agent keys and signed cards: who published a card, told apart from who could have.

Why: with weft's ACL every agent may publish its own card (``cards/%u``)
listing any action, and callers pick among the cards they see, so an agent
the broker admits could draw calls meant for another. A card signed with the
agent's Ed25519 key lets a caller route only to agents whose key it trusts
for the action (``weft.runtime.remote.trust``).

An ``AgentKey`` is one Ed25519 private key in a PEM (PKCS#8) file, mode
0600: by default ``$WEFT_HOME/keys/agent.key`` (``~/.weft/keys/agent.key``
without ``$WEFT_HOME``), created the first time an agent needs it, so every
agent of one user on one machine signs with the same key and that user's
callers trust it without configuration. ``openssl pkey -in agent.key
-pubout`` reads it too. The public key travels in the card as base64 of its
32 raw bytes; ``weft keys show`` prints it for the trust lists of callers on
other machines.

The signature covers ``card_signing_bytes`` of the card's JSON object as
sent (``weft.protocols.remote``), every field but ``signature`` itself, so a
receiver checks it on the payload it received, fields it does not know
included.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from weft.protocols import AgentCard, WeftError
from weft.protocols.remote import card_signing_bytes
from weft.runtime.support.home import default_key_path

log = logging.getLogger(__name__)

_PUBLIC_BYTES = 32
_SIGNATURE_BYTES = 64


class AgentKey:
    """An Ed25519 key an agent signs its card with; ``path`` is where it was read, if anywhere."""

    def __init__(self, private: Ed25519PrivateKey, path: Path | None = None) -> None:
        self._private = private
        self.path = path
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key = base64.b64encode(raw).decode()
        """Base64 of the 32 raw bytes of the public key, as cards and trust lists carry it."""

    def __repr__(self) -> str:
        return f"<AgentKey {short_key(self.public_key)}{f' {self.path}' if self.path else ''}>"

    @classmethod
    def generate(cls) -> AgentKey:
        """A new key, in memory only (``save`` writes it)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AgentKey:
        """Read a PEM private key file; ``WeftError`` naming the file when it is not one.

        A file others may read is used, with a warning: its key can be copied
        by them, and any agent they run can then pose as yours.
        """
        file = Path(path)
        try:
            data = file.read_bytes()
            mode = file.stat().st_mode
        except FileNotFoundError:
            raise WeftError(
                f"key file {file}: no such file (create one with: weft keys init --key {file})"
            ) from None
        except OSError as exc:
            raise WeftError(f"key file {file}: cannot read: {exc.strerror or exc}") from None
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise WeftError(
                f"key file {file}: not an unencrypted PEM private key ({exc})"
            ) from None
        if not isinstance(private, Ed25519PrivateKey):
            raise WeftError(f"key file {file}: not an Ed25519 key ({type(private).__name__})")
        if mode & 0o077:
            log.warning("key file %s can be read by other users (chmod 600 %s)", file, file)
        return cls(private, file)

    @classmethod
    def load_or_create(cls, path: str | os.PathLike[str] | None = None) -> AgentKey:
        """The key at ``path`` (default ``default_key_path()``), created if there is none.

        Creation is atomic and never replaces a key: agents started together
        in one ``$WEFT_HOME`` all end up with the one key that was written first.
        """
        file = Path(path) if path is not None else default_key_path()
        if not file.exists():
            try:
                cls.generate().save(file)
            except FileExistsError:  # another agent was first: use its key
                pass
            except OSError as exc:
                raise WeftError(f"key file {file}: cannot create: {exc.strerror or exc}") from None
        return cls.load(file)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the key to a new file, mode 0600 (its folder 0700 if created).

        Raises ``FileExistsError`` when ``path`` exists: a key is never
        overwritten (callers elsewhere may trust it).
        """
        target = Path(path)
        if not target.parent.exists():
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
            os.chmod(tmp, 0o600)
            try:
                os.link(tmp, target)  # fails if another process wrote a key meanwhile
            except FileExistsError:
                if not target.exists():  # pragma: no cover - a dangling symlink
                    raise
                raise FileExistsError(f"key file {target} already exists") from None
        finally:
            Path(tmp).unlink(missing_ok=True)
        self.path = target
        return target

    def sign(self, data: bytes) -> str:
        """Base64 of the Ed25519 signature of ``data``."""
        return base64.b64encode(self._private.sign(data)).decode()


def short_key(public_key: str) -> str:
    """The first characters of a base64 public key, enough to tell keys apart on screen."""
    return f"{public_key[:10]}…"


def public_key_problem(text: str) -> str | None:
    """What is wrong with ``text`` as a base64 Ed25519 public key, or None if nothing."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return "not base64"
    if len(raw) != _PUBLIC_BYTES:
        return f"{len(raw)} bytes, an Ed25519 public key has {_PUBLIC_BYTES}"
    return None


def sign_card_data(data: dict[str, Any], key: AgentKey) -> dict[str, Any]:
    """``data`` (a card's JSON object) with ``key``'s ``public_key`` and ``signature`` set."""
    body = {k: v for k, v in data.items() if k != "signature"}
    body["public_key"] = key.public_key
    return {**body, "signature": key.sign(card_signing_bytes(body))}


def signed_card_json(card: AgentCard, key: AgentKey) -> str:
    """The JSON an agent publishes: ``card`` signed by ``key``."""
    data = json.loads(card.model_dump_json(exclude={"public_key", "signature"}))
    return json.dumps(sign_card_data(data, key), separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class CardSignature:
    """What a card's signature says: who signed it (``signer``), or what is wrong (``problem``)."""

    signer: str | None
    problem: str | None = None


def verify_card_data(data: dict[str, Any]) -> CardSignature:
    """Check the signature of a card's JSON object as received; never raises.

    ``signer`` is the card's ``public_key`` when ``signature`` verifies with
    it over ``card_signing_bytes(data)``; otherwise None and ``problem`` says
    why (unsigned, malformed, or a signature that does not match: the card
    was altered, or signed by another key than it names).
    """
    signature, public_key = data.get("signature"), data.get("public_key")
    if signature is None and public_key is None:
        return CardSignature(None, "unsigned card")
    if not isinstance(signature, str) or not isinstance(public_key, str):
        return CardSignature(None, "card without both public_key and signature")
    key = _public_key(public_key)
    if isinstance(key, str):
        return CardSignature(None, f"public_key is {key}")
    try:
        raw_signature = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return CardSignature(None, "signature is not base64")
    if len(raw_signature) != _SIGNATURE_BYTES:
        return CardSignature(None, f"signature of {len(raw_signature)} bytes, not 64")
    try:
        if not _verifies(key, raw_signature, data):
            raise InvalidSignature
    except (InvalidSignature, ValueError):
        return CardSignature(None, "bad signature (the card was altered, or not signed by its key)")
    return CardSignature(public_key)


@functools.lru_cache(maxsize=1024)
def _public_key(text: str) -> Ed25519PublicKey | str:
    """The key a card names, or what is wrong with it; cached, since thousands of cards
    (every agent of one user) name the same few keys."""
    problem = public_key_problem(text)
    if problem is not None:
        return problem
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text))
    except ValueError as exc:
        return f"not an Ed25519 public key ({exc})"


def _verifies(key: Ed25519PublicKey, signature: bytes, data: dict[str, Any]) -> bool:
    """Whether ``signature`` is ``key``'s over the canonical bytes of ``data``.

    orjson writes those bytes (sorted keys, no whitespace, UTF-8) eight times
    faster than ``json``, and writes them identically for the cards weft
    sends; only when that rendering does not verify are the defining bytes
    (``card_signing_bytes``) written and tried. Either way the signature is
    checked over a rendering of exactly the object received. Raises
    ``ValueError`` for values JSON cannot carry, as ``card_signing_bytes`` does.
    """
    body = {k: v for k, v in data.items() if k != "signature"}
    try:
        key.verify(signature, orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
        return True
    except (InvalidSignature, TypeError):  # TypeError: a value orjson does not write
        pass
    try:
        key.verify(signature, card_signing_bytes(data))
    except InvalidSignature:
        return False
    return True
