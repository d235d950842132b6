"""Who may serve what: the caller's trust list, and its verdict on each card.

A caller sends a call only to an agent trusted for the action
(``LiveRegistry.serving``); every other card is listed, as untrusted, and
never called. A card is trusted for an action when

- it is signed by a **local key**: a key in this user's ``keys/`` folder
  (``$WEFT_HOME/keys``, else ``~/.weft/keys``), where ``weft agent serve``
  creates its key. The default for one machine, and on by default: agents of
  the same user trust each other without configuration, and another user's
  agent (another home, another key) is not trusted; or
- a rule of the trust list covers the action (by name, or by the pool the
  card puts it in) and admits the card: by the **key** that signed it, by the
  **broker user** that published it (the card topic ``cards/{user}``, which
  only means the user when the broker's ACL ties card topics to users, as
  weft's does), or, for development only, whatever signs it (``unsigned``).

Every rule but ``unsigned`` needs a valid signature: an unsigned card (an
older weft) or one whose signature does not verify is untrusted.

The trust list is a YAML file: ``--trust FILE``, else ``$WEFT_TRUST``, else
``trust.yaml`` beside the keys folder if it exists::

    local_keys: true            # trust this user's own keys for every action (default)
    allow:
      - actions: "summarize*"   # action name patterns (fnmatch); or pools: [...]
        keys: ["q3Vx...="]      # base64 public keys: `weft keys show` on the agent's machine
      - actions: ["report", "chart"]
        users: ["reporter-1"]   # broker user names (patterns) = agent ids under weft's ACL
      - pools: ["scratch"]
        unsigned: true          # development only: any card

A rule without ``actions`` or ``pools`` covers every action. Local keys are
re-read when the keys folder changes, so an agent that creates its key
after the caller started is trusted from its next card on.
"""

from __future__ import annotations

import logging
import os
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from weft.protocols import AgentCard, DefinitionError
from weft.runtime.remote.card_signing import (
    AgentKey,
    CardSignature,
    public_key_problem,
    short_key,
)
from weft.runtime.remote.directory import Trust
from weft.runtime.support.home import default_key_path, default_trust_path

log = logging.getLogger(__name__)

TRUST_ENV = "WEFT_TRUST"


