"""Keeping secrets out of everything weft writes down: traces, the journal, logs, exports.

Two rules, applied to values before they are stored:

- a value under a *sensitive key* (``api_key``, ``password``, ``token``,
  ``authorization``... in any letter case, at any depth of nested dicts) is
  replaced by ``[REDACTED]``;
- a *registered secret* (``register_secret``: a configured API key, a broker
  password) is replaced wherever it appears, even inside a longer string, as
  are bearer tokens and passwords in URLs (``mqtt://user:pw@host``).

What gets registered: values of environment variables whose names look secret
(``OPENAI_API_KEY``, ``*_TOKEN``, ``*_PASSWORD``...), the first time the process
redacts anything; every string under a sensitive key of a call's arguments
(``register_arguments``, called by the engine before each call and by an agent
host for each call it serves) or of a run's inputs; and every string masked in
place under a sensitive key when something is written down, if it looks like a
key or a password (``looks_secret``). So a secret that a tool echoes into its
output or an error message, or that is passed on from one node to the next
under an innocent key, is still caught. Registration is process-wide and lasts
as long as the process: masking is about what is recorded, never about what
actions compute with. When nothing is registered, checking a text for secrets
costs one truth test (no needles), so the records of a run without secrets pay
nothing for the feature.

``dumps`` is the hot path: it encodes to JSON first and only walks the value
when cheap checks on the encoded text (``needs_walk``) say something may need
redacting. The trade-off: a journaled output that held a secret is replayed
masked when a run is resumed, because the secret was never written down.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

MASK = "[REDACTED]"

#: Keys whose values are never written down (matched case-insensitively anywhere in the key,
#: except ``token`` which must end the key so that ``prompt_tokens`` stays visible).
SENSITIVE_KEY = re.compile(
    r"pass(?:word|wd|phrase)|^pass$|^pwd$|secret|api[-_]?key|access[-_]?key|private[-_]?key"
    r"|authorization|credential|cookie|session[-_]?id|token$|^auth$",
    re.IGNORECASE,
)

#: Lower-case fragments at least one of which is in every key ``SENSITIVE_KEY`` matches; keep
#: the two in step. Small JSON texts are screened with them before their keys are looked at.
_KEY_HINTS = (
    "pass",
    "pwd",
    "secret",
    "api",
    "access",
    "private",
    "auth",
    "credential",
    "cookie",
    "session",
    "token",
)

#: Names of environment variables whose values are registered as secrets.
SENSITIVE_ENV = re.compile(
    r"api[-_]?key|secret|token|password|passwd|credential|private[-_]?key|access[-_]?key",
    re.IGNORECASE,
)

#: Secret-shaped text masked inside strings: bearer tokens, URL passwords, OpenAI-style keys,
#: and ``password=...`` / ``"api_key": "..."`` pairs inside free text or embedded JSON.
_TEXT_PATTERNS = re.compile(
    r"(?P<bearer>(?i:bearer)\s+)[A-Za-z0-9._~+/-]{8,}=*"
    r"|(?P<url>://[^/\s:@\"']+:)[^/\s@\"']+(?=@)"
    r"|sk-[A-Za-z0-9_-]{16,}"
    r"|(?P<pair>(?i:pass(?:word|wd|phrase)?|secret|api[-_]?key|token|authorization)"
    r"\\?[\"']?\s*[:=]\s*\\?[\"']?(?:(?i:bearer|basic)\s+)?)[^\s\"'\\,;&}]+"
)
#: Fragments that make a string worth running ``_TEXT_PATTERNS`` over.
_TEXT_HINTS = ("bearer", "://", "sk-", "pass", "secret", "key", "token", "authorization")
#: Shortest value registered as a secret: masking shorter ones would garble ordinary text.
MIN_SECRET = 4
#: Values never registered, whatever key they are under: placeholders, not secrets.
_NOT_SECRETS = frozenset(
    {"true", "false", "none", "null", "yes", "no", "basic", "bearer", MASK.lower()}
)
#: Types walked when looking for sensitive keys in arguments; anything else is a leaf.
_CONTAINERS = (dict, list, tuple)
_LISTS = (list, tuple)
_SCALARS = frozenset({str, int, float, bool, type(None)})
#: Most object keys whose verdict (sensitive or not) is remembered; then the cache restarts.
_MAX_CACHED_KEYS = 4096


def is_sensitive_key(key: str) -> bool:
    """True when values under ``key`` must not be stored."""
    return SENSITIVE_KEY.search(key) is not None


def _only_scalars(items: list[Any] | tuple[Any, ...]) -> bool:
    """Whether a list holds no dict or list (most do not): a loop for a few items, C for many."""
    if len(items) > 16:
        return _SCALARS.issuperset(map(type, items))
    for item in items:  # noqa: SIM110 (a generator in all() is twice as slow here)
        if item.__class__ not in _SCALARS:
            return False
    return True


def looks_secret(value: str) -> bool:
    """Whether a string found under a sensitive key looks like a key or a password: at
    least 8 characters, no space, not only letters (``sk-...``, ``hunter22``, not
    ``required``)."""
    value = value.strip()
    return len(value) >= 8 and not value.isalpha() and not any(c.isspace() for c in value)


def json_default(value: Any) -> Any:
    """JSON fallback: pydantic models as their JSON dump, sets as lists, else ``str``."""
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def make_encoder(default: Callable[[Any], Any]) -> Callable[[Any], str]:
    """A compact JSON encoder (non-ASCII kept) with ``default`` for unknown objects.

    orjson does the work: it is several times faster than the standard
    library, and encoding is most of what tracing and the journal cost per
    node. Enums, tuples and datetimes are encoded natively; dataclasses go to
    ``default`` (weft's own carry their own JSON forms there). What
    orjson refuses (integers past 64 bits, non-string keys it cannot convert,
    lone surrogates, nesting past 254 levels) goes to the standard library's C
    encoder with the same ``default``, so any value still encodes. Neither
    checks for cycles: a circular structure raises ``ValueError`` or
    ``RecursionError``.
    """
    from json import encoder as json_encoder

    import orjson

    make = getattr(json_encoder, "c_make_encoder", None)
    slow: Callable[[Any], str]
    if make is None:  # pragma: no cover - CPython always has _json
        slow = json.JSONEncoder(
            default=default, separators=(",", ":"), ensure_ascii=False, check_circular=False
        ).encode
    else:
        stdlib = make(
            None, default, json_encoder.encode_basestring, None, ":", ",", False, False, True
        )

        def slow(value: Any) -> str:
            return "".join(stdlib(value, 0))

    dumps = orjson.dumps
    options = orjson.OPT_PASSTHROUGH_DATACLASS
    # Converting non-string keys costs orjson a third more on every dict: only on retry.
    retry_options = options | orjson.OPT_NON_STR_KEYS

    def encode(value: Any) -> str:
        try:
            return dumps(value, default, options).decode()
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            pass
        try:
            return dumps(value, default, retry_options).decode()
        except TypeError:
            return slow(value)

    return encode


#: ``encode(value) -> str``: compact JSON, non-ASCII kept, unknown objects via ``json_default``.
encode = make_encoder(json_default)


class Redactor:
    """The set of known secrets and the rules above. Thread-safe to register, cheap to apply."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._needles: tuple[str, ...] = ()
        self._pattern: re.Pattern[str] | None = None
        self._key_verdicts: dict[str, bool] = {}
        self._innocent_keys: set[Any] = set()
        #: Sensitive or not, by object key, for ``register_arguments`` (bounded).
        self._arg_keys: dict[Any, bool] = {}
        for secret in secrets:
            self.register_secret(secret)

    @property
    def secrets(self) -> frozenset[str]:
        return self._secrets

    def register_secret(self, value: str) -> None:
        """Redact ``value`` wherever it appears from now on. Values under ``MIN_SECRET``
        characters (or ``true``, ``none``, ``[REDACTED]``...) are ignored: masking them
        would garble ordinary text."""
        if value in self._secrets:  # already known: the common case, without the lock
            return
        value = value.strip()
        if len(value) < MIN_SECRET or value.lower() in _NOT_SECRETS:
            return
        with self._lock:
            if value in self._secrets:
                return
            secrets = set(self._secrets)
            secrets.add(value)
            # As it appears inside JSON text, with and without ASCII escapes.
            for escaped in (encode(value)[1:-1], json.dumps(value)[1:-1]):
                if escaped != value:
                    secrets.add(escaped)
            ordered = sorted(secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
            self._needles = tuple(ordered)
            self._secrets = frozenset(secrets)

    def register_env(self, environ: Mapping[str, str] | None = None) -> None:
        """Register the values of environment variables whose names look secret."""
        env = os.environ if environ is None else environ
        for name, value in env.items():
            if SENSITIVE_ENV.search(name) and value:
                self.register_secret(value)

    def register_sensitive(self, value: Any) -> None:
        """Register every string found under a sensitive key in ``value`` (e.g. run inputs)."""
        if isinstance(value, dict):
            self.register_arguments(value)
        elif isinstance(value, _LISTS) and not _only_scalars(value):
            for item in value:
                if isinstance(item, _CONTAINERS):
                    self.register_sensitive(item)

    def register_arguments(
        self, arguments: Mapping[Any, Any], secret_names: Collection[str] = (), *, deep: bool = True
    ) -> None:
        """Register the strings under sensitive keys of ``arguments``, at any depth, and
        the strings of the top-level arguments named in ``secret_names`` (parameters an
        action's schema marks secret). ``deep=False`` looks at the top-level keys only.

        Called before every call, so it is cheap when there is nothing to find: one
        cached dictionary lookup per key, and a walk only into dicts and lists.
        """
        verdicts = self._arg_keys
        for key, item in arguments.items():
            sensitive = verdicts.get(key)
            if sensitive is None:
                sensitive = isinstance(key, str) and is_sensitive_key(key)
                if len(verdicts) >= _MAX_CACHED_KEYS:
                    verdicts.clear()
                verdicts[key] = sensitive
            if sensitive or (secret_names and key in secret_names):
                self.register_leaves(item)
            elif not deep or item.__class__ in _SCALARS:
                continue
            elif isinstance(item, dict):
                self.register_arguments(item)
            elif isinstance(item, _LISTS) and not _only_scalars(item):
                self.register_sensitive(item)

    def register_leaves(self, value: Any, *, only_secret_looking: bool = False) -> None:
        """Register every string in ``value`` (a string, or dicts and lists of them).

        ``only_secret_looking``: only strings that look like keys or passwords
        (``looks_secret``), for values found under a sensitive key of something
        recorded, where ``{"auth": "required"}`` should not mask every "required".
        """
        if isinstance(value, str):
            if not only_secret_looking or looks_secret(value):
                self.register_secret(value)
        elif isinstance(value, dict):
            for item in value.values():
                self.register_leaves(item, only_secret_looking=only_secret_looking)
        elif isinstance(value, _LISTS):
            for item in value:
                self.register_leaves(item, only_secret_looking=only_secret_looking)

    # -- applying ---------------------------------------------------------------------

    def text(self, text: str) -> str:
        """``text`` with registered secrets, bearer tokens and URL passwords masked."""
        pattern = self._pattern
        if pattern is not None and any(n in text for n in self._needles):
            text = pattern.sub(MASK, text)
        lowered = text.lower()
        if any(h in lowered for h in _TEXT_HINTS):
            text = _TEXT_PATTERNS.sub(_mask_match, text)
        return text

    def value(self, value: Any) -> Any:
        """A copy of ``value`` (JSON-like) with sensitive keys and secrets in strings masked.

        Objects that are not dicts, lists or strings (pydantic models...) are
        converted to their JSON form first, so nothing escapes the walk. What
        is masked under a sensitive key is registered too when it looks like a
        secret (``looks_secret``), so that it is masked wherever else it turns
        up afterwards.
        """
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            masked: dict[Any, Any] = {}
            for key, item in value.items():
                if isinstance(key, str) and is_sensitive_key(key) and item is not None:
                    self.register_leaves(item, only_secret_looking=True)
                    masked[key] = MASK
                else:
                    masked[key] = self.value(item)
            return masked
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.value(json_default(value))

    def replace_secrets(self, value: Any) -> Any:
        """``value`` with registered secrets masked in its strings, and nothing else changed.

        Unlike ``value``, keys are kept and nothing is masked by shape: this is for
        data that goes on to someone who needs it (an agent's result on its way back
        to the caller), not for a record. ``value`` itself when nothing is registered.
        """
        pattern = self._pattern
        if pattern is None:
            return value
        if isinstance(value, str):
            if any(n in value for n in self._needles):
                return pattern.sub(MASK, value)
            return value
        if isinstance(value, dict):
            return {key: self.replace_secrets(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.replace_secrets(item) for item in value]
        return value

    def needs_walk(self, encoded: str) -> bool:
        """Whether compact JSON text may hold a sensitive key, a secret or a URL password.

        Cheap enough for every span: substring checks for registered secrets
        and ``://``, then a look at each object key (each ``":`` in the text)
        with verdicts cached per key. False positives only cost a walk.
        """
        return self.may_hold_secret(encoded) or self._has_sensitive_key(encoded)

    def may_hold_secret(self, text: str) -> bool:
        """Whether ``text`` holds a registered secret, or a URL that may carry a password."""
        needles = self._needles
        if needles and any(n in text for n in needles):
            return True
        # A one-character search is a memchr, many times faster than looking for "://".
        return "/" in text and "://" in text

    def any_sensitive_key(self, keys: Iterable[Any]) -> bool:
        """Whether any of these object keys is sensitive; innocent keys are remembered."""
        keys = list(keys)
        if self._innocent_keys.issuperset(keys):  # the usual case: all seen before
            return False
        unknown = set(keys)
        unknown -= self._innocent_keys
        for key in unknown:
            if is_sensitive_key(str(key)):
                return True
            self._innocent_keys.add(key)
        return False

    def _has_sensitive_key(self, encoded: str) -> bool:
        if len(encoded) <= 1024:
            # Small texts (journal rows): one pass of substring checks usually settles it.
            lowered = encoded.lower()
            if not any(hint in lowered for hint in _KEY_HINTS):
                return False
        # In compact JSON every object key is followed by '":'. Splitting there (in C)
        # leaves each key at the end of a piece, after its opening quote; the
        # character before that quote is kept so that a key holding an escaped quote
        # (a backslash there) is never taken for a shorter, innocent one.
        pieces = encoded.split('":')
        pieces.pop()
        if not pieces:
            return False
        verdicts = self._key_verdicts
        tails = {piece[piece.rfind('"') - 1 :] for piece in pieces}
        for tail in tails.difference(verdicts):
            # A well-formed tail is one character, a quote, then the key; anything else
            # (an escape, a quote inside a string) is suspect and gets the walk.
            verdicts[tail] = (
                len(tail) < 2 or tail[1] != '"' or "\\" in tail or is_sensitive_key(tail[2:])
            )
        return any(map(verdicts.__getitem__, tails))

    def dumps(self, value: Any) -> str:
        """``value`` as compact JSON with everything sensitive masked."""
        text = encode(value)
        if self.needs_walk(text):
            text = encode(self.value(value))
        return text


def _mask_match(match: re.Match[str]) -> str:
    prefix = match.group("bearer") or match.group("url") or match.group("pair") or ""
    return prefix + MASK


_default_redactor: Redactor | None = None
_default_lock = threading.Lock()


def redactor() -> Redactor:
    """The process-wide redactor, with secret-looking environment variables registered."""
    global _default_redactor
    current = _default_redactor
    if current is None:
        with _default_lock:
            current = _default_redactor
            if current is None:
                current = Redactor()
                current.register_env()
                _default_redactor = current
    return current


def register_secret(value: str) -> None:
    """Mask ``value`` in every trace, journal entry, export and log line from now on."""
    redactor().register_secret(value)


def register_sensitive(value: Any) -> None:
    """Register the strings under sensitive keys in ``value`` (for run inputs)."""
    redactor().register_sensitive(value)


def register_arguments(arguments: Mapping[Any, Any], secret_names: Collection[str] = ()) -> None:
    """Register a call's secret arguments: see ``Redactor.register_arguments``."""
    redactor().register_arguments(arguments, secret_names)


def dumps(value: Any) -> str:
    """Compact JSON of ``value`` with sensitive keys and registered secrets masked."""
    return redactor().dumps(value)