class TrustRule(BaseModel):
    """Who may serve the actions a rule covers."""

    model_config = ConfigDict(extra="forbid")

    actions: list[str] | None = Field(
        default=None, description="Action name patterns (fnmatch) the rule covers."
    )
    pools: list[str] | None = Field(
        default=None, description="Pool name patterns: covers the actions a card puts in them."
    )
    keys: list[str] = Field(
        default_factory=list, description="Base64 Ed25519 public keys allowed to serve them."
    )
    users: list[str] = Field(
        default_factory=list,
        description="Broker users (card topic cards/{user}; patterns) allowed to serve them; "
        "meaningful only with an ACL that confines each user to its own card topic.",
    )
    unsigned: bool = Field(
        default=False,
        description="Any card, signed or not: for development on a broker only you use.",
    )

    @field_validator("actions", "pools", "keys", "users", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        """One pattern or a list of them."""
        return [value] if isinstance(value, str) else value

    @field_validator("keys")
    @classmethod
    def _keys_are_keys(cls, keys: list[str]) -> list[str]:
        for index, key in enumerate(keys):
            problem = public_key_problem(key)
            if problem is not None:
                raise ValueError(f"keys[{index}] {key!r} is {problem}")
        return keys

    @model_validator(mode="after")
    def _admits_someone(self) -> TrustRule:
        if not (self.keys or self.users or self.unsigned):
            raise ValueError("a rule admits nobody without keys, users or unsigned: true")
        return self

    def covers(self, action: str, pool: str | None) -> bool:
        if self.actions is None and self.pools is None:
            return True
        if any(fnmatchcase(action, pattern) for pattern in self.actions or ()):
            return True
        return pool is not None and any(fnmatchcase(pool, p) for p in self.pools or ())

    def admits(self, signer: str | None, user: str) -> str | None:
        """Why this rule admits a card (signed by ``signer``, published by ``user``), or None."""
        if signer is not None and signer in self.keys:
            return f"key {short_key(signer)}"
        if signer is not None and any(fnmatchcase(user, pattern) for pattern in self.users):
            return f"broker user {user}"
        if self.unsigned:
            return "a rule that allows unsigned cards"
        return None


class TrustFile(BaseModel):
    """The trust list as a file holds it."""

    model_config = ConfigDict(extra="forbid")

    local_keys: bool = Field(
        default=True, description="Trust keys in this user's keys folder for every action."
    )
    allow: list[TrustRule] = Field(default_factory=list, description="Rules, any may admit.")


class TrustPolicy:
    """The caller's verdict on cards: ``judge`` one, with its verified signature.

    ``keys_dir`` is the folder of local keys (default: where
    ``default_key_path()`` lives); ``source`` names the trust list in messages.
    """

    def __init__(
        self,
        rules: list[TrustRule] | tuple[TrustRule, ...] = (),
        *,
        local_keys: bool = True,
        keys_dir: Path | None = None,
        source: str = "the default trust list (local keys only)",
    ) -> None:
        self.rules = list(rules)
        self.local_keys = local_keys
        self.keys_dir = keys_dir if keys_dir is not None else default_key_path().parent
        self.source = source
        self._scanned: tuple[int, int] | None = None
        self._local: frozenset[str] = frozenset()

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> TrustPolicy:
        """The trust list at ``path``, else ``$WEFT_TRUST``, else ``trust.yaml`` if present.

        Without any, the default: local keys only. Raises ``DefinitionError``
        naming the file (and the line, for YAML errors) when it is unusable;
        a file named explicitly must exist.
        """
        explicit = path if path is not None else os.environ.get(TRUST_ENV) or None
        if explicit is None:
            default = default_trust_path()
            if not default.is_file():
                return cls()
            explicit = default
        return cls.from_file(explicit)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> TrustPolicy:
        from weft.workflows.yaml_io import loads_yaml, read_yaml_file

        name = str(path)
        if not Path(path).is_file():
            raise DefinitionError.single(f"trust list {name}: no such file")
        data = loads_yaml(read_yaml_file(path, what="trust list"), file=name)
        try:
            parsed = TrustFile.model_validate({} if data is None else data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'top level'}: "
                f"{e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
            raise DefinitionError.single(f"trust list {name}: {problems}") from None
        return cls(parsed.allow, local_keys=parsed.local_keys, source=f"trust list {name}")

    # -- verdicts ----------------------------------------------------------------------

    def judge(self, card: AgentCard, signature: CardSignature) -> Trust:
        """Which of ``card``'s actions may be called, given its checked ``signature``.

        The card was read from ``cards/{card.agent_id}`` (the registry refuses
        a card on another agent's topic), so ``card.agent_id`` is the broker
        user that published it wherever the ACL ties the two.
        """
        signer = signature.signer
        if signer is not None and signer in self.local():
            return Trust(None, signer, f"local key {short_key(signer)}")
        allowed: set[str] = set()
        reasons: set[str] = set()
        for spec in card.actions:
            pool = card.pools.get(spec.name)
            for rule in self.rules:
                reason = rule.covers(spec.name, pool) and rule.admits(signer, card.agent_id)
                if reason:
                    allowed.add(spec.name)
                    reasons.add(reason)
                    break
        refused = [spec.name for spec in card.actions if spec.name not in allowed]
        if not refused:
            return Trust(None, signer, ", ".join(sorted(reasons)) or "serves nothing")
        if signer is None:
            why = signature.problem or "unsigned card"
        else:
            why = f"key {short_key(signer)} is not trusted for {', '.join(map(repr, refused))}"
        return Trust(frozenset(allowed), signer, why)

    def local(self) -> frozenset[str]:
        """Public keys of the private keys in ``keys_dir`` (re-read when it changes)."""
        if not self.local_keys:
            return frozenset()
        try:
            stat = self.keys_dir.stat()
        except OSError:
            return frozenset()
        stamp = (stat.st_mtime_ns, stat.st_ino)
        if stamp != self._scanned:
            self._scanned = stamp
            self._local = frozenset(self._read_local())
        return self._local

    def _read_local(self) -> list[str]:
        keys = []
        for path in sorted(self.keys_dir.glob("*.key")):
            try:
                keys.append(AgentKey.load(path).public_key)
            except Exception as exc:  # an unreadable file trusts nothing, breaks nothing
                log.warning("ignoring local key %s: %s", path, exc)
        return keys

    def hint(self) -> str:
        """How to trust an agent, for messages about untrusted ones."""
        return (
            f"to trust an agent, add its public key ('weft keys show' where it runs) to "
            f"{self.source_file()}; unsigned cards come from weft versions before card "
            "signing or from clients that do not sign (sign them: docs/protocol.md, "
            "'Signed cards'; or, on a development broker, admit them with 'unsigned: true' "
            "for their actions: docs/security.md, 'Who may serve what')"
        )

    def source_file(self) -> str:
        explicit = os.environ.get(TRUST_ENV)
        if self.source.startswith("trust list "):
            return self.source.removeprefix("trust list ")
        return explicit or str(default_trust_path())
